"""The matrix of a linear map. DF|X[V] is linear in the direction V; written as a matrix it is
the Jacobian J (DF[v] = J v, for a vector variable) or the Kronecker form K
(vec DF[V] = K vec V, column-major vec, for a matrix variable). Both are read off the
expression of DF[V] structurally, one rule per linear operation, e.g.

    J(A v) = A,  J(a ⊙ v) = diag(a),  J(a · sᵀv) = a sᵀ,  J(𝟙ᵀ v) = 𝟙ᵀ,  J(diag(v) r) = diag(r)
    K(A V C) = Cᵀ ⊗ A,  K(Vᵀ) = K(m,n),  K(a ⊙ V) = diag(vec a),  K(tr V) = vec(I)ᵀ

An expression outside these rules is a DerivationError, never a wrong matrix."""

from __future__ import annotations

from functools import lru_cache

from .errors import DerivationError
from .expr import Call, Const, Expr, Symbol, call
from .ops import eye, ones
from .shapes import dim_mul
from .simplify import _t, simplify


@lru_cache(maxsize=1 << 16)
def _depends(e: Expr, name: str) -> bool:
    """Whether e moves with the direction `name`; from its children's answers, so that the walks
    below, which ask it of every node, stay linear in the size of the DAG."""
    if isinstance(e, Symbol):
        return e.name == name
    return any(_depends(c, name) for c in e.children)


def _unsupported(e: Expr, what: str) -> DerivationError:
    return DerivationError(f"matdiff cannot write {what} of this map as a matrix: {e}",
                           hint="use the directional derivative DF|X[V] (.directional) or the "
                                "Hessian-vector product (.hvp)")


def _scaled_part(L: Call, name: str, what: str) -> tuple[Expr, Expr]:
    """An entrywise product (or quotient) linear in the direction: (the factor that moves with
    it, the product of the others): a ⊙ u(V) → (u(V), a); u(V) / b → (u(V), 1 / b)."""
    if L.op.name == "div":
        if _depends(L.args[1], name):
            raise _unsupported(L, what)
        return L.args[0], 1 / L.args[1]
    live = [i for i, a in enumerate(L.args) if _depends(a, name)]
    if len(live) != 1:
        raise _unsupported(L, what)
    return L.args[live[0]], call("mul", *(a for i, a in enumerate(L.args) if i != live[0]))


def jacobian_matrix(linear: Expr, v: Symbol) -> Expr:
    """J with linear = J v, for a column-vector (or scalar) direction v and a column-vector or
    scalar `linear`; J is rows(linear) × len(v). The rules here give the textbook forms; a node
    they do not cover takes the Kronecker form, which for a column is the Jacobian itself
    (vec u = u)."""
    n = v.shape.rows

    memo: dict[Expr, Expr | None] = {}

    def jac(L: Expr):   # each distinct node once: a node shared by several paths is not redone
        if L not in memo:
            memo[L] = rule(L)
        return memo[L]

    def rule(L: Expr):
        if not _depends(L, v.name):
            return None
        if isinstance(L, Symbol):
            return eye(n) if not v.shape.is_scalar else Const(1)
        if not isinstance(L, Call):
            return _kron_walk(L, v)
        op = L.op.name
        if op == "add":
            return call("add", *(j for j in (jac(t) for t in L.args) if j is not None))
        if op == "broadcast":                       # J(s(v)𝟙) = 𝟙 J(s)
            return ones(L.shape) @ jac(L.args[0])
        if op in ("mul", "div"):
            dep, o = _scaled_part(L, v.name, "the Jacobian")
            jd = jac(dep)
            if o.shape.is_scalar:
                return o * jd                   # c ⊙ v, or a scalar times a scalar
            if dep.shape.is_scalar:
                return o @ jd                   # a · s(v): an outer product, a Jsᵀ
            return call("diag", o) @ jd         # a ⊙ u(v) = diag(a) u(v)
        if op == "matmul":
            live = [i for i, a in enumerate(L.args) if _depends(a, v.name)]
            if len(live) != 1:
                return _kron_walk(L, v)
            i = live[0]
            left, f, right = L.args[:i], L.args[i], L.args[i + 1:]
            if not right:
                return call("matmul", *left, jac(f)) if left else jac(f)
            r = call("matmul", *right)
            if f.shape.rows == 1 and r.shape.cols == 1:   # (left) fᵀ-row times a column: f r = rᵀ fᵀ
                return call("matmul", *left, _t(r), jac(_t(f))) if left else _t(r) @ jac(_t(f))
            if isinstance(f, Call) and f.op.name == "diag" and r.shape.cols == 1:   # diag(u) r = diag(r) u
                return call("matmul", *left, call("diag", r), jac(f.args[0]))
            return _kron_walk(L, v)
        if op == "transpose":
            inner = L.args[0]
            if L.shape.is_scalar:
                return jac(inner)
            pushed = _t(inner)
            if not (isinstance(pushed, Call) and pushed.op.name == "transpose"):
                return jac(pushed)
            return _kron_walk(L, v)
        if op == "sum" and L.args[0].shape.cols == 1:
            return ones(L.args[0].shape).T @ jac(L.args[0])
        if op == "sum" and L.args[0].shape.rows == 1:     # sum(r) = sum(rᵀ) for a row r
            return jac(call("sum", _t(L.args[0])))
        return _kron_walk(L, v)

    j = jac(linear)
    if j is None:
        j = call("zeros", params=(linear.shape.rows, n))
    return simplify(j)


