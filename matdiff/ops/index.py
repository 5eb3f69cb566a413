"""Indexing by constants: take(X, rows, cols) reads the selected rows and columns of X, and
scatter, its adjoint, puts a matrix at those positions of a zero matrix. Both are linear and
each other's transpose; vec(X[r, c]) = (S_c ⊗ S_r) vec X with the selection matrices
S = I[sel, :], rows of the identity.

A selection is a param: None (all), an int (one index, negative from the end), or a tuple
(start, stop, step) with Python's slice meaning. On an integer dim it is checked against the
size. On a symbolic dim n an index needs n large enough (each op's `min_sizes`, which verify's
Sampler reads), and a slice must have a length that does not depend on n: x[1:4] and x[-3:]
have 3 entries whatever n is, x[1:] has n − 1, which no dim can say."""

from __future__ import annotations

from ..errors import ShapeError
from ..expr import DIMS, Call, Const, Expr, ShapeMismatch, call
from ..shapes import Shape
from .arith import _np_dims, broadcast_to, is_broadcast, ones, zeros
from .base import declare, linear

HEAD, TAIL = "head", "tail"   # where a position on a symbolic dim n counts from: 0, or n


# -- selections ---------------------------------------------------------------------------------

def _is_int(k) -> bool:
    return isinstance(k, int) and not isinstance(k, bool)


def _param(sel):
    """A selection as a param: None, an int, or (start, stop, step) (hashable; a step of 1 is
    None). Accepts a Python slice for the tuple."""
    if isinstance(sel, slice):
        sel = (sel.start, sel.stop, sel.step)
    if sel is None or _is_int(sel):
        return sel
    if isinstance(sel, tuple) and len(sel) == 3 and all(k is None or _is_int(k) for k in sel):
        if sel[2] == 0:
            raise ShapeMismatch(f"the slice {_shown(sel)} of {{0}} has step 0", hint="a step is a nonzero integer")
        return sel[:2] + (None if sel[2] == 1 else sel[2],)
    shown = repr(sel).replace("{", "{{").replace("}", "}}")
    raise ShapeMismatch(f"cannot index {{0}} by {shown}",
                        hint="an index is an integer; a slice start:stop:step has integer bounds")


# how each style writes a minus, a colon and the comma between two subscripts
STYLES = {"text": ("-", ":", ", "), "unicode": ("−", ":", ", "), "latex": ("-", "{:}", r",\, ")}


def _shown(sel, minus: str = "-", colon: str = ":") -> str:
    """A selection as a subscript shows it: 2, -1, 1:3, ::2, : for all."""
    if sel is None:
        return colon
    if _is_int(sel):
        return str(sel).replace("-", minus)
    start, stop, step = (str(k).replace("-", minus) if k is not None else "" for k in sel)
    return f"{start}{colon}{stop}" + (f"{colon}{step}" if step else "")


def _words(s: Shape, axis: int) -> tuple[str, str]:
    """How a message names an index along `axis` of s, and the positions there (as many as
    that dim has: 1 column)."""
    if (s.rows, s.cols)[1 - axis] == 1:
        what, things = "index", "entries"
    else:
        what, things = ("row index", "rows") if axis == 0 else ("column index", "columns")
    if (s.rows, s.cols)[axis] == 1:
        things = {"entries": "entry", "rows": "row", "columns": "column"}[things]
    return what, things


def _anchored(k, default):
    return default if k is None else (HEAD, k) if k >= 0 else (TAIL, k)


