"""Declarators for ops: `declare` registers an Op; `elementwise`, `function` and the shape
helpers keep each op's declaration to a few lines. Shape rules take the dim context first
(`dims.same(a, b)` unifies while reading, compares once shapes are known).

How an op is differentiated is declared by its kind, and the rule a kind implies is written
once, here:
- `linear(...)`: the jvp is the op applied to the tangent; the op writes its transpose (the
  adjoint) and its matrix (vec f(V) = M vec V);
- `bilinear(...)`: linear in each argument separately (⊙, @, ⊗); the product rule
  D f(A, B)[V] = f(DA[V], B) + f(A, DB[V]) is derived here; a transpose and a matrix per side;
- `smooth(...)`: one partial derivative per argument, D f[V] = Σᵢ ∂ᵢf[DAᵢ[V]];
- `elementwise(...)`: f applied entrywise, from f′.
`linear`, `bilinear` and `smooth` give the fields to spread into `declare` or `function`."""

from __future__ import annotations

from ..expr import Op, ShapeMismatch, call, register
from ..shapes import SCALAR, Shape, dim_mul, may_agree

LATEX_NAMES = {"trace": r"\operatorname{tr}", "det": r"\det", "logdet": r"\log\det", "exp": r"\exp",
               "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "sigmoid": r"\sigma"}


def declare(name: str, **fields) -> Op:
    return register(Op(name=name, **fields))


# -- printers --------------------------------------------------------------------------------

def call_text(name: str):
    return lambda p, e: f"{name}({', '.join(p.arg(a, 0) for a in e.args)})"


def call_unicode(name: str):
    return lambda p, e: f"{name}({', '.join(p.arg(a, 0) for a in e.args)})"


def call_latex(name: str):
    return lambda p, e: rf"{name}\left({', '.join(p.arg(a, 0) for a in e.args)}\right)"


def function(name: str, *, spellings=(), unicode_name=None, latex_name=None, np_code=None, **fields) -> Op:
    """A function-call op printed `name(args)`; `np_code` is its NumPy form, one call, as a format
    string over the args (`np.linalg.slogdet({0})[1]`), filled in by the emitter's `template`."""
    unicode_name = unicode_name or name
    latex_name = latex_name or LATEX_NAMES.get(name, rf"\operatorname{{{name}}}")
    fields.setdefault("text", call_text(name))
    fields.setdefault("unicode", call_unicode(unicode_name))
    fields.setdefault("latex", call_latex(latex_name))
    if np_code is not None:
        fields.setdefault("numpy", lambda em, e: em.template(np_code, e.args))
    return declare(name, spellings=(name, *spellings), **fields)


def linear(*, transpose, matrix, why="{op} is linear, so D {op}(U)[V] = {op}(DU[V])", **fields) -> dict:
    """A linear op: jvp f(V) (a unary op applied to its tangent; an n-ary one is a sum, and a
    zero tangent drops out). `transpose(node, i, ct)` is the adjoint, `matrix(node, i)` the M
    with vec f(X) = M vec X (None: the same entries in the same order, M = I)."""
    def jvp(e, ts):
        if len(ts) == 1:
            return call(e.op, ts[0], params=e.params)
        terms = [t for t in ts if t is not None]
        return call(e.op, *terms, params=e.params)
    return dict(jvp=jvp, linear="all", transpose=transpose, matrix=matrix, rule=("linearity", why), **fields)


def bilinear(*, transpose, matrix, **fields) -> dict:
    """An op linear in each argument separately: the product rule, and per side i the
    transpose(node, i, ct) and matrix(node, i) of the map argᵢ ↦ f with the others fixed."""
    def jvp(e, ts):
        terms = [call(e.op, *e.args[:i], t, *e.args[i + 1:], params=e.params)
                 for i, t in enumerate(ts) if t is not None]
        return call("add", *terms) if terms else None
    why = "{op} is linear in each factor: differentiate one factor at a time and add (product rule)"
    return dict(jvp=jvp, linear="multi", transpose=transpose, matrix=matrix, rule=("product rule", why),
                **fields)


def smooth(*partials, why: str = "", linear_in: tuple = (), **fields) -> dict:
    """A differentiable op given by its partial derivatives: `partials[i](node, t)` is
    ∂ᵢf[t], the change of f when argument i moves by t; `why` states the derivative as the
    table gives it (D(X⁻¹)[V] = −X⁻¹VX⁻¹). An op that is also linear in some arguments (a / b
    in a) names them in `linear_in`, with their transpose and matrix."""
    def jvp(e, ts):
        terms = [partials[i](e, t) for i, t in enumerate(ts) if t is not None]
        return call("add", *terms) if terms else None
    return dict(jvp=jvp, linear=linear_in, rule=("derivative table", why or "the derivative of {op}"), **fields)


def constant() -> dict:
    """An op of no arguments (I, 𝟙, K(m, n)): its derivative is zero."""
    return dict(jvp=lambda e, ts: None)


# -- matrices of linear maps, for the ops' `matrix` rules -------------------------------------------

def vec_length(s: Shape):
    return dim_mul(s.rows, s.cols)


def identity(n):
    return call("eye", params=(n,))


_CHAIN = "{op} applied entrywise: D {op}(U)[V] = {op}′(U) ⊙ DU[V]"


def elementwise(name: str, *, deriv, np_code: str, value, spellings=(), domain="any", **fields) -> Op:
    """f applied entrywise. `deriv(x, y)` is f'(x) as an Expr of the argument x and/or the
    value y = f(x) (σ' = y(1 − y)): the jvp is f'(x) ⊙ v. `value(np, x)` is the plain
    definition the reference evaluator uses (written apart from `np_code`, the emitted form)."""
    extra = {**fields.pop("extra", {}), "deriv": deriv, "elementwise": True}
    return function(name, spellings=spellings, arity=1, shape=same_shape_unary,
                    **{**smooth(lambda e, t: deriv(e.args[0], e) * t), "rule": ("chain rule", _CHAIN)},
                    np_code=np_code, domain=(domain,), extra=extra,
                    numeric=lambda ev, e, x: value(ev.np, x), **fields)


# -- shape rules -----------------------------------------------------------------------------

def same_shape_unary(dims, s: Shape) -> Shape:
    return s


def to_scalar(dims, s: Shape) -> Shape:
    return SCALAR


def square(what: str):
    def rule(dims, s: Shape, out=None):
        if not dims.same(s.rows, s.cols):
            raise ShapeMismatch(f"{what} needs a square matrix, but {{0}} is {dims.shape(s)}",
                                hint=_square_hint(what, s))
        return s if out is None else out
    return rule


def _square_hint(what: str, s: Shape) -> str | None:
    if what == "trace":
        return "the trace of a product is square only when the outer dims agree; check the order of the factors"
    if s.is_vector:
        return f"{what} of a vector: did you mean diag({{0}})?" if what != "inv" else "a vector has no inverse; use 1 / {0} for the elementwise reciprocal"
    return None


def broadcast(verb: str):
    """Shape rule of elementwise n-ary ops: equal shapes, scalars broadcast."""
    def rule(dims, *shapes: Shape) -> Shape:
        out, first = None, None
        for i, s in enumerate(shapes):
            if dims.shape(s).is_scalar:
                continue
            if out is None:
                out, first = s, i
                continue
            if not (dims.same(out.rows, s.rows) and dims.same(out.cols, s.cols)):
                o, t = dims.shape(out), dims.shape(s)
                hint = None
                if verb == "multiply elementwise" and may_agree(dims, o.cols, t.rows):
                    hint = "use @ for the matrix product"
                elif o.rows == t.cols and o.cols == t.rows:
                    hint = f"transpose one side: {{{i}}}.T?"
                raise ShapeMismatch(f"cannot {verb} {{{first}}} ({o}) and {{{i}}} ({t})", hint=hint)
        return out if out is not None else SCALAR
    return rule


def need_scalar(dims, s: Shape, what: str, ref: int):
    if not (dims.same(s.rows, 1) and dims.same(s.cols, 1)):
        raise ShapeMismatch(f"{what} must be a scalar, but {{{ref}}} is {dims.shape(s)}")


# -- small builders used by rules ------------------------------------------------------------

def inner(a, b):
    """⟨a, b⟩ as a readable scalar expression: aᵀb for vectors, sum(a ⊙ b) otherwise."""
    if a.shape.is_vector:
        return a.T @ b
    if a.shape.is_scalar:
        return a * b
    return call("sum", a * b)
