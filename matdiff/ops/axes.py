"""Reductions and maps along an axis (max, min, logsumexp, softmax, log_softmax per row or per
column), the all-entries forms no other module declares (max, min, log_softmax), the 0/1 masks
of where a max or min is taken, and the elementwise maximum / minimum of two operands.
`along(name, Z, axis)` builds f(Z, axis=k) for the reader; `maximum`, `minimum`, `clip` build
the pairwise forms.

Axes follow NumPy: axis=1 works along each row (one value per row), axis=0 along each column.
A reduction is an IR column (m×1 for axis 1, n×1 for axis 0); softmax keeps its operand's shape.
A sum, mean or norm along an axis needs no op of its own: Z𝟙 and Zᵀ𝟙 are products with ones.
An op along an axis always has a matrix operand, 2-D at run time: its constructor rewrites the
degenerate cases (a line of one entry, or a single line) to what they are."""

from __future__ import annotations

import math

from ..expr import DIMS, OPS, Call, Const, ShapeMismatch, call
from ..shapes import SCALAR, Shape
from .arith import broadcast_to, is_broadcast, shown_bare, size, spread
from .base import broadcast, declare, function, inner, smooth


def _axis(e):
    """The axis of a node along an axis; None for one over all entries."""
    return e.params[0] if e.params else None


# -- lines: what an op along an axis works on, for the numeric definitions -------------------------

def _lines(x, axis):
    """The lines along the axis as the rows of a 2-D array: Z's rows (axis 1), its columns
    (axis 0), or all entries as one line (None)."""
    return x if axis == 1 else x.T if axis == 0 else x.reshape(1, -1)


def _unlines(v, x, axis):
    """A value given line by line (one row per line), back in the layout of x."""
    return v if axis == 1 else v.T if axis == 0 else v.reshape(x.shape)


def _line_logsumexp(row) -> float:
    """log Σ exp(vᵢ) = top + log Σ exp(vᵢ − top), no term above 1; fsum keeps it accurate."""
    top = max(row)
    if not math.isfinite(top):   # +inf dominates; a line of −inf sums to 0, whose log is −inf
        return top
    return top + math.log(math.fsum(math.exp(v - top) for v in row))


def _logsumexp_value(ev, e, x):
    return ev.np.array([[_line_logsumexp(r)] for r in _lines(x, _axis(e))])


def _softmax_value(ev, e, x):
    axis = _axis(e)
    rows = [[math.exp(v - _line_logsumexp(r)) for v in r] for r in _lines(x, axis)]
    return _unlines(ev.np.array(rows), x, axis)


def _log_softmax_value(ev, e, x):
    axis = _axis(e)
    rows = [[v - _line_logsumexp(r) for v in r] for r in _lines(x, axis)]
    return _unlines(ev.np.array(rows), x, axis)


def _extreme_value(last: bool):
    """The largest (last after sorting) or smallest entry of each line, as a column."""
    def value(ev, e, x):
        ordered = ev.np.sort(_lines(x, _axis(e)), axis=1)
        out = ordered[:, -1:] if last else ordered[:, :1]
        return out if e.params else out.reshape(1, 1)
    return value


def _mask_value(largest: bool):
    """1 at the first entry of each line where the max (min) is taken, 0 elsewhere."""
    def value(ev, e, x):
        np, axis = ev.np, _axis(e)
        lines = _lines(x, axis)
        at = np.argmax(lines, axis=1) if largest else np.argmin(lines, axis=1)
        return _unlines(np.eye(lines.shape[1])[at], x, axis)
    return value


# -- sums along an axis, as products with ones (the rules' vocabulary) -----------------------------

def line_sums(x, axis: int):
    """Σ along the axis as a column: X𝟙 (axis 1, one sum per row) or Xᵀ𝟙 (axis 0, per column)."""
    if axis == 1:
        return x @ call("ones", params=(x.shape.cols, 1))
    return x.T @ call("ones", params=(x.shape.rows, 1))


def spread_lines(c, shape: Shape, axis: int):
    """A column c, one value per line, spread back along the axis over `shape`: c𝟙ᵀ or 𝟙cᵀ."""
    if axis == 1:
        return c @ call("ones", params=(1, shape.cols))
    return call("ones", params=(shape.rows, 1)) @ c.T


