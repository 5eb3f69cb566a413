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
from ..shapes import Shape, dim_div, dim_mul
from .arith import eye
from .base import bilinear, constant, declare, function, linear

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


def _kron_build(args, params):
    """a ⊗ X = aX for a scalar a; a column and a row, in either order, make the outer product
    (x ⊗ yᵀ = yᵀ ⊗ x = x yᵀ); Iₘ ⊗ Iₙ = Iₘₙ. Nothing else is rewritten."""
    a, b = args
    if is_scalar(a) or is_scalar(b):
        return call("mul", a, b)
    if _is(a, "eye") and _is(b, "eye"):
        return call("eye", params=(dim_mul(a.params[0], b.params[0]),))
    sa, sb = DIMS.get().shape(a.shape), DIMS.get().shape(b.shape)
    if sa.is_vector and sb.is_row:
        return call("matmul", a, b)
    if sa.is_row and sb.is_vector:
        return call("matmul", b, a)
    return Call(KRON, (a, b))


def _is(e, name: str) -> bool:
    return isinstance(e, Call) and e.op.name == name


def _kron_transpose(e, i, ct):
    a, b = e.args
    return call("blockdot", ct, b) if i == 0 else call("blocksum", a, ct)


def shuffle(m, n, p, q):
    """T = Iₙ ⊗ K(q, m) ⊗ Iₚ, the permutation with vec(A ⊗ B) = T (vec A ⊗ vec B) for an m×n A
    and a p×q B (Magnus & Neudecker, Matrix Differential Calculus, Thm 3.10). Tᵀ vec C stacks
    the blocks: its (i + j·m)-th piece of length pq is vec C_ij."""
    return call("kron", call("kron", eye(n), call("commutation", params=(q, m))), eye(p))


def _blocks_matrix(params, c):
    """Ĉ (pq × mn), whose column i + j·m is vec C_ij: the matrix of A ↦ blocksum(A, C)."""
    m, n, p, q = params
    return call("unvec", shuffle(m, n, p, q).T @ call("vec", c), params=(dim_mul(p, q), dim_mul(m, n)))


def _kron_matrix(e, i):
    """vec(A ⊗ B) = T (vec A ⊗ vec B) = T (I ⊗ vec B) vec A = T (vec A ⊗ I) vec B."""
    a, b = e.args
    (m, n), (p, q) = a.shape, b.shape
    if i == 0:
        return shuffle(m, n, p, q) @ call("kron", eye(dim_mul(m, n)), call("vec", b))
    return shuffle(m, n, p, q) @ call("kron", call("vec", a), eye(dim_mul(p, q)))


def _blockdot_matrix(e, i):
    """blockdot(C, B): vec = (I ⊗ vec Bᵀ) Tᵀ vec C (the adjoint of A ↦ A ⊗ B), and Ĉᵀ vec B."""
    m, n, p, q = e.params
    c, b = e.args
    if i == 0:
        return call("kron", eye(dim_mul(m, n)), call("vec", b).T) @ shuffle(m, n, p, q).T
    return _blocks_matrix(e.params, c).T


def _blocksum_matrix(e, i):
    """blocksum(A, C) = Σ A_ij C_ij: vec = Ĉ vec A, and (vec Aᵀ ⊗ I) Tᵀ vec C."""
    m, n, p, q = e.params
    a, c = e.args
    if i == 0:
        return _blocks_matrix(e.params, c)
    return call("kron", call("vec", a).T, eye(dim_mul(p, q))) @ shuffle(m, n, p, q).T


