"""Checking hand-written gradients. `check_gradient` compares a claimed ∇f with the derived one
and names the mistake: correct, transposed, scaled (factor c), sign, shape, or wrong.
`check_program` (matdiff/programs.py) does the same for every gradient line of a backward pass.

Verdicts are numeric: the claim as read and the derived gradient are evaluated by the plain
evaluator (matdiff/evaluate.py) at several random points from each symbol's domain, and the
derived gradient is itself verified against finite differences of f as read before it judges
anything, so a simplifier or emitter bug cannot turn into a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from .derivation import derive
from .errors import DerivationError, DomainError, MatdiffError, ParseError, ShapeError
from .expr import Expr, Symbol
from .reader import read

DRAWS = 3
RTOL = 1e-6
# Verdicts come from values at sampled arrays, of the declared sizes where a size is a number:
# an array of more entries is refused with a DomainError that names this limit.
MAX_SAMPLED_ENTRIES = 1_000_000


@dataclass
class GradientCheck:
    """The verdict on one claimed gradient."""

    ok: bool
    verdict: str                    # correct | transposed | scaled | sign | shape | wrong
    expected: Expr                  # the correct gradient
    claim: Expr | None              # the claim as read (None when it could not be read)
    variable: Symbol
    factor: float | None = None     # claim = factor · truth for "scaled" and "sign"
    message: str = ""
    counterexample: dict = field(default_factory=dict)
    expected_text: str = ""         # the correct gradient in the caller's own names

    def explain(self) -> str:
        v = self.variable
        lines = [f"verdict: {self.verdict}" + (f" (factor {self.factor:g})" if self.factor is not None
                                              and self.verdict in ("scaled", "sign") else "")]
        if self.message:
            lines.append(self.message)
        if self.claim is not None:
            lines.append(f"your gradient:    {self.claim}    ({self.claim.shape})")
        lines.append(f"correct gradient: {self.expected_text or self.expected}    ({self.expected.shape}, "
                     f"the shape of {v.name})")
        lines.append(f"                  {self.expected.to_unicode()}")
        if self.counterexample:
            c = self.counterexample
            lines.append(f"counterexample (sizes {c['sizes']}, seed {c['seed']}): at entry {c['index']} "
                         f"yours is {c['claimed']:.6g}, the derivative is {c['expected']:.6g}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def _values(exprs: list[Expr], symbols: dict, expr_for_domains: Expr, seed: int) -> list:
    """Each of `exprs` evaluated by the plain evaluator at DRAWS points sampled from the symbols'
    domains: per point, the values (runtime form; None where one cannot be evaluated there) and
    the size of the intermediate values. The last of `exprs` is the reference: it must evaluate."""
    import numpy as np
    from .evaluate import evaluate_all, magnitude, runtime_form
    from .verify import Sampler, find_point

    sampler = Sampler(symbols, expr_for_domains, seed)
    out, failures = [], []
    for _ in range(DRAWS):
        x = find_point(expr_for_domains, symbols, sampler)
        vals = []
        for e in exprs:
            try:
                v = evaluate_all([e], x, sampler.sizes)[0]
            except (ArithmeticError, ValueError, ShapeError) as err:   # inv of a singular claim, …
                if e is exprs[-1]:
                    raise DomainError(f"the derivative cannot be evaluated at the sampled point: {err}") from None
                failures.append(str(err).splitlines()[0][:200])
                vals.append(None)
                continue
            vals.append(np.asarray(runtime_form(v, e), dtype=float))
        scale = max(magnitude(e, x, sampler.sizes) for e in exprs[-1:])
        out.append((vals, scale))
    return out, sampler, (failures[0] if failures else None)


def compare(claim: Expr, expected: Expr, variable: Symbol, symbols: dict, f: Expr, seed: int = 0):
    """(verdict, factor, counterexample) for a claim of the variable's shape or its transpose."""
    draws, sampler, _ = _values([claim, expected], symbols, f, seed)
    return _verdict([tuple(v) for v, _ in draws], claim.shape, expected.shape, variable,
                    sampler.sizes, seed, _floor(draws))