def _diag_selection(n) -> Expr:
    """S (n²×n) with vec(diag(u)) = S u: S = diag(vec I)(𝟙 ⊗ I), the columns vec(eᵢeᵢᵀ)."""
    return call("diag", call("vec", eye(n))) @ call("kron", ones((n, 1)), eye(n))


def kron_matrix(linear: Expr, V: Symbol) -> Expr:
    """K with vec(linear) = K vec(V), column-major vec, for a matrix direction V (m×n)."""
    m, n = V.shape
    k = _kron_walk(linear, V)
    if k is None:   # the map is zero
        k = call("zeros", params=(dim_mul(linear.shape.rows, linear.shape.cols), dim_mul(m, n)))
    return simplify(k)


def _kron_walk(linear: Expr, V: Symbol) -> Expr | None:
    """The Kronecker form of `linear`, unsimplified; None for the zero map."""
    m, n = V.shape

    memo: dict[Expr, Expr | None] = {}

    def kron(L: Expr):   # each distinct node once
        if L not in memo:
            memo[L] = rule(L)
        return memo[L]

    def rule(L: Expr):
        if not _depends(L, V.name):
            return None
        if isinstance(L, Symbol):
            return Const(1) if V.shape.is_scalar else call("kron", eye(n), eye(m))
        if not isinstance(L, Call):
            raise _unsupported(L, "the Kronecker form")
        op = L.op.name
        if op == "add":
            return call("add", *(k for k in (kron(t) for t in L.args) if k is not None))
        if op == "broadcast":                       # vec(s(V)𝟙𝟙ᵀ) = vec(𝟙𝟙ᵀ) K(s)
            return call("vec", ones(L.shape)) @ kron(L.args[0])
        if op in ("mul", "div"):
            dep, o = _scaled_part(L, V.name, "the Kronecker form")
            kd = kron(dep)
            if o.shape.is_scalar:
                return o * kd
            if dep.shape.is_scalar:
                return call("vec", o) @ kd
            return call("diag", call("vec", o)) @ kd
        if op == "matmul":
            live = [i for i, a in enumerate(L.args) if _depends(a, V.name)]
            if len(live) != 1:
                raise _unsupported(L, "the Kronecker form")
            i = live[0]
            f = L.args[i]
            left = call("matmul", *L.args[:i]) if i else eye(f.shape.rows)
            right = call("matmul", *L.args[i + 1:]) if i + 1 < len(L.args) else eye(f.shape.cols)
            return call("kron", _t(right), left) @ kron(f)      # vec(A F C) = (Cᵀ ⊗ A) vec F
        if op == "transpose":
            inner = L.args[0]
            if inner.shape.is_scalar:
                return kron(inner)
            r, c = inner.shape
            return call("commutation", params=(r, c)) @ kron(inner)
        if op == "trace":
            k = L.args[0].shape.rows
            return call("vec", eye(k)).T @ kron(L.args[0])
        if op == "sum":
            return call("vec", ones(L.args[0].shape)).T @ kron(L.args[0])
        if op == "kron":
            a, b = L.args
            if _depends(b, V.name) and not _depends(a, V.name) and b.shape.cols == 1:
                return call("kron", call("vec", a), eye(b.shape.rows)) @ kron(b)   # vec(A ⊗ u) = (vec A ⊗ I) u
            if _depends(a, V.name) and not _depends(b, V.name) and a.shape.cols == 1 and b.shape.cols == 1:
                return call("kron", eye(a.shape.rows), b) @ kron(a)               # u ⊗ b = (I ⊗ b) u
            raise _unsupported(L, "the Kronecker form")
        if op in ("vec", "unvec"):                 # the same entries in the same (column-major) order
            return kron(L.args[0])
        if op == "diag":                           # vec(diag(u)) = S u
            return _diag_selection(L.shape.rows) @ kron(L.args[0])
        if op == "diagonal":                       # diag(X) = Sᵀ vec(X)
            return _diag_selection(L.shape.rows).T @ kron(L.args[0])
        raise _unsupported(L, "the Kronecker form")

    return kron(linear)