# ⟨C, A ⊗ B⟩ = ⟨blockdot(C, B), A⟩ = ⟨blocksum(A, C), B⟩
KRON = function(
         "kron", arity=2, shape=_kron_shape, build=_kron_build,
         **bilinear(transpose=_kron_transpose, matrix=_kron_matrix),
         transposed=lambda e, t: call("kron", t(e.args[0]), t(e.args[1])),   # (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
         unicode=lambda p, e: f"{p.arg(e.args[0], 3)} ⊗ {p.arg(e.args[1], 3)}",
         latex=lambda p, e: rf"{p.arg(e.args[0], 3)} \otimes {p.arg(e.args[1], 3)}",
         text=lambda p, e: f"kron({p(e.args[0])}, {p(e.args[1])})",
         # on paper between + and the products: (A ⊗ B)C, and −(a ⊗ B), since −a ⊗ B is (−a) ⊗ B
         extra={"paper_prec": 1.5, "scalars_out": True}, numeric=lambda ev, e, a, b: ev.np.kron(a, b),
         numpy=lambda em, e: (f"np.kron({_as_2d(em, e.args[0], e)}, {_as_2d(em, e.args[1], e)})", 9))


def _as_2d(em, arg, node) -> str:
    """Vectors are 1-D at run time; beside a matrix in a Kronecker product they need their
    orientation back (x ⊗ I with x a column)."""
    if node.shape.rows == 1 or node.shape.cols == 1:   # a vector ⊗ a vector of the same kind
        return em.code(arg)[0]
    if arg.shape.is_vector:
        return f"{em.arg(arg, 9)}[:, None]"
    if arg.shape.is_row:
        return f"{em.arg(arg, 9)}[None, :]"
    return em.code(arg)[0]
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
    def code(em, e):
        a = [em.code(x)[0] for x in e.args]
        m, n, p, q = (em.dim(d) for d in e.params)
        c, other = (a[0], a[1]) if block_first else (a[1], a[0])
        small = f"np.reshape({other}, ({m}, {n}))" if not block_first else f"np.reshape({other}, ({p}, {q}))"
        out = ", ".join(em.dim(d) for d in e.shape.numpy())
        operands = f"np.reshape({c}, ({m}, {p}, {n}, {q})), {small}" if block_first else \
            f"{small}, np.reshape({c}, ({m}, {p}, {n}, {q}))"
        return f'np.einsum("{einsum}", {operands}).reshape(({out}{"," if len(e.shape.numpy()) == 1 else ""}))', 9
    return code


def _blocks_value(einsum: str, block_first: bool):
    def value(ev, e, x, y):
        m, n, p, q = (ev.size(d) for d in e.params)
        c, small = (x, y) if block_first else (y, x)
        blocks = c.reshape(m, p, n, q)
        return ev.np.einsum(einsum, blocks, small) if block_first else ev.np.einsum(einsum, small, blocks)
    return value


# blockdot(C, B)_ij = ⟨C_ij, B⟩: linear in each; ⟨G, blockdot(C, B)⟩ = ⟨G ⊗ B, C⟩ = ⟨blocksum(G, C), B⟩
function("blockdot", arity=2, shape=_blocks_shape("weights"),
         build=lambda args, params: Call(OPS["blockdot"], tuple(args), params or _blocks(args, 0, 1)),
         **bilinear(transpose=lambda e, i, ct: call("kron", ct, e.args[1]) if i == 0 else
                    call("blocksum", ct, e.args[0]), matrix=_blockdot_matrix),
         numeric=_blocks_value("ipjq,pq->ij", True), numpy=_blocks_numpy("ipjq,pq->ij", True),
         text=lambda p, e: f"blockdot({p(e.args[0])}, {p(e.args[1])})", extra={"scalars_out": True})
# blocksum(A, C) = Σ_ij A_ij C_ij: ⟨H, blocksum(A, C)⟩ = ⟨A, blockdot(C, H)⟩ = ⟨A ⊗ H, C⟩
function("blocksum", arity=2, shape=_blocks_shape("block"),
         build=lambda args, params: Call(OPS["blocksum"], tuple(args), params or _blocks(args, 1, 0)),
         **bilinear(transpose=lambda e, i, ct: call("blockdot", e.args[1], ct) if i == 0 else
                    call("kron", e.args[0], ct), matrix=_blocksum_matrix),
         numeric=_blocks_value("ij,ipjq->pq", False), numpy=_blocks_numpy("ij,ipjq->pq", False),
         text=lambda p, e: f"blocksum({p(e.args[0])}, {p(e.args[1])})", extra={"scalars_out": True})