def _floor(draws) -> float:
    """Relative to the derivative's own size, down to the rounding of the values' intermediates
    (no absolute floor: 1e-7·x is not 0)."""
    from .verify import EPS
    return 64 * EPS * max(scale for _, scale in draws)


def _verdict(pairs: list, claim_shape, expected_shape, variable: Symbol, sizes: dict, seed: int,
             floor: float):
    """(verdict, factor, counterexample) from (claimed, expected) values at several points; a
    claimed value is None where the claim could not be evaluated."""
    import numpy as np

    square = variable.shape.rows == variable.shape.cols
    shaped_like = claim_shape == expected_shape
    if not shaped_like and claim_shape != expected_shape.T:
        return "shape", None, {}
    pairs = [(np.full(np.shape(e) if shaped_like else np.shape(e)[::-1], np.nan) if c is None else np.asarray(c),
              np.asarray(e)) for c, e in pairs]

    def close(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=RTOL * float(np.max(np.abs(b), initial=0.0)) + floor)

    if shaped_like and all(close(c, e) for c, e in pairs):
        return "correct", None, {}
    if (not shaped_like or square) and claim_shape == expected_shape.T and not expected_shape.is_scalar:
        if all(close(c.T if c.ndim == 2 else c, e) for c, e in pairs):
            return "transposed", None, {}   # also a row where the gradient is a column: xᵀ(A + Aᵀ)
    if shaped_like:
        ratios = []
        for c, e in pairs:
            denom = float(np.sum(e * e))
            ratios.append(float(np.sum(c * e)) / denom if denom > 0 else np.nan)
        k = ratios[0]
        if np.isfinite(k) and abs(k) > 1e-12 and all(np.isclose(r, k, rtol=1e-6) for r in ratios) and all(
                close(c, k * e) for c, e in pairs):
            k = round(k, 10)
            return ("sign" if np.isclose(k, -1.0) else "scaled"), k, {}
    c, e = pairs[0]
    if not shaped_like:
        c = c.T   # compare entry by entry in the variable's layout
    if c.shape != e.shape:
        return "wrong", None, {}
    with np.errstate(invalid="ignore"):
        gap = np.abs(c - e)
    gap = np.where(np.isnan(gap), np.inf, gap)
    idx = np.unravel_index(int(np.argmax(gap)), e.shape) if e.ndim else ()
    return "wrong", None, {"index": tuple(int(i) for i in idx), "claimed": float(c[idx]) if c.ndim else float(c),
                           "expected": float(e[idx]) if e.ndim else float(e), "sizes": dict(sizes),
                           "seed": seed}


def check_gradient(expr, wrt: str, claim: str, shapes: dict | None = None, assume: dict | None = None,
                   seed: int = 0) -> GradientCheck:
    """Is `claim` the gradient of `expr` with respect to `wrt`? See the module docstring."""
    _check_seed(seed)
    d = derive(expr, wrt, shapes, assume)
    if len(d.wrt) != 1:
        raise MatdiffError("check_gradient takes one variable", hint="check each variable's gradient on its own")
    var = d.variables[d.wrt[0]]
    check_sizes(d.symbols.values())
    expected = _verified_gradient(d, var.name, seed)
    known = {n: s.shape for n, s in d.symbols.items()}
    props = {n: sorted(s.props) for n, s in d.symbols.items() if s.props}
    try:
        claimed = read(claim, known, props, style="numpy").expr
    except ShapeError as e:
        return GradientCheck(False, "shape", expected, None, var,
                             message=f"your gradient does not fit together: {e.render()}")
    extra = set(claimed.symbols()) - set(d.symbols)
    if extra:
        raise ParseError(f"the claim uses {', '.join(sorted(extra))}, which {'is' if len(extra) == 1 else 'are'} "
                         f"not in {d.expr}", text=claim, span=(0, len(claim)),
                         hint="write the gradient in terms of the expression's symbols: " + ", ".join(d.symbols))
    return _judge(claimed, expected, var, dict(d.symbols), d.expr, seed)