def _sum_and_spread(e):
    """For the rules of a node along an axis: the sum of an operand-shaped U along the axis (a
    column), and the spread of such a column back over the operand's shape."""
    axis, shape = _axis(e), e.args[0].shape
    return (lambda u: line_sums(u, axis)), (lambda c: spread_lines(c, shape, axis))


# -- printers ----------------------------------------------------------------------------------------

def _printers(name: str, latex_name: str) -> dict:
    """f(Z) for all entries, f(Z, axis=k) along an axis: the text reads back as written."""
    def text(p, e):
        axis = f", axis={e.params[0]}" if e.params else ""
        return f"{name}({p.arg(e.args[0], 0)}{axis})"

    def latex(p, e):
        axis = rf",\ \mathrm{{axis}}={e.params[0]}" if e.params else ""
        return rf"{latex_name}\left({p.arg(e.args[0], 0)}{axis}\right)"
    return dict(text=text, unicode=text, latex=latex)


def _np_form(template: str):
    """A NumPy template over the operand, with `axis={axis}` filled from the node."""
    return lambda em, e: em.template(template.replace("{axis}", str(_axis(e))), e.args)


# -- shapes and the degenerate cases ------------------------------------------------------------------

def _reduced(dims, s: Shape, axis: int) -> Shape:
    return Shape(s.rows if axis == 1 else s.cols, 1)


def _same(dims, s: Shape, *axis) -> Shape:
    return s


def _ties(sign: int):
    """The kink of a max (sign 1) or min (−1): where two entries of a line tie for it."""
    return lambda e: [(("untied", _axis(e), sign), e.args[0])]


def _degenerate(x, axis, alone, whole):
    """An op along an axis of x when x is not a matrix: `alone(x)` where each line is a single
    entry (a column along axis 1, a row along axis 0, a scalar), `whole(x)` where x is one line
    (a row along axis 1, a column along axis 0); None for a matrix."""
    s = DIMS.get().shape(x.shape)
    if (s.cols if axis == 1 else s.rows) == 1:
        return alone(x)
    if (s.rows if axis == 1 else s.cols) == 1:
        return whole(x)
    return None


def _as_column(z):
    return z.T if DIMS.get().shape(z.shape).is_row else z


def _ones_like(z):
    return call("ones", params=tuple(z.shape))


def _transposed_operand(x):
    return x.args[0] if isinstance(x, Call) and x.op.name == "transpose" else None


def _reduction_build(name: str, whole: str):
    """f(Z, axis=k) of a matrix Z is the op; f(Xᵀ, axis=k) = f(X, axis=1 − k); of a single line
    it is `whole` (the op over all entries); of lines of one entry, the entries themselves."""
    def build(args, params):
        (x,) = args
        (axis,) = params
        inner_ = _transposed_operand(x)
        if inner_ is not None and 1 not in DIMS.get().shape(inner_.shape):
            return call(name, inner_, params=(1 - axis,))
        out = _degenerate(x, axis, _as_column, lambda z: call(whole, z))
        return out if out is not None else Call(OPS[name], (x,), params)
    return build


def _map_build(name: str, whole: str, alone):
    """softmax / log_softmax along an axis: of a single line, the op over all entries; of lines
    of one entry, `alone(x)` (1 and 0: each entry is its own line)."""
    def build(args, params):
        (x,) = args
        out = _degenerate(x, params[0], alone, lambda z: call(whole, z))
        return out if out is not None else Call(OPS[name], (x,), params)
    return build


def _mask_build(name: str):
    """is_max(Z) (all entries) or is_max(Z, axis=k): of a scalar, or along lines of one entry,
    every entry is where the max is."""
    def build(args, params):
        (x,) = args
        if not params:
            return Const(1) if DIMS.get().shape(x.shape).is_scalar else Call(OPS[name], (x,))
        out = _degenerate(x, params[0], _ones_like, lambda z: call(name, z))
        return out if out is not None else Call(OPS[name], (x,), params)
    return build


