"""Rewrite to canonical textbook form: an ordered list of small named rules, each a pure
Expr → Expr | None whose docstring gives the identity and why it terminates, indexed by the op
it rewrites (engine.py). simplify() runs them to a fixpoint, children first, asserting that
every rewrite keeps the shape.

    engine.py      the @rule index and the fixpoint driver
    forms.py       recognizers, op facts, coefficients, the structural keys that order terms, _t
    constants.py   numbers fold; I, 𝟙 and c𝟙𝟙ᵀ under sum, trace, @, vec, diag, f
    transposes.py  a transpose moves toward the leaves
    functions.py   log/exp/softplus, diag, vec, sum and trace, scalars out of linear ops, Kronecker adjoints
    sums.py        the normal forms of monomials and sums; factoring and expanding
    products.py    identity, zero, inverse and neighbouring factors of a matrix product
"""

from __future__ import annotations

from ..expr import Expr, stack_room
from . import engine
from .constants import (count_sum, count_trace, diag_of_constant, diagonal_of_constant, drop_unit_power,
                        fold_function, fold_power, fold_quotient, lift_broadcast, spread_matmul, unwrap_scalar,
                        vec_of_constant)
from .engine import MAX_REWRITES, rule
from .forms import (_t, fit, is_op, is_symmetric, is_zero, op_fact, scaled, split_coef, split_scalars,
                    zero_like)
from .functions import (contract_broadcast_blocks, contract_kron_blocks, diagonal_of_diag, diagonal_of_outer,
                        distribute_reduction, log_of_exp, pull_scalars, recognize_softplus, reduce_transpose,
                        sum_of_product, unvec_of_vec)
from .products import (cancel_inverse, cancel_inverse_product, diag_product, distribute_kron,
                       drop_identity_factors, kron_product, ones_diag, outer_ones, pull_sign, sum_by_ones,
                       vec_kron_product, zero_product)
from .sums import (collect_factors, collect_terms, distribute_constant, expand_products, factor_common,
                   factor_scalars, factor_terms, merge_diagonals)
from .transposes import drop_transpose, push_transpose, transpose_inward, transpose_scaled, transpose_sum

# The order in which the rules are tried at a node (each node sees only those of its op).
RULES = (
    # numbers
    unwrap_scalar, fold_function, fold_quotient, fold_power, drop_unit_power,
    # a transpose toward the leaves
    drop_transpose, transpose_inward, transpose_scaled, transpose_sum,
    # I, 𝟙 and c𝟙𝟙ᵀ through the ops
    count_sum, count_trace, spread_matmul, vec_of_constant, diag_of_constant, diagonal_of_constant,
    lift_broadcast,
    # Kronecker adjoints
    unvec_of_vec, contract_broadcast_blocks, contract_kron_blocks,
    # functions and linear maps
    log_of_exp, recognize_softplus, diagonal_of_diag, pull_scalars, sum_of_product,
    diagonal_of_outer, reduce_transpose, distribute_reduction,
    # the normal forms of monomials and sums
    collect_factors, collect_terms,
    # matrix products
    zero_product, drop_identity_factors, pull_sign, cancel_inverse, vec_kron_product, sum_by_ones,
    outer_ones, kron_product, distribute_kron, diag_product, ones_diag, cancel_inverse_product,
    # factoring and expanding sums
    merge_diagonals, distribute_constant, factor_common, expand_products, factor_scalars, factor_terms,
)


SIMPLIFY_FRAMES = 16   # the most Python frames the driver and its rules spend on one level


def simplify(e: Expr) -> Expr:
    """The canonical textbook form of e: RULES (as this module holds them when called) to a
    fixpoint."""
    with stack_room(e.depth(), SIMPLIFY_FRAMES):   # the driver recurses along the expression
        return engine.run(e, RULES)


def rules_by_op() -> dict[str, tuple[str, ...]]:
    """op name → the names of the rules tried at its nodes, in order (for reading)."""
    return engine.index_for(RULES).table()


__all__ = ["MAX_REWRITES", "RULES", "_t", "fit", "is_op", "is_symmetric", "is_zero", "op_fact", "push_transpose",
           "rule", "rules_by_op", "scaled", "simplify", "split_coef", "split_scalars", "zero_like",
           *(r.__name__ for r in RULES)]
