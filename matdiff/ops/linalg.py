"""Matrix product, transpose, inverse, determinant, log-determinant, trace, diag.
Rules cite the Matrix Cookbook (Petersen & Pedersen, 2012) by equation number."""

from __future__ import annotations

import math

from ..emit.pretty import closed_group
from ..expr import DIMS, OPS as OPS_BY_NAME, Call, Const, ShapeMismatch, call, is_scalar
from ..shapes import SCALAR, Shape, may_agree
from .arith import eye, join_factors
from .base import bilinear, declare, function, linear, smooth, square


# -- matmul: n-ary, flattened; scalar factors (1×1) are pulled out as a scalar multiple ----------
# linear in each factor: transpose for factor i  ct_i = (A…)ᵀ ct (…C)ᵀ;
# matrix vec(A F C) = (Cᵀ ⊗ A) vec F   (Cookbook 520)

def _check_chain(dims, args) -> None:
    """Conformability of a product read left to right; a partial product that is 1×1 is a
    scalar and scales what follows (xᵀy z)."""
    first = prev = None   # the run of factors whose product is being formed
    for j, a in enumerate(args):
        s = dims.shape(a.shape)
        if s.is_scalar:
            continue
        if prev is not None:
            rows = dims.find(args[first].shape.rows)
            l = dims.shape(args[prev].shape)
            if not dims.same(l.cols, s.rows):
                left = Shape(rows, l.cols)
                hint = None
                if s.is_vector and l.is_vector and first == prev:
                    hint = ("{0}.T @ {1} for the inner product, {0} @ {1}.T for the outer product"
                            if may_agree(dims, l.rows, s.rows) else "{0} @ {1}.T for the outer product?")
                elif first == prev and may_agree(dims, l.rows, s.rows):
                    hint = "{0}.T @ {1}?"
                elif s.cols == l.cols:
                    hint = "{0} @ {1}.T?"
                raise ShapeMismatch(f"cannot multiply {{0}} ({left}) by {{1}} ({s})", hint=hint,
                                    refs=((first, prev), j))
            if dims.find(rows) == 1 and dims.find(s.cols) == 1:
                first = prev = None   # the product so far is a scalar
                continue
        else:
            first = j
        prev = j


def _matmul_build(args, params):
    dims = DIMS.get()
    _check_chain(dims, args)
    scalars, factors = [], []
    work = list(reversed(args))          # a stack: flattening stays linear in the number of factors
    while work:
        f = work.pop()
        if is_scalar(f):
            scalars.append(f)
        elif isinstance(f, Call) and f.op.name == "matmul":
            work += reversed(f.args)
        elif isinstance(f, Call) and f.op.name == "mul" and any(is_scalar(a) for a in f.args):
            scalars += [a for a in f.args if is_scalar(a)]
            rest = [a for a in f.args if not is_scalar(a)]
            work.append(rest[0] if len(rest) == 1 else call("mul", *rest))
        else:
            factors.append(f)
    # a run whose product is 1×1 with factors after it is a scalar that scales them: xᵀy z = (xᵀy) z
    chain = []
    for i, f in enumerate(factors):
        chain.append(f)
        if len(chain) > 1 and i < len(factors) - 1 and dims.find(chain[0].shape.rows) == 1 \
                and dims.find(f.shape.cols) == 1:
            scalars.append(Call(MATMUL, chain, shape=SCALAR))
            chain = []
    # the chain was checked above: its shape is the outer dims
    prod = None if not chain else chain[0] if len(chain) == 1 else Call(
        MATMUL, chain, shape=Shape(chain[0].shape.rows, chain[-1].shape.cols))
    numbers = [s for s in scalars if isinstance(s, Const)]
    value = 1
    for c in numbers:
        value *= c.value
    if len(numbers) > 1 and math.isfinite(value):   # (−A)(−x) = Ax: the numbers pulled out multiply
        scalars = [Const(value)] + [s for s in scalars if not isinstance(s, Const)]
        if value == 1 and len(scalars) > 1 or (value == 1 and prod is not None):
            scalars = scalars[1:]
    if not scalars:
        return prod
    return call("mul", *scalars, *([prod] if prod is not None else []))


def _matmul_shape(dims, *shapes):
    for a, b in zip(shapes, shapes[1:]):
        if not dims.same(a.cols, b.rows):
            raise ShapeMismatch(f"cannot multiply {{0}} ({dims.shape(a)}) by {{1}} ({dims.shape(b)})")
    return Shape(shapes[0].rows, shapes[-1].cols)


def _matmul_transpose(e, i, ct):
    left, right = e.args[:i], e.args[i + 1:]
    parts = ([call("matmul", *left).T] if left else []) + [ct] + ([call("matmul", *right).T] if right else [])
    return call("matmul", *parts)