def _all_entries_build(name: str, of_scalar):
    def build(args, params):
        (x,) = args
        return of_scalar(x) if DIMS.get().shape(x.shape).is_scalar else Call(OPS[name], (x,))
    return build


# -- where the max / min is: 0/1 masks, piecewise constant ----------------------------------------------

MASK_HELPER = """def _is_{which}(z, axis=None):
    return np.where(z == np.{which}(z, axis=axis, keepdims=True), 1.0, 0.0)
"""

for _which, _largest in (("max", True), ("min", False)):
    declare(f"is_{_which}", arity=1, shape=_same, build=_mask_build(f"is_{_which}"),
            jvp=lambda e, ts: None,   # constant between ties, where the sampler keeps away
            rule=("derivative table", "{op} is piecewise constant: D {op}(Z)[V] = 0 away from ties"),
            spellings=(f"is_{_which}",), numeric=_mask_value(_largest),
            **_printers(f"is_{_which}", rf"\operatorname{{is\_{_which}}}"),
            numpy=lambda em, e, w=_which: em.template(
                f"_is_{w}({{0}}" + (f", axis={e.params[0]})" if e.params else ")"), e.args),
            extra={"helper": MASK_HELPER.format(which=_which), "kinks": _ties(1 if _largest else -1)})


# -- over all entries: max, min, log_softmax ------------------------------------------------------------

# D max(X)[V] = ⟨M, V⟩, M = is_max(X) the 0/1 mask of the largest entry (away from ties)
for _which, _sign in (("max", 1), ("min", -1)):
    function(_which, spellings=(f"a{_which}",), arity=1, shape=lambda dims, s: SCALAR,
             build=_all_entries_build(_which, lambda x: x),
             **smooth(lambda e, t, w=_which: inner(call(f"is_{w}", e.args[0]), t),
                      why=f"D {_which}(X)[V] = ⟨is_{_which}(X), V⟩: V at the {_which}imal entry"),
             latex_name=rf"\{_which}", numeric=_extreme_value(_sign > 0),
             np_code=f"np.{_which}({{0}})",
             extra={"kinks": _ties(_sign), "transpose_invariant": True})

LOG_SOFTMAX = """def _log_softmax(z):
    shifted = z - np.max(z)
    return shifted - np.log(np.sum(np.exp(shifted)))
"""

# D log_softmax(x)[v] = v − (sᵀv)𝟙,  s = softmax(x)
function("log_softmax", arity=1, shape=_same, build=_all_entries_build("log_softmax", lambda x: Const(0)),
         **smooth(lambda e, t: t - broadcast_to(inner(call("softmax", e.args[0]), t), e.shape),
                  why="D log_softmax(x)[v] = v − (sᵀv)𝟙, s = softmax(x)"),
         np_code="_log_softmax({0})", extra={"helper": LOG_SOFTMAX}, numeric=_log_softmax_value)


# -- along an axis ------------------------------------------------------------------------------------

LOGSUMEXP_AXIS = """def _logsumexp_axis(z, axis):
    top = np.max(z, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(z - top), axis=axis)) + np.squeeze(top, axis=axis)
"""
SOFTMAX_AXIS = """def _softmax_axis(z, axis):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
"""
LOG_SOFTMAX_AXIS = """def _log_softmax_axis(z, axis):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
"""


def _lse_partial(e, t):
    total, _ = _sum_and_spread(e)
    return total(call("softmax_along", e.args[0], params=e.params) * t)


def _softmax_partial(e, t):
    total, back = _sum_and_spread(e)
    return e * t - e * back(total(e * t))


def _log_softmax_partial(e, t):
    total, back = _sum_and_spread(e)
    return t - back(total(call("softmax_along", e.args[0], params=e.params) * t))


def _extreme_partial(which: str):
    def partial(e, t):
        total, _ = _sum_and_spread(e)
        return total(call(f"is_{which}", e.args[0], params=e.params) * t)
    return partial