def check_sizes(symbols) -> None:
    """Refuse to sample an array of a declared size past MAX_SAMPLED_ENTRIES entries."""
    for sym in symbols:
        entries = 1
        for d in sym.shape:
            entries *= d if isinstance(d, int) else 1
        if entries > MAX_SAMPLED_ENTRIES:
            raise DomainError(f"{sym.name} is {sym.shape}: {entries:,} entries, more than matdiff samples to check "
                              f"a gradient (the limit matdiff.check.MAX_SAMPLED_ENTRIES = {MAX_SAMPLED_ENTRIES:,})",
                              hint="declare its dims by name (n, m) to check at small sizes")


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise MatdiffError(f"seed must be an int, got {type(seed).__name__}", hint="seed=0")


def _verified_gradient(d, name: str, seed: int) -> Expr:
    """The derived gradient, once it has passed verification against f as read: a gradient
    that judges a claim must not be trusted on its own word."""
    report = d.verify(seed=seed)
    if not report.ok:
        raise DerivationError(f"matdiff's own gradient of {d.expr} with respect to {name} fails verification "
                              f"against the expression as read, so it cannot judge a claim:\n{report}",
                              hint="please report this expression; the claim has not been judged")
    return d.gradients[name]


def _judge(claimed, expected, var, symbols, f, seed, expected_text="") -> GradientCheck:
    if claimed.shape != expected.shape and claimed.shape != expected.shape.T:
        return judge_values(claimed, expected, var, [], {}, seed, 0.0, expected_text)
    draws, sampler, failure = _values([claimed, expected], symbols, f, seed)
    return judge_values(claimed, expected, var, [tuple(v) for v, _ in draws], sampler.sizes, seed,
                        _floor(draws), expected_text, failure)


def judge_values(claimed: Expr, expected: Expr, var: Symbol, pairs: list, sizes: dict, seed: int,
                 floor: float, expected_text: str = "", failure: str | None = None) -> GradientCheck:
    """The verdict on a claim from its values and the derivative's at several points (pairs of
    runtime arrays; a claimed value is None where it could not be evaluated, `failure` says why)."""
    import numpy as np
    verdict, factor, cex = _verdict(pairs, claimed.shape, expected.shape, var, sizes, seed, floor)
    if verdict != "correct" and var.props & {"symmetric", "spd", "diagonal"} and claimed.shape == var.shape \
            and all(c is not None for c, _ in pairs):
        # on symmetric (diagonal) matrices only the projection of a gradient matters: Aᵀ and
        # sym(A) give the same ⟨G, V⟩ for every symmetric V
        kind = "diagonal" if "diagonal" in var.props else "symmetric"
        project = (lambda c: np.diag(np.diag(c))) if kind == "diagonal" else (lambda c: (c + c.T) / 2)
        projected = [(project(np.asarray(c)), e) for c, e in pairs]
        if _verdict(projected, claimed.shape, expected.shape, var, sizes, seed, floor)[0] == "correct":
            return GradientCheck(True, "correct", expected, claimed, var, None,
                                 f"correct on {kind} matrices: it equals the derivative once projected "
                                 f"({'G ⊙ I' if kind == 'diagonal' else 'sym(G) = (G + Gᵀ)/2'})",
                                 {}, expected_text)
    message = {
        "correct": "",
        "transposed": f"your gradient is the transpose of the right one: it is {claimed.shape}, "
                      f"but {var.name} is {var.shape}" if claimed.shape != var.shape else
                      "your gradient is the transpose of the right one",
        "sign": "your gradient has the wrong sign",
        "scaled": f"your gradient is {factor:g} times the right one" if factor is not None else "",
        "shape": f"your gradient is {claimed.shape} but {var.name} is {var.shape}",
        "wrong": "your gradient differs from the derivative (not by a transpose, a sign or a factor)"
                 + (f"; it is also {claimed.shape} where {var.name} is {var.shape}" if claimed.shape != var.shape else ""),
    }[verdict]
    if failure is not None and verdict == "wrong":
        message += f"; it cannot be evaluated at a sampled point ({failure})"
    return GradientCheck(verdict == "correct", verdict, expected, claimed, var, factor, message, cex,
                         expected_text)


from .programs import Line, ProgramCheck, check_program  # noqa: E402,F401  (re-exported; it imports this module)
