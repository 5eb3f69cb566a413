"""The vec/Kronecker vocabulary of matrix derivatives: vec(X) stacks the columns (column-major,
as in the Matrix Cookbook), kron(A, B) = A ⊗ B, and the commutation matrix K(m, n) with
K vec(X) = vec(Xᵀ) for an m×n X. Then vec(A X B) = (Bᵀ ⊗ A) vec(X)   (Cookbook 520)."""

from __future__ import annotations

from ..expr import call
from ..shapes import Shape
from .arith import dim_code
from .base import function

COMMUTATION = """def _commutation(m, n):
    # K @ X.reshape(-1, order="F") == X.T.reshape(-1, order="F") for an m×n X
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1.0
    return k
"""


def _kron_shape(dims, a: Shape, b: Shape) -> Shape:
    return Shape(dims.mul(a.rows, b.rows), dims.mul(a.cols, b.cols))


# D(A ⊗ B)[V] = DA[V] ⊗ B + A ⊗ DB[V]
function("kron", arity=2, shape=_kron_shape,
         jvp=lambda e, ts: call("add", *([call("kron", ts[0], e.args[1])] if ts[0] is not None else [])
                                + ([call("kron", e.args[0], ts[1])] if ts[1] is not None else [])),
         unicode=lambda p, e: f"{p.arg(e.args[0], 3)} ⊗ {p.arg(e.args[1], 3)}",
         latex=lambda p, e: rf"{p.arg(e.args[0], 3)} \otimes {p.arg(e.args[1], 3)}",
         text=lambda p, e: f"kron({p(e.args[0])}, {p(e.args[1])})",
         # on paper between + and the products: (A ⊗ B)C, and −(a ⊗ B), since −a ⊗ B is (−a) ⊗ B
         extra={"paper_prec": 1.5}, numeric=lambda ev, e, a, b: ev.np.kron(a, b),
         numpy=lambda e, a: f"np.kron({_as_2d(e.args[0], a[0], e)}, {_as_2d(e.args[1], a[1], e)})")


def _as_2d(arg, code: str, node) -> str:
    """Vectors are 1-D at run time; beside a matrix in a Kronecker product they need their
    orientation back (x ⊗ I with x a column)."""
    if node.shape.rows == 1 or node.shape.cols == 1:   # a vector ⊗ a vector of the same kind
        return code
    if arg.shape.is_vector:
        return f"{code}[:, None]"
    if arg.shape.is_row:
        return f"{code}[None, :]"
    return code
# linear: D vec(X)[V] = vec(V)
function("vec", arity=1, shape=lambda dims, s: Shape(dims.mul(s.rows, s.cols), 1),
         jvp=lambda e, ts: call("vec", ts[0]), numeric=lambda ev, e, x: x.reshape(-1, 1, order="F"),
         numpy=lambda e, a: f'{a[0]}.reshape(-1, order="F")' if not e.args[0].shape.is_vector else a[0])

function("commutation", arity=0, shape=lambda dims, m, n: Shape(dims.mul(m, n), dims.mul(m, n)),
         jvp=lambda e, ts: None, text=lambda p, e: f"commutation({e.params[0]}, {e.params[1]})",
         unicode=lambda p, e: f"K({e.params[0]},{e.params[1]})", latex=lambda p, e: rf"K_{{{e.params[0]},{e.params[1]}}}",
         numpy=lambda e, a: f"_commutation({dim_code(e.params[0])}, {dim_code(e.params[1])})", extra={"helper": COMMUTATION},
         numeric=lambda ev, e: _commutation_value(ev.np, ev.size(e.params[0]), ev.size(e.params[1])))


def _commutation_value(np, m: int, n: int):
    """K(m, n) vec(X) = vec(Xᵀ) for an m×n X: the permutation taking column-major positions
    of X to those of Xᵀ, built from the definition."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[j + i * n, i + j * m] = 1.0    # Xᵀ[j, i] sits at j + i·n; X[i, j] at i + j·m
    return k