def _matmul_matrix(e, i):
    f = e.args[i]
    left = call("matmul", *e.args[:i]) if i else eye(f.shape.rows)
    right = call("matmul", *e.args[i + 1:]) if i + 1 < len(e.args) else eye(f.shape.cols)
    return call("kron", right if is_scalar(right) else right.T, left)


def _matmul_value(ev, e, *factors):
    out = factors[0]
    for f in factors[1:]:
        out = out @ f
    return out


def _juxt(sep: str):
    """Paper form of a product: factors side by side (xᵀAx), spaced where a name is longer
    than one letter (W1 x) so that the reading stays unambiguous."""
    return lambda p, e: join_factors(p, list(e.args), sep)


MATMUL = declare(
    "matmul", shape=_matmul_shape, build=_matmul_build, prec=2, numeric=_matmul_value,
    **bilinear(transpose=_matmul_transpose, matrix=_matmul_matrix),
    transposed=lambda e, t: call("matmul", *(t(a) for a in reversed(e.args))),   # (AB)ᵀ = BᵀAᵀ
    text=lambda p, e: " @ ".join(p.arg(a, 3) for a in e.args),
    unicode=_juxt(" "), latex=_juxt(" "),
    # the emitter's chain service orders the factors by cost and writes np.outer, solve for an
    # inverse and broadcasting for a diag where they apply
    numpy=lambda em, e: em.chain(e.args))


# -- transpose -------------------------------------------------------------------------------
# linear: transpose ctᵀ; matrix vec(Xᵀ) = K(m, n) vec X for an m×n X (a vector keeps its entries)

def _transpose_unicode(p, e):
    a = e.args[0]
    if isinstance(a, Call) and a.op.name == "inv":
        return p.arg(a.args[0], 9) + "⁻ᵀ"
    return p.arg(a, 9) + "ᵀ"


def _transpose_latex(p, e):
    a = e.args[0]
    if isinstance(a, Call) and a.op.name == "inv":
        return p.arg(a.args[0], 9) + r"^{-\top}"
    return p.arg(a, 9) + r"^\top"


declare("transpose", arity=1, shape=lambda dims, s: s.T,
        **linear(transpose=lambda e, i, ct: ct.T,
                 matrix=lambda e, i: call("commutation", params=tuple(e.args[0].shape))),
        numeric=lambda ev, e, x: x.T, extra={"scalar_identity": True},
        transposed=lambda e, t: e.args[0],   # Xᵀᵀ = X
        text=lambda p, e: p.arg(e.args[0], 9) + ".T",
        unicode=_transpose_unicode, latex=_transpose_latex,
        # a vector is 1-D at run time: xᵀ is x
        numpy=lambda em, e: (em.code(e.args[0]) if e.shape.rows == 1 or e.shape.cols == 1
                             else (em.arg(e.args[0], 9) + ".T", 9)))


# -- inverse ---------------------------------------------------------------------------------

def _is_transpose(e) -> bool:
    return isinstance(e, Call) and e.op.name == "transpose"


# D(X⁻¹)[V] = −X⁻¹ V X⁻¹   (Cookbook 59)

def _scalar_case(name: str, scalar):
    """inv, det and logdet of a 1×1 matrix are 1/a, a and log a."""
    def build(args, params):
        (x,) = args
        if DIMS.get().shape(x.shape).is_scalar:
            return scalar(x)
        return Call(OPS_BY_NAME[name], (x,))
    return build


def _inv_value(ev, e, x):
    np = ev.np
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:   # singular: outside the domain
        return np.full(x.shape, np.nan)


function("inv", spellings=("linalg.inv",), arity=1, shape=square("inv"),
         build=_scalar_case("inv", lambda a: call("power", a, Const(-1))),
         **smooth(lambda e, t: -(e @ t @ e), why="D(X⁻¹)[V] = −X⁻¹VX⁻¹"), domain=("invertible",), numeric=_inv_value,
         extra={"keeps_symmetry": True},
         transposed=lambda e, t: call("inv", t(e.args[0])),   # (X⁻¹)ᵀ = (Xᵀ)⁻¹
         unicode=lambda p, e: (p.arg(e.args[0].args[0], 9) + "⁻ᵀ" if _is_transpose(e.args[0])
                               else p.arg(e.args[0], 9) + "⁻¹"),
         latex=lambda p, e: (p.arg(e.args[0].args[0], 9) + r"^{-\top}" if _is_transpose(e.args[0])
                             else p.arg(e.args[0], 9) + "^{-1}"),
         np_code="np.linalg.inv({0})")