# -- vec and its adjoint ----------------------------------------------------------------------------

def _unvec_text(p, e) -> str:
    return f"unvec({p(e.args[0])}, {e.params[0]}, {e.params[1]})"


def _vec_build(args, params):
    """vec of a column is the column; of a row r, rᵀ (the same entries, in order)."""
    (x,) = args
    s = DIMS.get().shape(x.shape)
    if s.cols == 1:
        return x
    if s.rows == 1:
        return call("transpose", x)
    return Call(OPS["vec"], (x,))


# linear: transpose the column-major reshape back, unvec; matrix I (the entries keep their order)
function("vec", arity=1, shape=lambda dims, s: Shape(dims.mul(s.rows, s.cols), 1), build=_vec_build,
         **linear(transpose=lambda e, i, ct: call("unvec", ct, params=tuple(e.args[0].shape)),
                  matrix=lambda e, i: None),
         numeric=lambda ev, e, x: x.reshape(-1, 1, order="F"), extra={"scalars_out": True},
         numpy=lambda em, e: (em.code(e.args[0]) if e.args[0].shape.is_vector
                              else (f'{em.arg(e.args[0], 9)}.reshape(-1, order="F")', 9)))


def _unvec_shape(dims, s: Shape, m, n) -> Shape:
    if not (dims.same(s.rows, dims.mul(m, n)) and dims.same(s.cols, 1)):
        raise ShapeMismatch(f"unvec needs a column of {m}·{n} entries, but {{0}} is {dims.shape(s)}")
    return Shape(m, n)


def _unvec_build(args, params):
    """unvec(v, m, 1) = v, unvec(v, 1, n) = vᵀ."""
    (v,) = args
    m, n = params
    if n == 1:
        return v
    if m == 1:
        return call("transpose", v)
    return Call(OPS["unvec"], (v,), params)


# linear: unvec(v, m, n) is the m×n matrix whose columns are v's consecutive pieces; transpose
# vec; matrix I
declare("unvec", arity=1, shape=_unvec_shape, build=_unvec_build,
        **linear(transpose=lambda e, i, ct: call("vec", ct), matrix=lambda e, i: None),
        numeric=lambda ev, e, x: x.reshape(ev.size(e.params[0]), ev.size(e.params[1]), order="F"),
        numpy=lambda em, e: (em.code(e.args[0]) if e.shape.rows == 1 or e.shape.cols == 1 else
                             (f'np.reshape({em.code(e.args[0])[0]}, ({em.dim(e.params[0])}, {em.dim(e.params[1])}), order="F")', 9)),
        text=_unvec_text, unicode=_unvec_text, extra={"scalars_out": True}, latex=lambda p, e: rf"\operatorname{{unvec}}\left({p(e.args[0])}\right)")

def _commutation_build(args, params):
    """K(m, 1) = K(1, n) = I: transposing a vector keeps its entries in order."""
    m, n = params
    if m == 1 or n == 1:
        return eye(dim_mul(m, n))
    return Call(OPS["commutation"], (), params)


function("commutation", arity=0, shape=lambda dims, m, n: Shape(dims.mul(m, n), dims.mul(m, n)),
         build=_commutation_build, **constant(), text=lambda p, e: f"commutation({e.params[0]}, {e.params[1]})",
         unicode=lambda p, e: f"K({e.params[0]},{e.params[1]})", latex=lambda p, e: rf"K_{{{e.params[0]},{e.params[1]}}}",
         numpy=lambda em, e: (f"_commutation({em.dim(e.params[0])}, {em.dim(e.params[1])})", 9), extra={"helper": COMMUTATION},
         numeric=lambda ev, e: _commutation_value(ev.np, ev.size(e.params[0]), ev.size(e.params[1])))


def _commutation_value(np, m: int, n: int):
    """K(m, n) vec(X) = vec(Xᵀ) for an m×n X: the permutation taking column-major positions
    of X to those of Xᵀ, built from the definition."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[j + i * n, i + j * m] = 1.0    # Xᵀ[j, i] sits at j + i·n; X[i, j] at i + j·m
    return k
