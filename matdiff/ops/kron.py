"""The vec/Kronecker vocabulary of matrix derivatives: vec(X) stacks the columns (column-major,
as in the Matrix Cookbook), kron(A, B) = A ⊗ B, and the commutation matrix K(m, n) with
K vec(X) = vec(Xᵀ) for an m×n X. Then vec(A X B) = (Bᵀ ⊗ A) vec(X)   (Cookbook 520).

The adjoints of the Kronecker product, which carry a gradient through it, contract its blocks:
for C made of m×n blocks C_ij, each p×q, blockdot(C, B) is the m×n matrix of ⟨C_ij, B⟩ and
blocksum(A, C) = Σ_ij A_ij C_ij, the p×q sum of the blocks weighted by A; then
⟨C, A ⊗ B⟩ = ⟨blockdot(C, B), A⟩ = ⟨blocksum(A, C), B⟩. vec has the column-major reshape
unvec(·, m, n) for its adjoint."""

from __future__ import annotations

from ..expr import DIMS, OPS, Call, ShapeMismatch, call, is_scalar
from ..shapes import Shape, dim_div
from .arith import dim_code
from .base import declare, function

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


def _bilinear_jvp(e, ts):
    """The product rule of an op linear in each argument: D f(A, B)[V] = f(DA, B) + f(A, DB)."""
    terms = [call(e.op, *e.args[:i], t, *e.args[i + 1:], params=e.params if e.params else ())
             for i, t in enumerate(ts) if t is not None]
    return call("add", *terms) if terms else None


def _kron_build(args, params):
    """a ⊗ X = aX for a scalar a; a column and a row, in either order, make the outer product
    (x ⊗ yᵀ = yᵀ ⊗ x = x yᵀ). Nothing else is rewritten."""
    a, b = args
    if is_scalar(a) or is_scalar(b):
        return call("mul", a, b)
    sa, sb = DIMS.get().shape(a.shape), DIMS.get().shape(b.shape)
    if sa.is_vector and sb.is_row:
        return call("matmul", a, b)
    if sa.is_row and sb.is_vector:
        return call("matmul", b, a)
    return Call(KRON, (a, b))


def _kron_transpose(e, i, ct):
    a, b = e.args
    return call("blockdot", ct, b) if i == 0 else call("blocksum", a, ct)