# D lse(Z, axis=1)[V] = (S ⊙ V)𝟙, S = softmax(Z, axis=1): each row's logsumexp moves by sᵢᵀvᵢ
declare("logsumexp_along", arity=1, shape=_reduced, build=_reduction_build("logsumexp_along", "logsumexp"),
        **smooth(_lse_partial, why="line by line along the axis (each row for axis=1, each column for axis=0): "
                 "D lse(z)[v] = softmax(z)ᵀv; for axis=1, (S ⊙ V)𝟙 with S = softmax(Z, axis=1)"),
        numeric=_logsumexp_value, **_printers("logsumexp", r"\operatorname{logsumexp}"),
        numpy=_np_form("_logsumexp_axis({0}, {axis})"), extra={"helper": LOGSUMEXP_AXIS})

# D softmax(Z, axis=1)[V] = S ⊙ V − S ⊙ ((S ⊙ V)𝟙𝟙ᵀ): the vector rule s ⊙ v − s(sᵀv), row by row
declare("softmax_along", arity=1, shape=_same,
        build=_map_build("softmax_along", "softmax", _ones_like),
        **smooth(_softmax_partial, why="line by line along the axis: D softmax(z)[v] = s ⊙ v − s(sᵀv); "
                 "for axis=1, S ⊙ V − S ⊙ ((S ⊙ V)𝟙𝟙ᵀ)"),
        numeric=_softmax_value, **_printers("softmax", r"\operatorname{softmax}"),
        numpy=_np_form("_softmax_axis({0}, {axis})"), extra={"helper": SOFTMAX_AXIS})

# D log_softmax(Z, axis=1)[V] = V − ((S ⊙ V)𝟙)𝟙ᵀ
declare("log_softmax_along", arity=1, shape=_same,
        build=_map_build("log_softmax_along", "log_softmax", lambda z: call("zeros", params=tuple(z.shape))),
        **smooth(_log_softmax_partial, why="line by line along the axis: D log_softmax(z)[v] = v − (sᵀv)𝟙; "
                 "for axis=1, V − ((S ⊙ V)𝟙)𝟙ᵀ"),
        numeric=_log_softmax_value, **_printers("log_softmax", r"\operatorname{log\_softmax}"),
        numpy=_np_form("_log_softmax_axis({0}, {axis})"), extra={"helper": LOG_SOFTMAX_AXIS})

# D max(Z, axis=1)[V] = (M ⊙ V)𝟙, M = is_max(Z, axis=1): each row's max moves with its largest entry
for _which, _sign in (("max", 1), ("min", -1)):
    declare(f"{_which}_along", arity=1, shape=_reduced, build=_reduction_build(f"{_which}_along", _which),
            **smooth(_extreme_partial(_which),
                     why=f"line by line along the axis: each {_which} moves with its entry, D {_which}(z)[v] = mᵀv, "
                         f"m = is_{_which}(z); for axis=1, (M ⊙ V)𝟙"),
            numeric=_extreme_value(_sign > 0), **_printers(_which, rf"\{_which}"),
            numpy=_np_form(f"np.{_which}({{0}}, axis={{axis}})"), extra={"kinks": _ties(_sign)})


# -- maximum(a, b), minimum(a, b): elementwise, scalars broadcast ------------------------------------------

def _pairwise_build(name: str):
    """maximum(a, a) = a (no kink to keep away from); maximum(z, 0) = relu(z)."""
    rule_ = broadcast(f"take the elementwise {name} of")

    def build(args, params):
        dims = DIMS.get()
        shape = rule_(dims, *(dims.shape(a.shape) for a in args))
        a, b = (x.args[0] if is_broadcast(x) else x for x in args)
        if a == b:
            return spread([a], shape)[0]
        if name == "maximum" and Const(0) in (a, b):
            return call("relu", a if b == Const(0) else b)
        return Call(OPS[name], tuple(spread([a, b], shape)), shape=shape)
    return build, rule_


def _pairwise_value(larger: bool):
    def value(ev, e, a, b):
        return ev.np.where(a > b, a, b) if larger else ev.np.where(a < b, a, b)
    return value


