"""The derivation engine. DF|X[V] comes from one forward (jvp) rule per op, composed by the chain
rule over the expression DAG; the gradient of a scalar f is the transpose of that linear map
(⟨∇f, V⟩ = DF|X[V], the trace trick made mechanical), found by pushing a cotangent back through
the linear ops. Both results are simplified to textbook form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from .errors import DerivationError, ShapeError
from .expr import Call, Const, Expr, Symbol, call, substitute
from .matrices import chain_factors, linear_map_matrix
from .ops import eye, zeros
from .simplify import _t, simplify, zero_like
from .simplify.engine import rules_fired
from .reader import Reading, read
from .steps import Step, chain_why, derivative_step, read_off_rule, recorder, recording


# -- forward mode ---------------------------------------------------------------------------------

def jvp(expr: Expr, directions: dict[str, Expr]) -> Expr | None:
    """DF[V]: the tangent of `expr` when each symbol named in `directions` moves along its
    direction. None is the symbolic zero (no dependence). Shared nodes are derived once."""
    tangents: dict[int, Expr | None] = {}
    steps = recorder()
    for node in expr.walk():
        if isinstance(node, Symbol):
            t = directions.get(node.name)
        elif isinstance(node, Call):
            ts = [tangents[id(a)] for a in node.args]
            if all(t is None for t in ts):
                t = None
            elif node.op.jvp is None:
                raise DerivationError(f"matdiff has no derivative rule for {node.op.name}")
            else:
                t = node.op.jvp(node, ts)
                if t is not None and t.shape != node.shape:
                    raise DerivationError(f"internal: the {node.op.name} rule gave a tangent of shape "
                                          f"{t.shape} for {node} ({node.shape})")
                if steps is not None and t is not None:
                    live = [i for i, x in enumerate(ts) if x is not None]
                    steps.append(derivative_step(node, t, tuple(str(d) for d in directions.values()), live))
        else:
            t = None
        tangents[id(node)] = t
    return tangents[id(expr)]


# -- reverse mode: transpose a linear map ---------------------------------------------------------

def transpose(linear: Expr, directions: dict[str, Symbol], seed: Expr = Const(1)) -> dict[str, Expr]:
    """For a scalar `linear` = L(V) linear in the direction symbols, the G with ⟨G, V⟩ = L(V).
    Cotangents flow from the root to the directions in reverse topological order and are added
    where paths meet."""
    names = {d.name for d in directions.values()}
    order = list(linear.walk())
    depends: set[int] = set()
    for node in order:
        if (isinstance(node, Symbol) and node.name in names) or (
                isinstance(node, Call) and any(id(a) in depends for a in node.args)):
            depends.add(id(node))
    cts: dict[int, list[Expr]] = {id(linear): [seed]}
    out: dict[str, list[Expr]] = {}
    for node in reversed(order):
        parts = cts.pop(id(node), None)
        if parts is None:
            continue
        # contributions arrive in reverse topological order; reversed, they follow the input's terms
        ct = parts[0] if len(parts) == 1 else call("add", *reversed(parts))
        if isinstance(node, Symbol):
            if node.name in names:
                out.setdefault(node.name, []).append(ct)
            continue
        if not isinstance(node, Call) or id(node) not in depends:
            continue
        live = [i for i, a in enumerate(node.args) if id(a) in depends]
        op = node.op
        if op.transpose is None or not op.is_linear_in(live):
            if op.transpose is None:
                raise DerivationError(f"matdiff has no transpose rule for {op.name} yet, so it cannot turn "
                                      f"DF|X[V] into a gradient here: {node}",
                                      hint="the directional derivative (.directional) and --kron still work")
            raise DerivationError(f"internal: DF[V] is not linear in V at {op.name}: {node}")
        for i in live:
            cts.setdefault(id(node.args[i]), []).append(op.transpose(node, i, ct))
    by_var = {}
    for var, d in directions.items():
        parts = out.get(d.name)
        by_var[var] = None if parts is None else call("add", *parts)
    return by_var


def project(g: Expr, var: Symbol) -> Expr:
    """The gradient on the space the variable lives in: sym(G) = (G + Gᵀ)/2 for a symmetric X,
    G ⊙ I for a diagonal one; G itself otherwise."""
    if "diagonal" in var.props:
        return g * eye(var.shape.rows)
    if var.props & {"symmetric", "spd"}:
        return (g + g.T) / 2
    return g


# -- the public object ------------------------------------------------------------------------------

def _direction_names(variables: list[Symbol], taken: set[str]) -> dict[str, str]:
    if len(variables) == 1:
        v = variables[0]
        name = "V" if not v.shape.is_vector and not v.shape.is_scalar else "v"
        if name not in taken:
            return {v.name: name}
    names = {}
    for v in variables:
        name = "d" + v.name
        while name in taken:
            name = "d" + name
        names[v.name] = name
    return names


@dataclass
class Derivation:
    """The derivative of `expr` w.r.t. the variables `wrt`: DF|X[V] (`directional`), the
    gradient of a scalar function (`gradient`), NumPy code for it and its verification."""

    expr: Expr
    wrt: list[str]
    reading: Reading | None = None
    variables: dict[str, Symbol] = field(default_factory=dict)
    directions: dict[str, Symbol] = field(default_factory=dict)
    layout: str = "numerator"

    @cached_property
    def value_expr(self) -> Expr:
        """f simplified: what is derived and what the emitted value() computes
        (log(1 + exp(z)) becomes the overflow-free softplus(z))."""
        return simplify(self.expr)

    @cached_property
    def _linear(self) -> Expr | None:
        return jvp(self.value_expr, self.directions)

    @cached_property
    def directional(self) -> Expr:
        """DF|X[V]: linear in the direction symbols (`directions`, V for X or dW, db, …)."""
        lin = self._linear
        return zero_like(self.expr) if lin is None else simplify(lin)

    @cached_property
    def gradients(self) -> dict[str, Expr]:
        """∇f per variable, each of the variable's shape (f must be scalar)."""
        if not self.expr.shape.is_scalar:
            raise ShapeError(f"{self.expr} is {self.expr.shape}, not a scalar: a gradient needs a scalar "
                             "function", hint="use the directional derivative DF|X[V] (.directional) "
                             "or the Jacobian for a vector- or matrix-valued function")
        cts = transpose(self.directional, self.directions) if self._linear is not None else {}
        out = {}
        for name in self.wrt:
            var = self.variables[name]
            g = cts.get(name)
            g = zeros(var.shape) if g is None else g
            out[name] = simplify(project(g, var))
        return out

    @property
    def gradient(self):
        """∇f: an Expr for one variable, a dict name → Expr for several."""
        g = self.gradients
        return g[self.wrt[0]] if len(self.wrt) == 1 else dict(g)

    # -- second derivatives and matrices of the linear maps ----------------------------------------
    def _per_variable(self, value):
        return value[self.wrt[0]] if len(self.wrt) == 1 else dict(value)

    def _layout(self, m: Expr) -> Expr:
        return simplify(_t(m)) if self.layout == "denominator" else m

    @cached_property
    def jacobians(self) -> dict[str, Expr]:
        """J per variable. For a vector (or scalar) variable, DF[v] = J v: m×n in numerator
        layout, n×m in denominator layout (J = (∇f₁, …, ∇fₘ)). For a matrix variable, the
        Kronecker form: vec DF[V] = J vec V (column-major vec)."""
        out = {}
        for name in self.wrt:
            d = self.directions[name]
            out[name] = self._layout(linear_map_matrix(_only(self.directional, d, self.directions), d))
        return out

    @property
    def jacobian(self):
        """The Jacobian (see `jacobians`): an Expr for one variable, a dict for several."""
        return self._per_variable(self.jacobians)

    @cached_property
    def hvps(self) -> dict[str, Expr]:
        """D(∇f)|X[V] per variable a, summed over the directions of all variables."""
        out = {}
        for name, g in self.gradients.items():
            t = jvp(g, self.directions)
            out[name] = zero_like(g) if t is None else simplify(t)
        return out

    @property
    def hvp(self):
        """The Hessian-vector product D(∇f)|X[V], in the direction symbols of `directions`."""
        return self._per_variable(self.hvps)

    @cached_property
    def hessians(self) -> dict[tuple[str, str], Expr]:
        """Blocks ∂²f/∂a∂b: n×n for vector variables; a Kronecker form (vec ∇ₐf moves by
        H vec V_b) when a variable is a matrix."""
        out = {}
        for a in self.wrt:
            for b in self.wrt:
                d = self.directions[b]
                out[(a, b)] = linear_map_matrix(_only(self.hvps[a], d, self.directions), d)
        return out

    @property
    def hessian(self):
        """∇²f: an Expr for one variable; a dict (a, b) → block for several."""
        h = self.hessians
        return h[(self.wrt[0], self.wrt[0])] if len(self.wrt) == 1 else dict(h)

    @cached_property
    def krons(self) -> dict[str, Expr]:
        """The Kronecker form of the derivative: of DF[V] for a non-scalar F, of the Hessian
        D(∇f)[V] for a scalar f."""
        out = {}
        for name in self.wrt:
            d = self.directions[name]
            lin = self.hvps[name] if self.expr.shape.is_scalar else self.directional
            out[name] = linear_map_matrix(_only(lin, d, self.directions), d)
        return out

    @property
    def kron(self):
        return self._per_variable(self.krons)

    def jacobian_function(self):
        from .emit.numpy import compile_results
        return compile_results(self, [self.jacobians[w] for w in self.wrt], "jacobian")

    def hessian_function(self):
        from .emit.numpy import compile_results
        blocks = [self.hessians[(a, b)] for a in self.wrt for b in self.wrt]
        return compile_results(self, blocks, "hessian")

    @property
    def symbols(self) -> dict[str, Symbol]:
        if self.reading is not None:
            return self.reading.symbols
        return self.expr.symbols()

    # -- code and checks --------------------------------------------------------------------------
    def to_numpy(self, kind: str = "gradient", name: str | None = None) -> str:
        """Python source of `value` and one function (named `name`, default `kind`) for `kind`:
        gradient, jacobian, hessian, kron or hvp. It imports numpy only."""
        from .emit.numpy import results_module
        return results_module(self, kind, name or kind)

    def gradient_function(self):
        from .emit.numpy import compile_gradient
        return compile_gradient(self)

    def value_function(self):
        from .emit.numpy import compile_value
        return compile_value(self.value_expr, list(self.symbols.values()))

    def steps(self) -> list[Step]:
        """The derivation as the engine took it: DF[V] node by node under each op's rule
        (linearity, product rule, chain rule, a table derivative), DF[V] simplified, and for a
        scalar f the gradient read off ⟨∇f, V⟩ term by term. Every step is an equation that
        holds (a derivative step by differences of its left side)."""
        out: list[Step] = []
        if self.value_expr != self.expr:
            out.append(Step("simplify", "the function, simplified before it is differentiated",
                            self.expr, self.value_expr))
        with recording() as taken:
            raw = jvp(self.value_expr, self.directions)
        out += taken
        if raw is None:
            return out
        if raw != self.directional:
            with rules_fired() as fired:
                simplify(raw)
            named = ", ".join(dict.fromkeys(fired))   # each rule once, in the order it first fired
            dirs = tuple(str(d) for d in self.directions.values())
            out.append(Step("simplify", f"DF[V] simplified by the rules {named}" if named else "DF[V] simplified",
                            self.value_expr, self.directional, "derivative", dirs))
        if not self.expr.shape.is_scalar:
            return out
        for name in self.wrt:
            d = self.directions[name]
            lin = _only(self.directional, d, self.directions)
            terms = lin.args if isinstance(lin, Call) and lin.op.name == "add" else (lin,)
            parts = []
            for t in terms:
                g = transpose(t, {name: d}).get(name)
                if g is None:
                    continue
                g = simplify(g)
                rule, why = read_off_rule(t, d)
                out.append(Step(rule, why, t, g, "read off", (str(d),)))
                parts.append(g)
            total = project(call("add", *parts), self.variables[name]) if parts else zeros(d.shape)
            with rules_fired() as fired:
                simplify(total)
            named = ", ".join(dict.fromkeys(fired))
            out.append(Step("gradient", "∇f is what DF[V] = ⟨∇f, V⟩ pairs with V"
                            + (f", simplified by the rules {named}" if named else ""),
                            total, self.gradients[name], "gradient", var=name))
        return out

    def jacobian_steps(self) -> list[Step]:
        """The Jacobian as the chain rule writes it: for each variable, J as the product of the
        matrices of the linear maps DF[V] passes through, outer first and each shaped
        (σ(W₂ tanh(W₁x)): diag(σ′) · W₂ · diag(1 − tanh²) · W₁), then J simplified. Where DF[V]
        is a sum of paths (x ⊙ Wx), J is given whole."""
        out: list[Step] = []
        for name in self.wrt:
            d = self.directions[name]
            factors = chain_factors(_only(self.directional, d, self.directions), d)
            j = self.jacobians[name]
            if factors is None or len(factors) < 2:
                out.append(Step("jacobian", "J, with DF[V] = J V", self.value_expr, j, "jacobian", (str(d),), name))
                continue
            ms = tuple(m for _, m in factors)
            product = call("matmul", *ms)
            if self.layout == "denominator":
                product = product.T
            out.append(Step("chain rule", chain_why(ms), self.value_expr, product, "jacobian", (str(d),), name, ms))
            if product != j:
                out.append(Step("simplify", "the product multiplied out and simplified", product, j))
        return out

    def verify(self, seed: int = 0, **options):
        from .verify import verify_gradient
        return verify_gradient(self, seed=seed, **options)