# D(A ⊗ B)[V] = DA[V] ⊗ B + A ⊗ DB[V];  ⟨C, A ⊗ B⟩ = ⟨blockdot(C, B), A⟩ = ⟨blocksum(A, C), B⟩
KRON = function(
         "kron", arity=2, shape=_kron_shape, build=_kron_build, jvp=_bilinear_jvp, linear="multi",
         transpose=_kron_transpose,
         unicode=lambda p, e: f"{p.arg(e.args[0], 3)} ⊗ {p.arg(e.args[1], 3)}",
         latex=lambda p, e: rf"{p.arg(e.args[0], 3)} \otimes {p.arg(e.args[1], 3)}",
         text=lambda p, e: f"kron({p(e.args[0])}, {p(e.args[1])})",
         # on paper between + and the products: (A ⊗ B)C, and −(a ⊗ B), since −a ⊗ B is (−a) ⊗ B
         extra={"paper_prec": 1.5, "scalars_out": True}, numeric=lambda ev, e, a, b: ev.np.kron(a, b),
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
# -- the blocks of a Kronecker product ------------------------------------------------------------

def _blocks(args, whole: int, part: int) -> tuple:
    """(m, n, p, q) for args[whole] = (m·p)×(n·q) made of blocks: args[part] is a block (p×q,
    for blockdot) or the weights (m×n, for blocksum)."""
    dims = DIMS.get()
    w, s = dims.shape(args[whole].shape), dims.shape(args[part].shape)
    rows, cols = dim_div(w.rows, s.rows), dim_div(w.cols, s.cols)
    if rows is None or cols is None:
        raise ShapeMismatch(f"cannot split {{{whole}}} ({w}) into blocks by {{{part}}} ({s})")
    return (rows, cols, s.rows, s.cols) if part == 1 else (s.rows, s.cols, rows, cols)


def _blocks_shape(out: str):
    def rule(dims, a: Shape, b: Shape, m, n, p, q) -> Shape:
        return Shape(m, n) if out == "weights" else Shape(p, q)
    return rule


def _blocks_numpy(einsum: str, block_first: bool):
    """The einsum over C reshaped to (m, p, n, q): C[i·p + k, j·q + l] is [i, k, j, l]."""
    def code(e, a):
        m, n, p, q = (dim_code(d) for d in e.params)
        c, other = (a[0], a[1]) if block_first else (a[1], a[0])
        small = f"np.reshape({other}, ({m}, {n}))" if not block_first else f"np.reshape({other}, ({p}, {q}))"
        out = ", ".join(dim_code(d) for d in e.shape.numpy())
        operands = f"np.reshape({c}, ({m}, {p}, {n}, {q})), {small}" if block_first else \
            f"{small}, np.reshape({c}, ({m}, {p}, {n}, {q}))"
        return f'np.einsum("{einsum}", {operands}).reshape(({out}{"," if len(e.shape.numpy()) == 1 else ""}))'
    return code


def _blocks_value(einsum: str, block_first: bool):
    def value(ev, e, x, y):
        m, n, p, q = (ev.size(d) for d in e.params)
        c, small = (x, y) if block_first else (y, x)
        blocks = c.reshape(m, p, n, q)
        return ev.np.einsum(einsum, blocks, small) if block_first else ev.np.einsum(einsum, small, blocks)
    return value


# blockdot(C, B)_ij = ⟨C_ij, B⟩: linear in each; ⟨G, blockdot(C, B)⟩ = ⟨G ⊗ B, C⟩ = ⟨blocksum(G, C), B⟩
function("blockdot", arity=2, shape=_blocks_shape("weights"), jvp=_bilinear_jvp, linear="multi",
         build=lambda args, params: Call(OPS["blockdot"], tuple(args), params or _blocks(args, 0, 1)),
         transpose=lambda e, i, ct: call("kron", ct, e.args[1]) if i == 0 else call("blocksum", ct, e.args[0]),
         numeric=_blocks_value("ipjq,pq->ij", True), numpy=_blocks_numpy("ipjq,pq->ij", True),
         text=lambda p, e: f"blockdot({p(e.args[0])}, {p(e.args[1])})", extra={"scalars_out": True})
# blocksum(A, C) = Σ_ij A_ij C_ij: ⟨H, blocksum(A, C)⟩ = ⟨A, blockdot(C, H)⟩ = ⟨A ⊗ H, C⟩
function("blocksum", arity=2, shape=_blocks_shape("block"), jvp=_bilinear_jvp, linear="multi",
         build=lambda args, params: Call(OPS["blocksum"], tuple(args), params or _blocks(args, 1, 0)),
         transpose=lambda e, i, ct: call("blockdot", e.args[1], ct) if i == 0 else call("kron", e.args[0], ct),
         numeric=_blocks_value("ij,ipjq->pq", False), numpy=_blocks_numpy("ij,ipjq->pq", False),
         text=lambda p, e: f"blocksum({p(e.args[0])}, {p(e.args[1])})", extra={"scalars_out": True})


# -- vec and its adjoint ----------------------------------------------------------------------------

def _unvec_text(p, e) -> str:
    return f"unvec({p(e.args[0])}, {e.params[0]}, {e.params[1]})"


# linear: D vec(X)[V] = vec(V); transpose: the column-major reshape back, unvec
function("vec", arity=1, shape=lambda dims, s: Shape(dims.mul(s.rows, s.cols), 1),
         jvp=lambda e, ts: call("vec", ts[0]), linear=(0,),
         transpose=lambda e, i, ct: call("unvec", ct, params=tuple(e.args[0].shape)),
         numeric=lambda ev, e, x: x.reshape(-1, 1, order="F"), extra={"scalars_out": True},
         numpy=lambda e, a: f'{a[0]}.reshape(-1, order="F")' if not e.args[0].shape.is_vector else a[0])


def _unvec_shape(dims, s: Shape, m, n) -> Shape:
    if not (dims.same(s.rows, dims.mul(m, n)) and dims.same(s.cols, 1)):
        raise ShapeMismatch(f"unvec needs a column of {m}·{n} entries, but {{0}} is {dims.shape(s)}")
    return Shape(m, n)


# linear: unvec(v, m, n) is the m×n matrix whose columns are v's consecutive pieces; transpose: vec
declare("unvec", arity=1, shape=_unvec_shape, jvp=lambda e, ts: call("unvec", ts[0], params=e.params),
        linear=(0,), transpose=lambda e, i, ct: call("vec", ct),
        numeric=lambda ev, e, x: x.reshape(ev.size(e.params[0]), ev.size(e.params[1]), order="F"),
        numpy=lambda e, a: (a[0] if e.shape.rows == 1 or e.shape.cols == 1 else
                            f'np.reshape({a[0]}, ({dim_code(e.params[0])}, {dim_code(e.params[1])}), order="F")'),
        text=_unvec_text, unicode=_unvec_text, extra={"scalars_out": True}, latex=lambda p, e: rf"\operatorname{{unvec}}\left({p(e.args[0])}\right)")

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
