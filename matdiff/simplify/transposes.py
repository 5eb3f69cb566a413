"""Rules at a transpose: it moves through products, scalar multiples and inverses toward the
leaves, and goes where it changes nothing (Xᵀᵀ = X, Sᵀ = S, cᵀ = c). A transposed sum stays
whole, as the textbook writes it, (Wx − y)ᵀ, unless its terms are transposes themselves."""

from __future__ import annotations

from ..expr import Call, Expr, call
from .engine import first_of, rule
from .forms import _t, is_op, is_symmetric, op_fact, transposes


def _inner(e: Expr) -> Expr:
    return e.args[0]


@rule("transpose")
def drop_transpose(e: Expr):
    """Xᵀᵀ = X; Sᵀ = S for a known symmetric S (declared, I, diag(v), …); cᵀ = c for a scalar.
    Terminates: a transpose goes."""
    x = _inner(e)
    if x.shape.is_scalar or is_symmetric(x):
        return x
    if is_op(x, "transpose"):
        return x.args[0]
    return None


@rule("transpose")
def transpose_inward(e: Expr):
    """Xᵀ moved into X's arguments by what X's op declares (`Op.transposed`): (A₁⋯Aₖ)ᵀ = Aₖᵀ⋯A₁ᵀ,
    (X⁻¹)ᵀ = (Xᵀ)⁻¹ (shown X⁻ᵀ), (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ, (A / c)ᵀ = Aᵀ / c, 0ᵀ = 0, 𝟙ᵀ = 𝟙 and
    (c𝟙𝟙ᵀ)ᵀ = c𝟙𝟙ᵀ of the transposed shape. Sums and entrywise products have their own rules
    (transpose_scaled, transpose_sum): they are pushed only where that saves transposes.
    Terminates: the transpose moves below the op, closer to the leaves, or goes."""
    x = _inner(e)
    if not isinstance(x, Call) or x.op.transposed is None or op_fact(x.op, "transpose_if_fewer"):
        return None
    return x.op.transposed(x, _t)


@rule("transpose")
def transpose_scaled(e: Expr):
    """(c·A)ᵀ = c·Aᵀ and (c·A ⊙ B)ᵀ = c·Aᵀ ⊙ Bᵀ for a scalar c.
    Terminates: the transpose moves below the product, closer to the leaves."""
    x = _inner(e)
    if is_op(x, "mul") and any(a.shape.is_scalar for a in x.args):
        return call("mul", *(a if a.shape.is_scalar else a.T for a in x.args))
    return None


@rule("transpose")
def transpose_sum(e: Expr):
    """(Σ tᵢ)ᵀ = Σ tᵢᵀ and (⊙ tᵢ)ᵀ = ⊙ tᵢᵀ, taken only where the result holds fewer transposes:
    (xᵀ − yᵀ)ᵀ = x − y, while (Wx − y)ᵀ stays whole.
    Terminates: the number of transposes drops."""
    x = _inner(e)
    if not is_op(x, "add", "mul"):
        return None
    pushed = call(x.op, *(_t(a) for a in x.args))
    return pushed if transposes(pushed) < transposes(e) else None


TRANSPOSE_RULES = (drop_transpose, transpose_inward, transpose_scaled, transpose_sum)


def push_transpose(e: Expr) -> Expr | None:
    """One step of the transpose rules at e (None when none applies): for the emitter, which
    pushes a transpose it is about to print."""
    if not isinstance(e, Call) or e.op.name != "transpose":
        return None
    return first_of(TRANSPOSE_RULES, e)
