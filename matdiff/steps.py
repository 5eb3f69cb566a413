"""The steps of a derivation, as the engine takes them. While a `recording()` is open, the jvp
driver notes each node it differentiates with the rule its op declares (linearity, the product
rule, the chain rule, a table derivative), and the gradient is read off DF[V] term by term
(⟨G, V⟩: an inner product, the transpose of a scalar, a trace rotation). Steps are replayed from
what was done, not re-derived a second way, and each is an equation that can be checked:
a derivative step DF[V] = rhs against differences of F, an equal step by evaluating both sides."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .expr import Call, Expr, Symbol
from .shapes import SCALAR


class Log:
    """A list the engine appends to while a `with log.open()` block runs, and None outside one:
    noting what was done costs nothing when no one asks."""

    def __init__(self, name: str):
        self._var: ContextVar[list | None] = ContextVar(name, default=None)

    @contextmanager
    def open(self):
        items: list = []
        token = self._var.set(items)
        try:
            yield items
        finally:
            self._var.reset(token)

    def current(self) -> list | None:
        return self._var.get()


STEPS = Log("matdiff_steps")
recording, recorder = STEPS.open, STEPS.current   # the steps the jvp driver takes


@dataclass(frozen=True)
class Step:
    """One equation of a derivation. `kind` "derivative": D(lhs)[V] = rhs, V the `directions`;
    "equal": lhs = rhs; "read off": lhs = ⟨rhs, V⟩, V the one direction; "gradient":
    ∇_`var` f = rhs (lhs is the sum it was read from)."""

    rule: str
    why: str
    lhs: Expr
    rhs: Expr
    kind: str = "equal"
    directions: tuple = ()
    var: str | None = None
    factors: tuple = ()     # a "jacobian" step: J = the product of these, outer map first

    def _sides(self, style: str) -> tuple[str, str]:
        show = (lambda e: e.to_unicode()) if style == "unicode" else (lambda e: e.to_latex())
        rhs = show(self.rhs)
        if self.kind == "derivative":
            dirs = ", ".join(self.directions)
            return (f"D({show(self.lhs)})[{dirs}]" if style == "unicode" else
                    rf"D\left({show(self.lhs)}\right)[{dirs}]"), rhs
        if self.kind == "gradient":
            return (f"∇_{self.var} f" if style == "unicode" else rf"\nabla_{{{self.var}}} f"), rhs
        if self.kind == "jacobian":
            lhs = f"J_{self.var}" if style == "unicode" else f"J_{{{self.var}}}"
            if not self.factors:
                return lhs, rhs
            sep = " · " if style == "unicode" else r" \cdot "
            return lhs, sep.join((f"({show(f)})" if style == "unicode" else rf"\left({show(f)}\right)")
                                 if isinstance(f, Call) and f.op.name in ("add", "mul") and not _is_diag(f)
                                 else show(f) for f in self.factors)
        if self.kind == "read off":
            v = self.directions[0]
            return show(self.lhs), (f"⟨{rhs}, {v}⟩" if style == "unicode" else rf"\langle {rhs}, {v} \rangle")
        return show(self.lhs), rhs

    def to_unicode(self) -> str:
        lhs, rhs = self._sides("unicode")
        return f"{self.rule}: {lhs} = {rhs}"

    def to_latex(self) -> str:
        lhs, rhs = self._sides("latex")
        return rf"{lhs} = {rhs} \quad \text{{({self.rule})}}"

    def to_json(self) -> dict:
        (lu, ru), (ll, rl) = self._sides("unicode"), self._sides("latex")
        return {"rule": self.rule, "why": self.why, "kind": self.kind, "lhs": lu, "rhs": ru,
                "lhs_latex": ll, "rhs_latex": rl, "directions": list(self.directions), "var": self.var}

    def __str__(self) -> str:
        return self.to_unicode()


def _is_diag(e) -> bool:
    return isinstance(e, Call) and e.op.name == "diag"


def chain_why(factors) -> str:
    """The chain rule said over the factors, with which order is which mode."""
    shapes = " · ".join(f"({f.shape.rows}×{f.shape.cols})" for f in factors)
    return (f"the chain rule: J is the product of the layers' Jacobians, outer map first {shapes}; "
            "forward mode (JVP) forms J v from the right, the inner factor first; reverse mode (VJP) "
            "forms uᵀJ from the left, the outer factor first")


def derivative_step(node: Call, tangent: Expr, directions: tuple, live: list[int]) -> Step:
    """The step the jvp driver took at `node`, under the rule its op declares; a product with one
    factor moving is linear in it (AXC in X: DF[V] = AVC), as the lecture says it."""
    rule, why = node.op.rule
    if node.op.linear == "multi" and len(live) == 1:
        moving = node.args[live[0]].to_unicode()
        rule, why = "linearity", f"{{f}} is linear in {moving}, so {moving} is replaced by D{moving}[V]"
    name = node.op.name
    deriv = node.op.extra.get("deriv")
    if deriv is not None:   # an entrywise f, by its name on paper, with f′ as declared
        u = Symbol("u", SCALAR)
        fu = Call(node.op, (u,), shape=SCALAR)
        name = fu.to_unicode().removesuffix("(u)")
        why += f", with {name}′(u) = {deriv(u, fu).to_unicode()}"
    return Step(rule, why.format(op=name, f=node.to_unicode()), node, tangent, "derivative", directions)


def read_off_rule(term: Expr, direction: Symbol) -> tuple[str, str]:
    """How a term linear in the direction is written as ⟨G, V⟩, named as a lecture names it."""
    if isinstance(term, Call) and term.op.name == "trace":
        return "trace rotation", "tr(A V B) = tr(B A V) = ⟨(BA)ᵀ, V⟩"
    if isinstance(term, Call) and term.op.name == "matmul" and term.shape.is_scalar:
        first, last = term.args[0], term.args[-1]
        if isinstance(first, Call) and first.op.name == "transpose" and first.args[0] == direction:
            return "inner product", "vᵀa = ⟨a, v⟩"
        if last == direction and len(term.args) > 1:
            return "transpose of a scalar", "a scalar is its own transpose: aᵀv = (aᵀv)ᵀ = vᵀa = ⟨a, v⟩"
    if direction.shape.is_scalar:
        return "scalar direction", "c·v = ⟨c, v⟩ for a scalar v"
    return "inner product", "a map linear in V is ⟨G, V⟩ = sum(G ⊙ V) for one G, read off term by term"
