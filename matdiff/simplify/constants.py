"""Rules for numbers and constant matrices: arithmetic on numbers folds, and the identity I,
the ones 𝟙 and a broadcast scalar c𝟙𝟙ᵀ (m×n) go through the ops that are not entrywise with
their sizes as numbers (sum(c𝟙𝟙ᵀ) = m·n·c), and through the entrywise ones as the scalar."""

from __future__ import annotations

import math

from ..expr import Const, Expr, call
from ..ops import broadcast_to, eye, ones, size
from ..ops.arith import is_broadcast
from .engine import rule
from .forms import is_op

# -- numbers ----------------------------------------------------------------------------------


@rule(fact="scalar_identity")
def unwrap_scalar(e: Expr):
    """cᵀ = sum(c) = tr(c) = c for a scalar c (ops whose record says f(c) = c).
    Terminates: the node count drops."""
    x = e.args[0]
    return x if x.shape.is_scalar else None


@rule(fact="elementwise")
def fold_function(e: Expr):
    """f(c) for an entrywise f and a number c, by the function's own numeric definition, where the
    result is an integer or the number itself up to sign: |−2| = 2, exp(0) = 1, relu(−3) = 0;
    exp(1) and √2 stay as written.
    Terminates: the node count drops."""
    if not isinstance(e.args[0], Const):
        return None
    import numpy as np
    from ..evaluate import Evaluation
    with np.errstate(all="ignore"):
        v = float(e.op.numeric(Evaluation({}), e, np.full((1, 1), float(e.args[0].value)))[0, 0])
    exact = math.isfinite(v) and (v.is_integer() or abs(v) == abs(e.args[0].value))
    return Const(v) if exact else None


@rule("div")
def fold_quotient(e: Expr):
    """a / b of numbers: 2 / 4 = 0.5, 6 / 3 = 2 (an int stays one), unless it leaves the floats.
    Terminates: the node count drops."""
    a, b = e.args
    if not (isinstance(a, Const) and isinstance(b, Const)) or b.value == 0:
        return None
    q = a.value / b.value
    if not math.isfinite(q):
        return None
    exact = q == int(q) and isinstance(a.value, int) and isinstance(b.value, int)
    return Const(a.value // b.value if exact else q)


@rule("power")
def fold_power(e: Expr):
    """a ** b of numbers: 3 ** 2 = 9, unless the result is complex or leaves the floats (10 ** 400).
    Terminates: the node count drops."""
    a, b = e.args
    if not (isinstance(a, Const) and isinstance(b, Const)):
        return None
    if abs(a.value) > 1 and b.value > 1 and b.value * math.log2(abs(a.value)) > 1100:
        return None   # past float range; computing it exactly could take forever (3 ** 3 ** 3 ** 3)
    try:
        v = a.value ** b.value
        finite = isinstance(v, (int, float)) and math.isfinite(v)   # an int past float range overflows here
    except (OverflowError, ZeroDivisionError):
        return None
    return Const(v) if finite else None


@rule("power")
def drop_unit_power(e: Expr):
    """X¹ = X; X⁰ = 𝟙 entrywise (1 for a scalar).
    Terminates: the node count drops."""
    k = e.args[1]
    if k == Const(1):
        return e.args[0]
    if k == Const(0):
        return Const(1) if e.shape.is_scalar else ones(e.shape)
    return None


# -- I, 𝟙 and c𝟙𝟙ᵀ under the ops that are not entrywise --------------------------------------------

@rule("sum")
def count_sum(e: Expr):
    """sum(c𝟙𝟙ᵀ) = m·n·c and sum(𝟙𝟙ᵀ) = m·n for an m×n shape; sum(Iₙ) = n.
    Terminates: the sum goes (the number of sum nodes drops)."""
    x = e.args[0]
    if not is_op(x, "broadcast", "ones", "eye"):
        return None
    scale = size(x.shape.rows) if is_op(x, "eye") else size(x.shape.rows) * size(x.shape.cols)
    return scale * x.args[0] if is_broadcast(x) else scale


@rule("trace")
def count_trace(e: Expr):
    """tr(c𝟙𝟙ᵀ) = n·c, tr(𝟙𝟙ᵀ) = tr(Iₙ) = n for n×n.
    Terminates: the trace goes (the number of trace nodes drops)."""
    x = e.args[0]
    if not is_op(x, "broadcast", "ones", "eye"):
        return None
    return size(x.shape.rows) * x.args[0] if is_broadcast(x) else size(x.shape.rows)


@rule("matmul")
def spread_matmul(e: Expr):
    """A (c𝟙𝟙ᵀ) B = c·A 𝟙ₘ𝟙ₙᵀ B: a broadcast factor is its scalar times 𝟙 (m×1) 𝟙ᵀ (1×n), and
    the product takes the scalar out.
    Terminates: the product's broadcast factors go (each becomes a scalar and constant 𝟙s)."""
    if not any(is_broadcast(a) for a in e.args):
        return None
    factors = []
    for f in e.args:
        if is_broadcast(f):
            m, n = f.shape
            parts = [ones((m, 1))] if m != 1 else []
            parts += [ones((1, n))] if n != 1 else []
            factors.append(f.args[0] * (parts[0] if len(parts) == 1 else call("matmul", *parts)))
        else:
            factors.append(f)
    return call("matmul", *factors)


@rule("vec")
def vec_of_constant(e: Expr):
    """vec(c𝟙𝟙ᵀ) = c𝟙 and vec(𝟙𝟙ᵀ) = 𝟙, of the m·n entries.
    Terminates: the vec goes."""
    x = e.args[0]
    if is_broadcast(x):
        return broadcast_to(x.args[0], e.shape)
    if is_op(x, "ones"):
        return ones(e.shape)
    return None


@rule("diag")
def diag_of_constant(e: Expr):
    """diag(c𝟙) = c·I and diag(𝟙) = I.
    Terminates: the diag goes."""
    x = e.args[0]
    if is_broadcast(x):
        return x.args[0] * eye(e.shape.rows)
    if is_op(x, "ones"):
        return eye(e.shape.rows)
    return None


@rule("diagonal")
def diagonal_of_constant(e: Expr):
    """The diagonal of c𝟙𝟙ᵀ (n×n) is c𝟙.
    Terminates: the diagonal goes."""
    x = e.args[0]
    return broadcast_to(x.args[0], e.shape) if is_broadcast(x) else None


@rule("power", fact="elementwise")
def lift_broadcast(e: Expr):
    """f(c𝟙𝟙ᵀ) = f(c)𝟙𝟙ᵀ for an entrywise f, and (c𝟙𝟙ᵀ)ᵖ = cᵖ𝟙𝟙ᵀ.
    Terminates: the op moves inside the broadcast, onto a scalar: one matrix-valued node fewer."""
    x = e.args[0]
    if not is_broadcast(x):
        return None
    return broadcast_to(call(e.op, x.args[0], *e.args[1:]), e.shape)