# D(det X)[V] = det(X) tr(X⁻¹ V)   (Cookbook 41)
function("det", spellings=("linalg.det",), arity=1, build=_scalar_case("det", lambda a: a),
         shape=lambda dims, s: square("det")(dims, s, SCALAR),
         **smooth(lambda e, t: e * call("trace", call("inv", e.args[0]) @ t),
                  why="D(det X)[V] = det(X) tr(X⁻¹V)"),
         domain=("invertible",), np_code="np.linalg.det({0})",
         numeric=lambda ev, e, x: ev.np.linalg.det(x).reshape(1, 1))


def _logdet_value(ev, e, x):
    sign, logabs = ev.np.linalg.slogdet(x)
    return ev.np.full((1, 1), logabs if sign > 0 else ev.np.nan)   # log det X needs det X > 0


def _logdet_unicode(p, e):
    a = e.args[0]
    s = p.arg(a, 9)
    return f"log det{s}" if closed_group(s) else f"log det {s}"   # det(AB)ᵀ would be det(AB), transposed


# D(log det X)[V] = tr(X⁻¹ V)   (Cookbook 57, for det X > 0)
function("logdet", arity=1, shape=lambda dims, s: square("logdet")(dims, s, SCALAR),
         build=_scalar_case("logdet", lambda a: call("log", a)),
         **smooth(lambda e, t: call("trace", call("inv", e.args[0]) @ t), why="D(log det X)[V] = tr(X⁻¹V)"), domain=("posdet",),
         unicode=_logdet_unicode, np_code="np.linalg.slogdet({0})[1]", numeric=_logdet_value,
         # unbracketed on paper, log det applies to every factor on its right: (log det A)², (log det A) a
         extra={"paper_prec": lambda p, e: 3 if p.style == "unicode" else 9, "paper_prefix": True})


# -- trace -----------------------------------------------------------------------------------
# linear: transpose ct·I (Cookbook 100); matrix tr X = vec(I)ᵀ vec X

function("trace", spellings=("tr", "Tr"), arity=1, shape=lambda dims, s: square("trace")(dims, s, SCALAR),
         **linear(transpose=lambda e, i, ct: ct * eye(e.args[0].shape.rows),
                  matrix=lambda e, i: call("vec", eye(e.args[0].shape.rows)).T),
         unicode=lambda p, e: f"tr({p(e.args[0])})", np_code="np.trace({0})",
         extra={"scalars_out": True, "transpose_invariant": True, "scalar_identity": True},
         numeric=lambda ev, e, x: ev.np.trace(x).reshape(1, 1))


# -- diag: vector → diagonal matrix; diagonal: square matrix → vector of its diagonal -------------
# both linear, each other's transpose; vec diag(u) = S u with the selection S of diag_selection.

def _diag_build(args, params):
    (x,) = args
    s = DIMS.get().shape(x.shape)
    if s.is_scalar:
        return x
    if s.is_vector:
        return Call(DIAG, (x,))
    if s.is_row:
        raise ShapeMismatch("diag takes a column vector or a square matrix, but {0} is a row vector "
                            f"({s})", hint="diag({0}.T)?")
    return Call(DIAGONAL, (x,))


def diag_selection(n):
    """S (n²×n) with vec(diag(u)) = S u: S = diag(vec I)(𝟙 ⊗ I), the columns vec(eᵢeᵢᵀ); and
    diag(X) = Sᵀ vec X."""
    return call("diag", call("vec", eye(n))) @ call("kron", call("ones", params=(n, 1)), eye(n))


def _diagonal_shape(dims, s):
    square("diag")(dims, s)
    return Shape(s.rows, 1)


DIAG = function("diag", arity=1, build=_diag_build, shape=lambda dims, s: Shape(s.rows, s.rows),
                **linear(transpose=lambda e, i, ct: Call(DIAGONAL, (ct,)),
                         matrix=lambda e, i: diag_selection(e.shape.rows)),
                unicode=lambda p, e: f"diag({p(e.args[0])})", np_code="np.diag({0})",
                numeric=lambda ev, e, x: ev.np.diag(x[:, 0]), extra={"symmetric": True})
DIAGONAL = declare("diagonal", arity=1, shape=_diagonal_shape,
                   **linear(transpose=lambda e, i, ct: Call(DIAG, (ct,)),
                            matrix=lambda e, i: diag_selection(e.shape.rows).T),
                   text=lambda p, e: f"diag({p(e.args[0])})",
                   unicode=lambda p, e: f"diag({p(e.args[0])})",
                   latex=lambda p, e: rf"\operatorname{{diag}}\left({p(e.args[0])}\right)",
                   numpy=lambda em, e: em.template("np.diag({0})", e.args),
                   numeric=lambda ev, e, x: ev.np.diag(x).reshape(-1, 1))