def _span(sel, n, s: Shape, axis: int):
    """Where `sel` reads along a dim of size n (axis `axis` of the operand's shape s): (HEAD,
    positions) or, on a symbolic n, (TAIL, offsets from n, negative), as a range; None where it
    reads all of a symbolic n, in order or reversed (:, ::-1). Raises ShapeMismatch for an index
    out of range or an empty slice on an integer n, and for a slice whose length depends on a
    symbolic n."""
    if sel is None:
        return (HEAD, range(n)) if _is_int(n) else None
    what, things = _words(s, axis)
    if _is_int(sel):
        if not _is_int(n):
            return (HEAD if sel >= 0 else TAIL), range(sel, sel + 1)
        if not -n <= sel < n:
            raise ShapeMismatch(f"{what} {sel} is out of range for {{0}}, which has {n} {things} "
                                f"(valid: {-n} to {n - 1})")
        return HEAD, range(sel % n, sel % n + 1)
    if _is_int(n):
        r = range(n)[slice(*sel)]
        if not r:
            raise ShapeMismatch(f"the slice {_shown(sel)} selects none of the {n} {things} of {{0}} "
                                f"(valid indices: {-n} to {n - 1})")
        return HEAD, r
    start, stop, step = sel
    step = step or 1
    first = _anchored(start, (HEAD, 0) if step > 0 else (TAIL, -1))
    end = _anchored(stop, (TAIL, 0) if step > 0 else (HEAD, -1))
    if abs(step) == 1 and (first, end) in (((HEAD, 0), (TAIL, 0)), ((TAIL, -1), (HEAD, -1))):
        return None
    if first[0] != end[0]:
        raise ShapeMismatch(
            f"the slice {_shown(sel)} of {{0}} has a number of {things} that depends on {n}; "
            f"sizes are names or integers, not formulas of {n}",
            hint="declare the size of {0} as an integer, or give both bounds from the start (1:4) "
                 "or both from the end (-3:)")
    r = range(first[1], end[1], step)
    if not r:
        raise ShapeMismatch(f"the slice {_shown(sel)} selects none of the {things} of {{0}}")
    return first[0], r


def _count(sel, n, s: Shape, axis: int):
    span = _span(sel, n, s, axis)
    return n if span is None else len(span[1])


def _selection(anchor: str, r: range, n):
    """The param that reads the positions r (anchored as _span gives them) of a dim of size n."""
    if _is_int(n) and r == range(n):
        return None
    if len(r) == 1:
        return r[0]
    stop = r.stop
    if (anchor == HEAD) == (stop < 0):   # past the first entry going down, or past the last going up
        stop = None
    return r.start, stop, None if r.step == 1 else r.step


def _normal(sel, n, s: Shape, axis: int):
    """The canonical param of a selection as written: all of the dim is None, a slice of one
    entry its index; an index and a longer slice stay as written (x[-1], not x[4])."""
    span = _span(sel, n, s, axis)
    if span is None:
        return sel if sel is not None and sel[2] == -1 else None   # ::-1 keeps its order
    if _is_int(sel):
        return None if n == 1 else sel
    anchor, r = span
    if _is_int(n) and r == range(n):
        return None
    return r[0] if len(r) == 1 else sel


def _least(sel) -> int:
    """The least size of a symbolic dim on which `sel` reads what it says."""
    span = _span(sel, "n", Shape("n", "n"), 0)
    if span is None:
        return 1
    anchor, r = span
    return max(r[0], r[-1]) + 1 if anchor == HEAD else -min(r[0], r[-1])


def _least_sizes(sels, s: Shape) -> list:
    """(dim, least size) for each symbolic dim of s that a selection reads into."""
    return [(n, _least(sel)) for sel, n in zip(sels, s, strict=True) if sel is not None and not _is_int(n)]


def _positions(node: Call, sels, s: Shape, ev, operand: str) -> list:
    """The positions the selections read on an operand of shape s (named `operand` in errors),
    at the sizes of the evaluation, for the numeric definitions: a size too small for what a
    symbolic dim was read with is an error, not a different selection."""
    out = []
    for axis, (sel, dim) in enumerate(zip(sels, s, strict=True)):
        size = ev.size(dim)
        if not _is_int(dim) and sel is not None and size < _least(sel):
            raise ShapeError(f"{node} needs {dim} ≥ {_least(sel)}, but {dim} = {size}")
        try:
            out.append(list(_span(sel, size, s, axis)[1]))
        except ShapeMismatch as err:
            raise ShapeError(err.name_operands([operand]).message) from None
    return out


# -- take: X[rows, cols] --------------------------------------------------------------------------

def _take_shape(dims, s: Shape, rows, cols) -> Shape:
    return Shape(_count(rows, s.rows, s, 0), _count(cols, s.cols, s, 1))