def _only(linear: Expr, keep: Symbol, directions: dict[str, Symbol]) -> Expr:
    """The part of a map linear in several directions that moves with `keep` (others set to 0)."""
    zeroed = {d: (Const(0) if d.shape.is_scalar else zeros(d.shape)) for d in directions.values() if d != keep}
    return simplify(substitute(linear, zeroed)) if zeroed else linear


def _wrt_names(wrt) -> list[str]:
    """The `wrt` argument read: "x", "W, b", or a list of names (or Symbols)."""
    if isinstance(wrt, str):
        return [w for w in re.split(r"[,\s]+", wrt) if w]
    if isinstance(wrt, Symbol):
        return [wrt.name]
    items = list(wrt) if isinstance(wrt, (list, tuple)) else None
    if items is None or not all(isinstance(w, (str, Symbol)) for w in items):
        shown = repr(wrt) if len(repr(wrt)) < 40 else type(wrt).__name__
        raise DerivationError(f"wrt must be a name, names separated by commas, or a list of names; got {shown}",
                              hint='wrt="x", wrt="W, b" or wrt=["W", "b"]')
    return [w.name if isinstance(w, Symbol) else w for w in items]


def derive(expr, wrt, shapes: dict | None = None, assume: dict | None = None,
           layout: str = "numerator") -> Derivation:
    """Differentiate `expr` (text in NumPy or paper notation, or an Expr) with respect to `wrt`
    (a name, "W, b", or a list of names). `layout` chooses the Jacobian's layout: "numerator"
    (m×n, DF[v] = J v) or "denominator" (n×m, J = (∇f₁, …, ∇fₘ))."""
    if not isinstance(layout, str) or layout not in ("numerator", "denominator"):
        raise DerivationError(f"unknown layout {layout!r}"[:80], hint='layout="numerator" or "denominator"')
    reading = None
    if isinstance(expr, str):
        reading = read(expr, shapes, assume)
        expr = reading.expr
    elif not isinstance(expr, Expr):
        raise DerivationError(f"expected an expression (str or Expr), got {type(expr).__name__}")
    names = _wrt_names(wrt)
    if not names:
        raise DerivationError("no variable to differentiate with respect to", hint='wrt="x"')
    symbols = reading.symbols if reading is not None else expr.symbols()
    for n in names:
        if n not in symbols:
            shown = reading.text.strip() if reading is not None else str(expr)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            free = ", ".join(list(symbols)[:20]) + (", ..." if len(symbols) > 20 else "") or "none"
            raise DerivationError(f"{n!r} does not appear in {shown}; its free symbols are: {free}"[:300],
                                  hint="differentiate with respect to one of the free symbols")
    if len(set(names)) != len(names):
        raise DerivationError(f"a variable is listed twice in wrt={names}")
    variables = {n: symbols[n] for n in names}
    dir_names = _direction_names(list(variables.values()), set(symbols))
    directions = {}
    for n, v in variables.items():
        props = v.props & {"symmetric", "diagonal"} | ({"symmetric"} if "spd" in v.props else set())
        directions[n] = Symbol(dir_names[n], v.shape, frozenset(props))
    return Derivation(expr, names, reading, variables, directions, layout)
