"""Rules at a matrix product A₁A₂⋯Aₖ: identity and zero factors, inverse pairs, and the
neighbours that multiply into one factor (𝟙ᵀx = sum(x), diag(a) diag(b) = diag(a ⊙ b),
(A ⊗ B)(C ⊗ D) = AC ⊗ BD, …). Each rule looks at adjacent factors, left to right."""

from __future__ import annotations

from ..expr import Expr, call
from ..ops import eye, ones
from ..ops.arith import split_negative
from .engine import rule
from .forms import _t, is_op, is_zero, split_scalars, zero_like


def _replace(e: Expr, i: int, by: list) -> Expr:
    """The product e with its factors i and i + 1 replaced by `by` (I when nothing is left)."""
    kept = [*e.args[:i], *by, *e.args[i + 2:]]
    return call("matmul", *kept) if kept else eye(e.shape.rows)


def _pairs(e: Expr):
    return ((i, e.args[i], e.args[i + 1]) for i in range(len(e.args) - 1))


def _conform(a: Expr, b: Expr) -> bool:
    return a.shape.cols == b.shape.rows


@rule("matmul")
def zero_product(e: Expr):
    """A 0 B = 0.
    Terminates: the node count drops."""
    return zero_like(e) if any(is_zero(f) for f in e.args) else None


@rule("matmul")
def drop_identity_factors(e: Expr):
    """A I = I A = A (I ⊗ I and K(m, 1) are I when built).
    Terminates: the number of factors drops."""
    kept = [f for f in e.args if not is_op(f, "eye")]
    if len(kept) == len(e.args):
        return None
    return call("matmul", *kept) if kept else eye(e.shape.rows)


@rule("matmul")
def pull_sign(e: Expr):
    """A(−B − C) = −A(B + C): a factor whose terms are all negated gives its sign to the product.
    Terminates: the factor's terms lose their minus signs (the negated terms in the product drop)."""
    for i, f in enumerate(e.args):
        if is_op(f, "add") and all(split_negative(t)[0] for t in f.args):
            return call("matmul", *e.args[:i], -call("add", *(split_negative(t)[1] for t in f.args)),
                        *e.args[i + 1:])
    return None


@rule("matmul")
def cancel_inverse(e: Expr):
    """X⁻¹ X = X X⁻¹ = I.
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if (is_op(l, "inv") and l.args[0] == r) or (is_op(r, "inv") and r.args[0] == l):
            return _replace(e, i, [eye(l.shape.rows)] if len(e.args) == 2 else [])
    return None


@rule("matmul")
def vec_kron_product(e: Expr):
    """vec(A)ᵀ (P ⊗ Q) = vec(Qᵀ A P)ᵀ, where Qᵀ A P is defined (Cookbook 520, transposed).
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if is_op(l, "transpose") and is_op(l.args[0], "vec") and is_op(r, "kron"):
            a, (p, q) = l.args[0].args[0], r.args
            if q.shape.rows == a.shape.rows and p.shape.rows == a.shape.cols:
                return _replace(e, i, [call("vec", _t(q) @ a @ p).T])
    return None


@rule("matmul")
def sum_by_ones(e: Expr):
    """𝟙ᵀx = xᵀ𝟙 = sum(x), for a product of the two alone.
    Terminates: the product goes (into a sum of one factor)."""
    if len(e.args) != 2:
        return None
    l, r = e.args
    if is_op(l, "ones") and l.shape.rows == 1 and r.shape.cols == 1:
        return call("sum", r)
    if is_op(r, "ones") and r.shape.cols == 1 and l.shape.rows == 1:
        return call("sum", l)
    return None