def _pairwise_printers(name: str, paper: str) -> dict:
    """maximum(a, b) in text (NumPy's name), max(a, b) on paper; a broadcast scalar shown bare."""
    def shown(p, e):
        return ", ".join(p.arg(a, 0) for a in shown_bare(e.args))
    return dict(text=lambda p, e: f"{name}({shown(p, e)})", unicode=lambda p, e: f"{paper}({shown(p, e)})",
                latex=lambda p, e: rf"\{paper}\left({shown(p, e)}\right)",
                numpy=lambda em, e: em.template(f"np.{name}({{0}}, {{1}})", shown_bare(e.args)))


def _partials(larger: bool):
    """∂ᵢ[t] = step(aᵢ − aⱼ) ⊙ t for maximum, step(aⱼ − aᵢ) ⊙ t for minimum: operand i moves the
    result at the entries where it is the one taken."""
    def partial_for(i: int):
        def partial(e, t):
            mine, other = e.args[i], e.args[1 - i]
            return call("step", mine - other if larger else other - mine) * t
        return partial
    return partial_for(0), partial_for(1)


# D max(a, b)[V] = step(a − b) ⊙ Da[V] + step(b − a) ⊙ Db[V]; D min(a, b)[V] = step(b − a) ⊙ Da[V] + …
# The kink a = b is kept away from.
for _name, _paper, _larger in (("maximum", "max", True), ("minimum", "min", False)):
    _build, _rule = _pairwise_build(_name)
    _first, _second = ("a − b", "b − a") if _larger else ("b − a", "a − b")
    declare(_name, arity=2, shape=_rule, build=_build, spellings=(_name,),
            **smooth(*_partials(_larger),
                     why=f"D {_paper}(a, b)[V] = step({_first}) ⊙ Da[V] + step({_second}) ⊙ Db[V]: "
                         f"each entry moves with the operand that is the {_paper} there"),
            numeric=_pairwise_value(_larger), **_pairwise_printers(_name, _paper),
            extra={"kinks": lambda e: [("nonzero", e.args[0] - e.args[1])]})


def maximum(a, b):
    return call("maximum", a, b)


def minimum(a, b):
    return call("minimum", a, b)


def clip(x, lo, hi):
    """np.clip: min(max(x, lo), hi), entrywise; lo and hi scalars or of x's shape."""
    return minimum(maximum(x, lo), hi)


# -- the reader's entry point ------------------------------------------------------------------------

ALONG = ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "norm")


def along(name: str, z, axis: int):
    """f(z, axis=k) as NumPy computes it, for f in ALONG and k in {0, 1}. A matrix z (m×n) gives
    one value per row (axis 1, an m×1 column) or per column (axis 0, n×1); softmax and
    log_softmax keep z's shape. A vector (a column or a row, 1-D in NumPy) has axis 0 only, its
    entries. Sums are products with ones (Z𝟙, Zᵀ𝟙), means those over the length of a line,
    norms the square roots of sums of squares."""
    if name not in ALONG:
        raise ValueError(f"along() knows {', '.join(ALONG)}; got {name!r}")
    s = DIMS.get().shape(z.shape)
    if s.is_scalar:
        raise ShapeMismatch(f"{{0}} is a scalar: {name} along an axis needs an array",
                            hint=f"{name}({{0}}) without axis").name_operands((z,))
    if axis not in (0, 1):
        raise ShapeMismatch(f"axis {axis} of {{0}}: an axis is 0 (along each column) or 1 (along each row)",
                            hint=f"{name}({{0}}, axis=0) or axis=1").name_operands((z,))
    if s.is_vector or s.is_row:
        if axis == 1:
            raise ShapeMismatch(f"{{0}} is a vector (1-D in NumPy), so it has axis 0 only, not axis 1 ({s})",
                                hint=f"{name}({{0}}) or axis=0 for all its entries").name_operands((z,))
        return call(name, z)
    if name == "sum":
        return line_sums(z, axis)
    if name == "mean":
        return line_sums(z, axis) / size(s.cols if axis == 1 else s.rows)
    if name == "norm":
        return call("sqrt", line_sums(call("power", z, Const(2)), axis))
    return call(f"{name}_along", z, params=(axis,))


__all__ = ["along", "clip", "line_sums", "maximum", "minimum", "spread_lines"]
