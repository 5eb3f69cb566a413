"""Rules at a function or a linear map: known compositions (log exp, softplus, diag diag),
reductions (sum, trace) through transposes and sums, scalar factors out of the ops that are
linear and say so, and the Kronecker adjoints (blockdot, blocksum, unvec) where they contract."""

from __future__ import annotations

from ..expr import Call, Expr, call
from ..ops import broadcast_to
from ..ops.arith import is_broadcast
from .engine import rule
from .forms import _t, is_one, is_op, size_shown

# -- compositions -------------------------------------------------------------------------------


@rule("log")
def log_of_exp(e: Expr):
    """log(exp(z)) = z.
    Terminates: the node count drops."""
    x = e.args[0]
    return x.args[0] if is_op(x, "exp") else None


@rule("log")
def recognize_softplus(e: Expr):
    """log(1 + exp(z)) = softplus(z), with 1 a number, 𝟙 or 1 broadcast.
    Terminates: the node count drops."""
    x = e.args[0]
    if not (is_op(x, "add") and len(x.args) == 2):
        return None
    one = [i for i, t in enumerate(x.args) if is_one(t)]
    other = x.args[1 - one[0]] if one else None
    return call("softplus", other.args[0]) if is_op(other, "exp") else None


@rule("diagonal")
def diagonal_of_diag(e: Expr):
    """The diagonal of diag(x) is x.
    Terminates: the node count drops."""
    x = e.args[0]
    return x.args[0] if is_op(x, "diag") else None


@rule("diagonal")
def diagonal_of_outer(e: Expr):
    """The diagonal of u vᵀ is u ⊙ v (of u vᵀ M: u ⊙ Mᵀv), for a column u.
    Terminates: the diagonal goes, and no rule makes one."""
    x = e.args[0]
    if not is_op(x, "matmul"):
        return None
    u, *rest = x.args
    return u * _t(call("matmul", *rest)) if u.shape.is_vector else None


# -- linear maps ----------------------------------------------------------------------------------

@rule(fact="scalars_out")
def pull_scalars(e: Expr):
    """f(c·A) = c·f(A) for an op linear in that argument whose record lets scalars out
    (`scalars_out`: sum, trace, vec, kron, …): tr(−aA) = −a tr(A), vec(2X) = 2 vec(X); diag keeps
    its scalars inside, as the textbook writes diag(−x / y²).
    Terminates: the scalar factors move out past the op, and no rule moves them back in."""
    linear = _linear_args(e)
    scaled_args = [i for i, a in enumerate(e.args) if i in linear and is_op(a, "mul")
                   and any(f.shape.is_scalar for f in a.args) and not a.shape.is_scalar]
    if not scaled_args:
        return None
    i = scaled_args[0]
    inner = e.args[i].args
    rest = [a for a in inner if not a.shape.is_scalar]
    arg = rest[0] if len(rest) == 1 else call("mul", *rest)
    return call("mul", *(a for a in inner if a.shape.is_scalar),
                call(e.op, *e.args[:i], arg, *e.args[i + 1:], params=e.params))


def _linear_args(e: Call) -> tuple:
    """The arguments the op is linear in (each one separately, or jointly)."""
    return tuple(range(len(e.args))) if e.op.linear in ("multi", "all") else e.op.linear


@rule("sum")
def sum_of_product(e: Expr):
    """sum(a ⊙ b) = aᵀb for columns a, b (the smaller one transposed).
    Terminates: the sum of a product goes (sum_by_ones makes a sum back only from 𝟙ᵀx, a factor fewer)."""
    x = e.args[0]
    if not (is_op(x, "mul") and len(x.args) == 2 and all(a.shape.is_vector for a in x.args)):
        return None
    a, b = x.args
    if size_shown(b) < size_shown(a):
        a, b = b, a
    return call("matmul", _t(a), b)


@rule(fact="transpose_invariant")
def reduce_transpose(e: Expr):
    """sum(Xᵀ) = sum(X), tr(Xᵀ) = tr(X) (ops whose record says f(Xᵀ) = f(X)).
    Terminates: a transpose goes."""
    x = e.args[0]
    return call(e.op, x.args[0]) if is_op(x, "transpose") else None


@rule("trace", "sum")
def distribute_reduction(e: Expr):
    """tr(A + B) = tr(A) + tr(B), sum(A + B) = sum(A) + sum(B).
    Terminates: the reduction moves below the sum, and no rule moves one back above."""
    x = e.args[0]
    return call("add", *(call(e.op, t) for t in x.args)) if is_op(x, "add") else None


# -- Kronecker adjoints ------------------------------------------------------------------------------

@rule("unvec")
def unvec_of_vec(e: Expr):
    """unvec(vec(X)) = X for the shape of X.
    Terminates: the node count drops."""
    x = e.args[0]
    return x.args[0] if is_op(x, "vec") and x.args[0].shape == e.shape else None


def _blocks(e: Expr) -> tuple:
    """(the weights, the block matrix) of blockdot(M, B) or blocksum(A, M)."""
    return (e.args[1], e.args[0]) if is_op(e, "blockdot") else e.args


@rule("blockdot", "blocksum")
def contract_broadcast_blocks(e: Expr):
    """blockdot(c𝟙, B) = c·sum(B) 𝟙 and blocksum(A, c𝟙) = c·sum(A) 𝟙: every block is c times the ones.
    Terminates: the adjoint goes, and no rule makes one."""
    weights, whole = _blocks(e)
    return broadcast_to(whole.args[0] * call("sum", weights), e.shape) if is_broadcast(whole) else None


@rule("blockdot", "blocksum")
def contract_kron_blocks(e: Expr):
    """blockdot(A ⊗ B′, B) = ⟨B′, B⟩ A and blocksum(A, A′ ⊗ B) = ⟨A, A′⟩ B for factors of matching
    shapes: the blocks of A ⊗ B′ are aᵢⱼ B′.
    Terminates: the adjoint goes, and no rule makes one."""
    weights, whole = _blocks(e)
    if not is_op(whole, "kron"):
        return None
    a, b = whole.args
    if is_op(e, "blockdot") and b.shape == weights.shape:
        return call("sum", b * weights) * a
    if is_op(e, "blocksum") and a.shape == weights.shape:
        return call("sum", a * weights) * b
    return None