@rule("matmul")
def outer_ones(e: Expr):
    """𝟙ₘ𝟙ₙᵀ = the m×n matrix of ones.
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if is_op(l, "ones") and is_op(r, "ones") and l.shape.cols == 1:
            return _replace(e, i, [ones((l.shape.rows, r.shape.cols))])
    return None


@rule("matmul")
def kron_product(e: Expr):
    """(A ⊗ B)(C ⊗ D) = AC ⊗ BD where A, C and B, D conform.
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if is_op(l, "kron") and is_op(r, "kron") and _conform(l.args[0], r.args[0]) \
                and _conform(l.args[1], r.args[1]):
            return _replace(e, i, [call("kron", l.args[0] @ r.args[0], l.args[1] @ r.args[1])])
    return None


def _kron_pairs_conform(left: Expr, right: Expr) -> bool:
    """left right, one of them c·(P ⊗ Q), the other a Kronecker product, multiply by kron_product."""
    left, right = split_scalars(left)[1], split_scalars(right)[1]
    return is_op(left, "kron") and is_op(right, "kron") and _conform(left.args[0], right.args[0]) \
        and _conform(left.args[1], right.args[1])


@rule("matmul")
def distribute_kron(e: Expr):
    """(A ⊗ B)(c·C ⊗ D + E ⊗ F) = c·AC ⊗ BD + AE ⊗ BF, and so on the other side, where every pair
    conforms factor by factor.
    Terminates: the sum of Kronecker products goes; the products it makes multiply into
    Kronecker products (kron_product), which no rule factors back."""
    for i, l, r in _pairs(e):
        for k, s, left in ((l, r, True), (r, l, False)):
            if is_op(k, "kron") and is_op(s, "add") and all(
                    _kron_pairs_conform(k, t) if left else _kron_pairs_conform(t, k) for t in s.args):
                spread = call("add", *((k @ t) if left else (t @ k) for t in s.args))
                return _replace(e, i, [spread]) if len(e.args) > 2 else spread
    return None


@rule("matmul")
def diag_product(e: Expr):
    """diag(a) diag(b) = diag(a ⊙ b).
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if is_op(l, "diag") and is_op(r, "diag"):
            return _replace(e, i, [call("diag", l.args[0] * r.args[0])])
    return None


@rule("matmul")
def ones_diag(e: Expr):
    """𝟙ᵀ diag(u) = uᵀ and diag(u) 𝟙 = u; so 𝟙𝟙ᵀ diag(u) = 𝟙uᵀ and diag(u) 𝟙𝟙ᵀ = u𝟙ᵀ.
    Terminates: a diag factor of the product goes."""
    for i, l, r in _pairs(e):
        if is_op(l, "ones") and is_op(r, "diag"):
            return _replace(e, i, ([ones((l.shape.rows, 1))] if l.shape.rows != 1 else []) + [r.args[0].T])
        if is_op(l, "diag") and is_op(r, "ones"):
            return _replace(e, i, [l.args[0]] + ([ones((1, r.shape.cols))] if r.shape.cols != 1 else []))
    return None


def _square_split(product: Expr, end: int) -> bool:
    """Both the end factor and the rest of the product are square (so each has an inverse)."""
    f = product.args[end]
    rest = product.args[:-1] if end == -1 else product.args[1:]
    return f.shape.rows == f.shape.cols and rest[0].shape.rows == rest[-1].shape.cols


@rule("matmul")
def cancel_inverse_product(e: Expr):
    """L (Q L)⁻¹ = Q⁻¹ and (L Q)⁻¹ L = Q⁻¹ for square Q and L: (Q L)⁻¹ = L⁻¹ Q⁻¹ (Cookbook 18).
    Terminates: the number of factors drops."""
    for i, l, r in _pairs(e):
        if is_op(r, "inv") and is_op(r.args[0], "matmul") and r.args[0].args[-1] == l and _square_split(r.args[0], -1):
            return _replace(e, i, [call("inv", call("matmul", *r.args[0].args[:-1]))])
        if is_op(l, "inv") and is_op(l.args[0], "matmul") and l.args[0].args[0] == r and _square_split(l.args[0], 0):
            return _replace(e, i, [call("inv", call("matmul", *l.args[0].args[1:]))])
    return None