def _take_build(args, params):
    """All of X is X; a take of a take is one take; X[r, c] of the scatter to [r, c] is what was
    scattered; 0, 𝟙 and c𝟙𝟙ᵀ indexed are the same constant, smaller."""
    (x,) = args
    s = DIMS.get().shape(x.shape)
    rows, cols = (_normal(_param(p), n, s, axis) for axis, (p, n) in enumerate(zip(params, s, strict=True)))
    if rows is None and cols is None:
        return x
    if isinstance(x, Call) and x.op is TAKE:
        composed = _composed(x, (rows, cols))
        if composed is not None:
            return composed
    if isinstance(x, Call) and x.op is SCATTER and x.params[:2] == (rows, cols):
        return x.args[0]
    out = _take_shape(DIMS.get(), s, rows, cols)
    if isinstance(x, Call) and x.op.name in ("zeros", "ones"):
        return zeros(out) if x.op.name == "zeros" else ones(out)
    if is_broadcast(x):
        return broadcast_to(x.args[0], out)
    return Call(TAKE, (x,), (rows, cols))


def _composed(inner: Call, outer: tuple):
    """take(take(Y, a), b) as take(Y, ·); None where a reversal of a symbolic dim (::-1) is in
    the way."""
    y = inner.args[0]
    s = DIMS.get().shape(y.shape)
    out = []
    for axis, (n, a, b) in enumerate(zip(s, inner.params, outer, strict=True)):
        if a is None or b is None:
            out.append(b if a is None else a)
            continue
        span = _span(a, n, s, axis)
        if span is None:
            return None
        anchor, r = span
        picked = _span(b, len(r), Shape(len(r), len(r)), axis)[1]   # positions within r
        out.append(_selection(anchor, range(r.start + r.step * picked.start, r.start + r.step * picked.stop,
                                            r.step * picked.step), n))
    return call("take", y, params=tuple(out))


def _selector(sel, n) -> Expr:
    """S with S X = X[sel, :] for X with n rows: those rows of the identity."""
    return call("take", call("eye", params=(n,)), params=(sel, None))


def _selection_matrix(sels, s: Shape) -> Expr:
    """vec(S_r X S_cᵀ) = (S_c ⊗ S_r) vec X."""
    rows, cols = sels
    return call("kron", _selector(cols, s.cols), _selector(rows, s.rows))


def _subscripts(sels, s: Shape, style: str = "text") -> str:
    """The subscripts as NumPy writes them on the runtime array of an operand of shape s: one for
    a vector (1-D), two for a matrix."""
    minus, colon, sep = STYLES[style]
    rows, cols = sels
    if s.cols == 1:
        return _shown(rows, minus, colon)
    if s.rows == 1:
        return _shown(cols, minus, colon)
    return _shown(rows, minus, colon) + sep + _shown(cols, minus, colon)


def _take_value(ev, e, x):
    rows, cols = _positions(e, e.params, e.args[0].shape, ev, str(e.args[0]))
    return x[ev.np.ix_(rows, cols)]


def _take_printer(p, e) -> str:
    return f"{p.arg(e.args[0], 9)}[{_subscripts(e.params, e.args[0].shape, p.style)}]"


def _scatter_params(e: Call) -> tuple:
    return (*e.params, *e.args[0].shape)


# linear: transpose the scatter back to X's positions; matrix the selection matrix S_c ⊗ S_r
TAKE = declare(
    "take", arity=1, shape=_take_shape, build=_take_build, prec=9,
    **linear(transpose=lambda e, i, ct: call("scatter", ct, params=_scatter_params(e)),
             matrix=lambda e, i: _selection_matrix(e.params, e.args[0].shape),
             why="indexing is linear: D(X[r, c])[V] = V[r, c]"),
    transposed=lambda e, t: call("take", t(e.args[0]), params=e.params[::-1]),   # (X[r, c])ᵀ = Xᵀ[c, r]
    numeric=_take_value, text=_take_printer, unicode=_take_printer, latex=_take_printer,
    numpy=lambda em, e: (f"{em.arg(e.args[0], 9)}[{_subscripts(e.params, e.args[0].shape)}]", 9),
    extra={"scalars_out": True, "min_sizes": lambda e: _least_sizes(e.params, e.args[0].shape)})


