"""Rules at a transpose: it moves through products, scalar multiples and inverses toward the
leaves, and goes where it changes nothing (Xᵀᵀ = X, Sᵀ = S, cᵀ = c). A transposed sum stays
whole, as the textbook writes it, (Wx − y)ᵀ, unless its terms are transposes themselves."""

from __future__ import annotations

from ..expr import Call, Expr, call
from ..ops import broadcast_to
from .engine import first_of, rule
from .forms import _t, is_op, is_symmetric, transposes


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
def transpose_product(e: Expr):
    """(A₁A₂⋯Aₖ)ᵀ = Aₖᵀ⋯A₂ᵀA₁ᵀ.
    Terminates: the transpose moves below the product, closer to the leaves."""
    x = _inner(e)
    if not is_op(x, "matmul"):
        return None
    return call("matmul", *(a.T for a in reversed(x.args)))


@rule("transpose")
def transpose_scaled(e: Expr):
    """(c·A)ᵀ = c·Aᵀ and (c·A ⊙ B)ᵀ = c·Aᵀ ⊙ Bᵀ for a scalar c; (A / c)ᵀ = Aᵀ / c.
    Terminates: the transpose moves below the product or quotient, closer to the leaves."""
    x = _inner(e)
    if is_op(x, "mul") and any(a.shape.is_scalar for a in x.args):
        return call("mul", *(a if a.shape.is_scalar else a.T for a in x.args))
    if is_op(x, "div") and x.args[1].shape.is_scalar:
        return call("div", x.args[0].T, x.args[1])
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


@rule("transpose")
def transpose_inverse(e: Expr):
    """(X⁻¹)ᵀ = (Xᵀ)⁻¹ (shown X⁻ᵀ), and so ((Xᵀ)⁻¹)ᵀ = X⁻¹.
    Terminates: the transpose moves below the inverse, closer to the leaves, or goes."""
    x = _inner(e)
    if not is_op(x, "inv"):
        return None
    y = x.args[0]
    return call("inv", y.args[0] if is_op(y, "transpose") else y.T)


@rule("transpose")
def transpose_constant(e: Expr):
    """0ᵀ = 0, 𝟙ᵀ = 𝟙 and (c𝟙𝟙ᵀ)ᵀ = c𝟙𝟙ᵀ, of the transposed shape.
    Terminates: a transpose goes."""
    x = _inner(e)
    if is_op(x, "zeros", "ones"):
        return call(x.op, params=(x.shape.cols, x.shape.rows))
    if is_op(x, "broadcast"):
        return broadcast_to(x.args[0], x.shape.T)
    return None


@rule("transpose")
def transpose_kron(e: Expr):
    """(A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ.
    Terminates: the transpose moves below the Kronecker product, closer to the leaves."""
    x = _inner(e)
    if not is_op(x, "kron"):
        return None
    return call("kron", _t(x.args[0]), _t(x.args[1]))


TRANSPOSE_RULES = (drop_transpose, transpose_product, transpose_scaled, transpose_sum,
                   transpose_inverse, transpose_constant, transpose_kron)


def push_transpose(e: Expr) -> Expr | None:
    """One step of the transpose rules at e (None when none applies): for the emitter, which
    pushes a transpose it is about to print."""
    if not isinstance(e, Call) or e.op.name != "transpose":
        return None
    return first_of(TRANSPOSE_RULES, e)
