"""The matrix of a linear map. DF|X[V] is linear in the direction V; written as a matrix it is
the Jacobian J (DF[v] = J v, for a vector variable) or the Kronecker form K
(vec DF[V] = K vec V, column-major vec, for a matrix variable). The two are one thing: for a
column, vec u = u. Each linear op declares the matrix of its map (`Op.matrix`: vec f(U) = M vec U,
e.g. vec(A U C) = (Cᵀ ⊗ A) vec U, vec(a ⊙ U) = diag(vec a) vec U, tr U = vec(I)ᵀ vec U), and the
chain rule composes them: K(f(U(V))) = M K(U). The simplifier turns the composed product into the
textbook form (J(σ(Wv)) = diag(σ′) W).

DF[V] holds V only inside linear ops, so every node on a path to V has a matrix; one that does
not is an internal error, said as such, never a wrong matrix."""

from __future__ import annotations

from .errors import DerivationError
from .expr import Call, Expr, Symbol, call, transform
from .ops import eye
from .shapes import dim_mul
from .simplify import simplify


def _moving(e: Expr, name: str) -> set[int]:
    """The ids of the nodes of e that move with the direction `name`, children before parents
    (one pass over the DAG, each node by identity: equal but distinct subtrees are never
    compared)."""
    out: set[int] = set()
    for n in e.walk():
        if n.name == name if isinstance(n, Symbol) else any(id(c) in out for c in n.children):
            out.add(id(n))
    return out


def linear_map_matrix(linear: Expr, v: Symbol) -> Expr:
    """M with vec(linear) = M vec(v): (rows·cols of linear) × (size of v), simplified. For a
    vector v and a column (or scalar) `linear` this is the Jacobian; otherwise the Kronecker
    form."""
    k = _walk(transform(linear, lambda n: None, _entrywise_diag_product), v)
    if k is None:   # the map is zero
        k = call("zeros", params=(dim_mul(*linear.shape), dim_mul(*v.shape)))
    return simplify(k)


def chain_factors(linear: Expr, v: Symbol) -> list[tuple[Call, Expr]] | None:
    """The chain rule as a product of Jacobians, in order: [(node, M)] from the output down to
    v, with J = M₁ M₂ ⋯ Mₖ, each M the matrix of one op's linear map (simplified). None where
    the map is not one chain (a sum of paths, as in x ⊙ Wx)."""
    node = transform(linear, lambda n: None, _entrywise_diag_product)
    moving = _moving(node, v.name)
    out = []
    while not isinstance(node, Symbol):
        live = [i for i, a in enumerate(node.children) if id(a) in moving]
        if not isinstance(node, Call) or len(live) != 1 or node.op.matrix is None:
            return None
        m = node.op.matrix(node, live[0])
        if m is not None:
            out.append((node, simplify(m)))
        node = node.args[live[0]]
    return out if node == v else None


def _entrywise_diag_product(e: Expr) -> Expr:
    """diag(u) r = u ⊙ r for a column r, and rᵀ diag(u) = (u ⊙ r)ᵀ for a row rᵀ, inside a
    product: the map u ↦ u ⊙ r then has the matrix diag(r), where the chain through diag would
    give (rᵀ ⊗ I) diag(vec I)(𝟙 ⊗ I), the same matrix unrecognized."""
    if not (isinstance(e, Call) and e.op.name == "matmul"):
        return e
    f = list(e.args)
    for i, a in enumerate(f):
        if not (isinstance(a, Call) and a.op.name == "diag"):
            continue
        if i + 1 < len(f) and (r := call("matmul", *f[i + 1:])).shape.cols == 1:
            return call("matmul", *f[:i], a.args[0] * r) if i else a.args[0] * r
        if i > 0 and (r := call("matmul", *f[:i])).shape.rows == 1:
            out = (a.args[0] * r.T).T
            return call("matmul", out, *f[i + 1:]) if i + 1 < len(f) else out
    return e


def _walk(linear: Expr, v: Symbol) -> Expr | None:
    """The matrix of `linear` as a function of v, unsimplified: the product of the ops' matrices
    along every path from the root to v, summed over the paths; None for the zero map. Nodes are
    done children first, each distinct node once (a node shared by several paths is not redone)."""
    moving = _moving(linear, v.name)
    if id(linear) not in moving:
        return None
    done: dict[int, Expr] = {}
    for node in linear.walk():
        if id(node) not in moving:
            continue
        if isinstance(node, Symbol):
            done[id(node)] = eye(dim_mul(*v.shape))
            continue
        op = node.op
        live = [i for i, a in enumerate(node.args) if id(a) in moving]
        if op.matrix is None or not op.is_linear_in(live):
            raise DerivationError(f"internal: DF[V] is not linear in {v.name} at {op.name}, or {op.name} "
                                  f"declares no matrix: {node}")
        parts = []
        for i in live:
            inner = done[id(node.args[i])]
            m = op.matrix(node, i)
            parts.append(inner if m is None else m @ inner)
        done[id(node)] = call("add", *parts)
    return done[id(linear)]