def take(x: Expr, rows, cols) -> Expr:
    """x[rows, cols] on the IR's 2-D value: each of rows and cols is None (all), an int (one
    index, negative from the end) or a slice of ints and None; one index leaves 1 row (or
    column). Raises ShapeMismatch for an index out of range, an empty slice, or a slice whose
    length depends on a symbolic dim."""
    return call("take", x, params=(rows, cols))


# -- scatter: zeros of the operand's shape with U at [rows, cols] ------------------------------------

SCATTER_HELPER = """def _scatter(values, shape, index):
    # zeros of `shape` with `values` at `index`: the adjoint of reading array[index]
    out = np.zeros(shape)
    out[index] = values
    return out
"""


def _scatter_shape(dims, u: Shape, rows, cols, m, n) -> Shape:
    s = Shape(m, n)
    want = _take_shape(dims, s, rows, cols)
    if not (dims.same(u.rows, want.rows) and dims.same(u.cols, want.cols)):
        raise ShapeMismatch(f"cannot put {{0}} ({dims.shape(u)}) at [{_subscripts((rows, cols), s)}] of a "
                            f"{s} matrix, which holds {want} there")
    return s


def _scatter_build(args, params):
    """U at all positions is U; 0 put anywhere is 0."""
    (u,) = args
    *sels, m, n = params
    s = Shape(m, n)
    rows, cols = (_normal(_param(p), d, s, axis) for axis, (p, d) in enumerate(zip(sels, s, strict=True)))
    if rows is None and cols is None:
        return u
    if isinstance(u, Const) and u.value == 0 or isinstance(u, Call) and u.op.name == "zeros":
        return zeros(s)
    return Call(SCATTER, (u,), (rows, cols, m, n))


def _scatter_value(ev, e, u):
    rows, cols = _positions(e, e.params[:2], e.shape, ev, f"the {e.shape} result of {e}")
    out = ev.np.zeros(ev.shape(e))
    out[ev.np.ix_(rows, cols)] = u
    return out


def _scatter_printer(style: str):
    """zeros(m, n).at[r, c].set(U), as JAX writes it; zeros(n).at[i].set(u) for a column, and
    that transposed for a row."""
    zeros_, at, put, then = {"text": ("zeros", ".at", ".set", ".T"), "unicode": ("zeros", ".at", ".set", "ᵀ"),
                             "latex": (r"\operatorname{zeros}", r".\mathrm{at}", r".\mathrm{set}", r"^\top")}[style]

    def pr(p, e):
        m, n = e.shape
        size = f"{m}, {n}" if m != 1 and n != 1 else f"{m if n == 1 else n}"
        body = f"{zeros_}({size}){at}[{_subscripts(e.params[:2], e.shape, style)}]{put}({p(e.args[0])})"
        return body + then if m == 1 else body
    return pr


# linear: transpose reads the positions back (take); matrix (S_c ⊗ S_r)ᵀ
SCATTER = declare(
    "scatter", arity=1, shape=_scatter_shape, build=_scatter_build, prec=9,
    **linear(transpose=lambda e, i, ct: call("take", ct, params=e.params[:2]),
             matrix=lambda e, i: _selection_matrix(e.params[:2], e.shape).T,
             why="scatter is linear: D(scatter U)[V] = scatter(DU[V])"),
    transposed=lambda e, t: call("scatter", t(e.args[0]), params=(e.params[1], e.params[0], e.params[3], e.params[2])),
    numeric=_scatter_value, text=_scatter_printer("text"), unicode=_scatter_printer("unicode"),
    latex=_scatter_printer("latex"),
    numpy=lambda em, e: (f"_scatter({em.code(e.args[0])[0]}, {_np_dims(em, e)}, "
                         f"np.s_[{_subscripts(e.params[:2], e.shape)}])", 9),
    # on paper, bracketed as a factor: 2(zeros(n).at[2].set(x)), not 2zeros(n)…
    extra={"helper": SCATTER_HELPER, "scalars_out": True, "paper_prec": 2,
           "min_sizes": lambda e: _least_sizes(e.params[:2], e.shape)})
