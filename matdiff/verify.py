"""Finite-difference checks of derived code against the expression *as read*. The reference f is
the plain evaluator (matdiff/evaluate.py) run on the expression before any simplification: it
shares no code with the simplifier or the emitter it checks, so a rewrite that changes a value
cannot pass. The emitted value() is compared with that reference too, its own verdict.

Inputs are sampled from each symbol's domain (det > 0 for logdet, invertible for inv/det, SPD
where declared, positive for log/sqrt and fractional powers, away from the kinks of relu/abs),
in float64, non-symmetric unless declared, with a distinct size for each symbolic dim so that a
missing transpose cannot hide (each as large as the constant indices need: x[5] needs n ≥ 6);
away from the kinks ops declare (a = b in maximum(a, b), ties for the max of a row); where f
overflows, the samples are scaled down.

The check: along random directions V, compare ⟨G, V⟩ with the central difference
(f(X + hV) − f(X − hV)) / 2h, h = 1e-5 · max(1, max|X|), and report the relative error
max(0, |a − d| − r) / max(|a|, |d|, 1e-12), where r = 64ε·s / 2h is the rounding floor of the
difference, s the largest magnitude among f's intermediate values (f = a − b with a ≈ b is only
known to ε·|a|; below the floor two numbers cannot be told apart); a pair over tolerance is
retried with h/10, 10h and h/100, then with Richardson-extrapolated differences (4D(h/2) − D(h))/3
(the smallest error counts, so rounding or curvature alone does not fail a right answer, while
a wrong derivative is off by far more). At small
sizes every entry of G is also checked against its own difference (error relative to max|G|).
A gradient that is identically zero is checked at more points before it is believed."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from .errors import DomainError
from .expr import Call, Symbol

SIZES = (3, 4, 5, 6, 7, 2, 8, 9, 10, 11)
EPS = 2.0 ** -52
STEPS = (1e-5, 1e-6, 1e-4, 1e-7)   # relative to max(1, max|X|); the first that passes counts
RICHARDSON = (1e-4, 1e-5)          # then extrapolated differences, for strongly curved functions


@dataclass
class Report:
    """`max_rel_error` is the largest relative error found; `beyond_rounding` the same with each
    difference's rounding floor taken off, which is what `ok` compares with the tolerance."""

    ok: bool
    max_rel_error: float
    tolerance: float
    sizes: dict
    seed: int
    checks: int
    notes: list = field(default_factory=list)
    beyond_rounding: float = 0.0
    value_ok: bool = True       # the emitted value() agrees with the expression as read

    def __str__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "all sizes fixed"
        verdict = "ok" if self.ok else "FAILED"
        out = (f"verify: {verdict}: max relative error {self.max_rel_error:.2e} "
               f"({self.beyond_rounding:.2e} beyond rounding; tolerance {self.tolerance:.0e}) "
               f"over {self.checks} finite-difference checks; sizes {sizes}; seed {self.seed}")
        return "\n".join([out] + [f"  note: {n}" for n in self.notes])


def _tags(node: Call):
    """(tag, argument) for each argument of `node` with a domain; a power's depends on its
    exponent: a negative integer needs a nonzero base, any other non-integer a positive one.
    Then the op's kinks (`extra["kinks"]`: node → [(tag, expression)]), which may lie in what its
    arguments are together (maximum(a, b) at a = b) or in its params (ties along an axis)."""
    for tag, a in zip(node.op.domain, node.args):
        if tag == "power":
            v = getattr(node.args[1], "value", None)
            tag = "nonzero" if isinstance(v, int) and v < 0 else "any" if isinstance(v, int) else "positive"
        if tag != "any":
            yield tag, a
    kinks = node.op.extra.get("kinks")
    if kinks is not None:
        yield from kinks(node)


def domains(expr) -> dict[str, set]:
    """Domain tags per symbol, from the ops whose arguments the symbol is (directly or transposed)."""
    out: dict[str, set] = {}
    for node in expr.walk():
        if not isinstance(node, Call):
            continue
        for tag, a in _tags(node):
            if isinstance(a, Call) and a.op.name == "transpose":
                a = a.args[0]
            if isinstance(a, Symbol):
                out.setdefault(a.name, set()).add(tag)
    return out


def _least_sizes(expr) -> dict:
    """The least size of each named dim that the constant indices in `expr` need (x[5] needs
    n ≥ 6), from what the indexing ops declare (`min_sizes`: (dim, least) per node); a product
    dim m·n shares its need among its factors."""
    need: dict = {}
    for node in expr.walk():
        least = node.op.extra.get("min_sizes") if isinstance(node, Call) else None
        for d, k in least(node) if least else ():
            factors = str(d).split("·")
            fixed = math.prod(int(f) for f in factors if f.isdigit())
            names = [f for f in factors if not f.isdigit()]
            each = 1
            while fixed * each ** len(names) < k:
                each += 1
            for f in names:
                need[f] = max(need.get(f, 1), each)
    return need


def _dims_of_constants(expr) -> list:
    """The dims of I, 𝟙, 0 and sizes in `expr`: those of no input are chosen like the others."""
    return [d for node in expr.walk() if isinstance(node, Call) for d in node.params if isinstance(d, str)]


class Sampler:
    def __init__(self, symbols: dict[str, Symbol], expr, seed: int):
        import numpy as np
        self.np = np
        self.rng = np.random.default_rng(seed)
        self.symbols = symbols
        self.tags = domains(expr)
        dims = []
        for d in [d for s in symbols.values() for d in s.shape] + _dims_of_constants(expr):
            for f in str(d).split("·") if isinstance(d, str) else ():   # m·p has the sizes of m and p
                if not f.isdigit() and f not in dims:
                    dims.append(f)
        bound = {f for s in symbols.values() for d in s.shape if isinstance(d, str) for f in d.split("·")}
        self.free = [d for d in dims if d not in bound]   # sizes no input has (m in tr(Iₘ)·a)
        taken = {d for s in symbols.values() for d in s.shape if isinstance(d, int)}
        pool = [n for n in SIZES if n not in taken] or list(SIZES)
        self.sizes = {d: pool[i % len(pool)] for i, d in enumerate(dims)}
        self.least = _least_sizes(expr)
        self._fit_indices()
        self.seed = seed

    def _fit_indices(self) -> None:
        """Each size that a constant index needs larger (x[5] needs n ≥ 6) raised to the smallest
        size at least that large and not in use (sizes stay distinct)."""
        for d, k in self.least.items():
            if self.sizes.get(d, k) < k:
                used = set(self.sizes.values())
                self.sizes[d] = next(n for n in itertools.count(k) if n not in used)

    def shuffle_sizes(self) -> None:
        """The same sizes, largest first (keeps them distinct), and as large as the indices need."""
        values = sorted(self.sizes.values(), reverse=True)
        self.sizes = dict(zip(self.sizes, values))
        self._fit_indices()

    def size(self, d) -> int:
        if isinstance(d, int):
            return d
        total = 1
        for f in d.split("·"):
            total *= int(f) if f.isdigit() else self.sizes[f]
        return total

    def runtime_shape(self, s: Symbol) -> tuple:
        return tuple(self.size(d) for d in s.shape.numpy())

    def sample(self, positive_all: bool = False, shrink: float = 1.0) -> dict:
        """One point; `shrink` scales the unconstrained samples down (exp(‖C‖²·‖W‖²) overflows
        at standard-normal inputs)."""
        np, rng = self.np, self.rng
        out = {}
        for name, s in self.symbols.items():
            shape = self.runtime_shape(s)
            tags = self.tags.get(name, set()) | set(s.props)
            if len(shape) == 2 and shape[0] == shape[1] and tags & {"spd", "posdet", "invertible", "symmetric", "diagonal"}:
                n = shape[0]
                b = rng.standard_normal((n, n))
                if "diagonal" in tags:
                    x = np.diag(rng.uniform(0.5, 2.0, n) * (1 if tags & {"spd", "positive", "invertible"} else rng.choice([-1, 1], n)))
                elif "spd" in tags:
                    x = b @ b.T / n + np.eye(n)
                elif "symmetric" in tags:
                    x = (b + b.T) / 2 + (np.eye(n) * n if "invertible" in tags else 0)
                else:   # invertible, det > 0, and not symmetric, so a missing transpose shows
                    x = np.eye(n) * 2 + 0.5 * b / np.sqrt(n)
            elif tags & {"positive"} or positive_all:
                x = rng.uniform(0.5, 2.0, shape)
            elif (low := _lower_bound(tags)) is not None:
                x = low + rng.uniform(0.5, 2.0, shape)
            elif tags & {"nonzero", "not_all_zero"}:
                x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape) * shrink
            else:
                x = rng.standard_normal(shape) * shrink
            out[name] = float(x) if shape == () else x
        return out

    def direction(self, s: Symbol):
        np, rng = self.np, self.rng
        shape = self.runtime_shape(s)
        v = rng.standard_normal(shape)
        if "diagonal" in s.props:
            v = np.diag(np.diag(v))
        elif s.props & {"symmetric", "spd"}:
            v = (v + v.T) / 2
        return float(v) if shape == () else v


def _lower_bound(tags) -> float | None:
    """c for a domain tag ("above", c): the argument must exceed c (log1p: x > −1)."""
    bounds = [t[1] for t in tags if isinstance(t, tuple) and t[0] == "above"]
    return max(bounds) if bounds else None


def _domain_checks(expr) -> list[tuple[str, object]]:
    """(tag, argument) for every compound argument that must lie in a domain: kinks of relu and
    abs to keep away from ("nonzero"), arguments of log, sqrt, logdet, inv, fractional powers, …
    (a symbol argument is sampled in its domain already)."""
    out = []
    for node in expr.walk():
        if isinstance(node, Call):
            out += [(tag, a) for tag, a in _tags(node) if not isinstance(a, Symbol) or not _sampled(tag)]
    return out


def _sampled(tag) -> bool:
    """Whether the sampler draws a symbol inside this domain by construction. Ties along an
    axis it does not avoid (continuous draws tie with probability 0, but may come close), so a
    symbol with that tag is checked like a compound argument."""
    return not (isinstance(tag, tuple) and tag[0] == "untied")


MARGIN = 1e-3   # how far from a kink or a domain's edge, relative to the argument's own size


def _in_domain(tag: str, v) -> bool:
    """Whether the value of an argument lies in its domain, with a margin relative to the
    argument's size (a step of h = 1e-5 relative cannot cross the edge): exp(−‖C‖²) ≈ 1e-9 is
    safely away from the kink of abs, while an entry 1e-6 among entries near 1 is not."""
    import numpy as np
    v = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(v)):
        return False
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if tag == "positive":
        return float(np.min(v)) > MARGIN * scale and scale > 1e-300
    if tag == "nonzero":
        return float(np.min(np.abs(v))) > MARGIN * scale and scale > 1e-300
    if isinstance(tag, tuple) and tag[0] == "above":
        return float(np.min(v)) - tag[1] > MARGIN * max(scale, abs(tag[1]))
    if tag == "not_all_zero":   # ‖X‖ is smooth away from X = 0
        return scale > 1e-300
    if isinstance(tag, tuple) and tag[0] == "untied":   # ("untied", axis, ±1): a max (min) per line
        return _untied(v, tag[1], tag[2], scale)
    if tag in ("spd", "posdet", "invertible"):
        if v.ndim != 2 or np.linalg.cond(v) > 1e8:
            return False
        return tag == "invertible" or np.linalg.slogdet(v)[0] > 0
    return True


def _untied(v, axis, sign: int, scale: float) -> bool:
    """Whether the largest entry (sign 1; the smallest for −1) of each line along the axis (each
    row for axis 1, each column for 0, all entries for None) leads the next by the margin: a
    step of h cannot hand the max to another entry."""
    import numpy as np
    lines = sign * (v if axis == 1 else v.T if axis == 0 else v.reshape(1, -1))
    if lines.shape[1] < 2:
        return True
    top = np.sort(lines, axis=1)[:, -2:]
    return float(np.min(top[:, 1] - top[:, 0])) > MARGIN * scale


def find_point(expr, symbols: dict, sampler):
    """Inputs where the expression as read is finite and every domain holds, by the plain
    evaluator; after 10 misses the dim sizes are shuffled (XᵀX needs more rows than columns),
    after 20 every input is made positive; in each round of 10 tries, the last five shrink the
    unconstrained samples by half, then a quarter, … (so that exp(‖C‖²‖W‖²) stays finite)."""
    import numpy as np
    from .evaluate import evaluate_all

    checks = _domain_checks(expr)
    for attempt in range(30):
        if attempt == 10:
            sampler.shuffle_sizes()
        shrink = 0.5 ** (attempt % 10 - 4) if attempt % 10 >= 5 else 1.0
        cand = sampler.sample(positive_all=attempt >= 20, shrink=shrink)
        try:
            vals = evaluate_all([expr] + [a for _, a in checks], cand, sampler.sizes)
        except (FloatingPointError, ValueError, OverflowError):
            continue
        if not np.all(np.isfinite(vals[0])):
            continue
        if all(_in_domain(tag, v) for (tag, _), v in zip(checks, vals[1:], strict=True)):
            return {**cand, **{k: sampler.sizes[k] for k in sampler.free}}   # sizes no input has, as numbers
    raise DomainError(f"could not find inputs where {expr} is finite and inside its domain "
                      f"(30 tries, seed {sampler.seed})", hint="declare properties with assume (spd, positive)")


class _Tally:
    """The worst errors over all checks. A check compares an analytic value `a` with central
    differences at steps h, h/10, 10h and keeps its best step."""

    def __init__(self, tol: float):
        self.tol, self.raw, self.adjusted, self.checks, self.notes = tol, 0.0, 0.0, 0, []

    def check(self, a, difference) -> None:
        """`difference(h)` → (numerical value, rounding floor); a and the value may be arrays."""
        import numpy as np
        a = np.asarray(a, dtype=float)
        best = (np.inf, np.inf)
        for h in STEPS + RICHARDSON:
            if h in RICHARDSON:   # (4 D(h/2) − D(h)) / 3 cancels the h² error of curved functions
                (n1, f1), (n2, f2) = difference(h), difference(h / 2)
                n, floor = (4 * np.asarray(n2, dtype=float) - np.asarray(n1, dtype=float)) / 3, (4 * f2 + f1) / 3
            else:
                n, floor = difference(h)
            n = np.asarray(n, dtype=float)
            if n.shape != a.shape:
                self.fail(f"shape {a.shape} where the differences give {n.shape}")
                return
            diff = float(np.max(np.abs(a - n))) if a.size else 0.0
            denom = max(float(np.max(np.abs(a))) if a.size else 0.0,
                        float(np.max(np.abs(n))) if n.size else 0.0, self.scale_floor, 1e-12)
            cand = (diff / denom, max(0.0, diff - floor) / denom)
            if float(np.max(np.abs(a), initial=0.0)) < 1e-12 and float(np.max(np.abs(n), initial=0.0)) < 1e-8:
                cand = (0.0, 0.0)   # both zero within the noise of f's own rounding (xᵀ(A − Aᵀ)x ≡ 0)
            if cand[1] < best[1]:
                best = cand
            if best[1] <= self.tol:
                break
        self.raw, self.adjusted = max(self.raw, best[0]), max(self.adjusted, best[1])
        self.checks += 1

    scale_floor = 0.0   # a denominator floor for entrywise checks (max |G| of the whole matrix)

    def fail(self, note: str) -> None:
        self.notes.append(note)
        self.raw = self.adjusted = float("inf")

    value_ok = True

    def check_value(self, emitted, reference, scale: float, what: str) -> None:
        """The emitted value against the reference at one point: a mismatch is its own verdict."""
        import numpy as np
        a, r = np.asarray(emitted, dtype=float), np.asarray(reference, dtype=float)
        if a.shape == r.shape and np.allclose(a, r, rtol=1e-8, atol=64 * EPS * scale, equal_nan=False):
            return
        self.value_ok = False
        shown = (f"{float(a):.10g} where the expression as read is {float(r):.10g}" if a.size == 1 == r.size
                 else f"an array of shape {a.shape} that differs from the expression as read (shape {r.shape})"
                 + (f" by up to {float(np.max(np.abs(a - r))):.3g}" if a.shape == r.shape else ""))
        self.notes.append(f"the emitted value differs from the expression as read: {what} gives {shown}")

    def report(self, sampler, what: str) -> Report:
        ok = bool(self.adjusted <= self.tol) and self.value_ok
        if self.adjusted > self.tol:
            self.notes.append(f"the derived {what} does not match finite differences")
        return Report(ok, float(self.raw), self.tol, dict(sampler.sizes), sampler.seed, self.checks,
                      self.notes, float(self.adjusted), self.value_ok)


class _Setup:
    """The reference f (the expression as read, by the plain evaluator, keyed like the emitted
    functions), a sampler, a point in f's domain, and the size of f's intermediate values there
    (the scale of its rounding)."""

    def __init__(self, d, seed: int):
        from .emit.numpy import py_name
        from .evaluate import magnitude, reference
        self.symbols = dict(d.symbols)
        self.f = reference(d.expr, self.symbols.values(), py_name)
        self.sampler = Sampler(self.symbols, d.expr, seed)
        self.x = find_point(d.expr, self.symbols, self.sampler)
        self.scale = magnitude(d.expr, self.x, self.sampler.sizes)

    def check_value(self, d, tally: _Tally) -> None:
        from .emit.numpy import compile_value
        emitted = compile_value(d.value_expr, list(self.symbols.values()), check=False)
        tally.check_value(_run(emitted, self.x), _run(self.f, self.x), self.scale, "value()")


def _run(fn, point: dict):
    """fn at the point; a size no input has goes only to a function that takes it (the
    gradient of a + tr(Iₘ) does not need m)."""
    import inspect

    import numpy as np
    from .emit.numpy import py_name
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    args = {py_name(k): v for k, v in point.items()}
    with np.errstate(all="ignore"):
        return fn(**{k: v for k, v in args.items() if takes_all or k in params})


def _central(fn, x: dict, moves: dict, h: float, scale: float = 0.0):
    """(F(x + hV) − F(x − hV)) / 2h and its rounding floor 64ε·max(|F(x ± hV)|, scale) / 2h, where
    `moves` maps variable names to directions V, F returns an array or a scalar, and `scale` is
    the size of F's intermediate values (F = a − b is known only to ε·|a|)."""
    import numpy as np
    xp, xm = dict(x), dict(x)
    for name, v in moves.items():
        x0 = np.asarray(x[name], dtype=float)
        xp[name], xm[name] = x0 + h * v, x0 - h * v
        if x0.ndim == 0:
            xp[name], xm[name] = float(xp[name]), float(xm[name])
    fp = np.asarray(_run(fn, xp), dtype=float)
    fm = np.asarray(_run(fn, xm), dtype=float)
    floor = 64 * EPS * max(float(np.max(np.abs(fp))) if fp.size else 0.0,
                           float(np.max(np.abs(fm))) if fm.size else 0.0, scale) / (2 * h)
    return (fp - fm) / (2 * h), floor


def _scale(x: dict, names) -> float:
    import numpy as np
    return max([1.0] + [float(np.max(np.abs(x[n]))) for n in names if np.size(x[n])])


def verify_gradient(d, seed: int = 0, directions: int = 6, tol: float = 1e-5, full_max: int = 64):
    """⟨G, V⟩ against differences of f along random V, every entry of G at small sizes, and a
    zero gradient at three more points."""
    import numpy as np
    from .emit.numpy import compile_gradient

    setup = _Setup(d, seed)
    symbols, f, sampler, x, scale = setup.symbols, setup.f, setup.sampler, setup.x, setup.scale
    grad = compile_gradient(d, check=False)
    tally = _Tally(tol)
    setup.check_value(d, tally)

    def gradients(point):
        g = _run(grad, point)
        return g if len(d.wrt) > 1 else (g,)

    for name, g in zip(d.wrt, gradients(x), strict=True):
        s = symbols[name]
        g = np.asarray(g, dtype=float)
        want = sampler.runtime_shape(s)
        if g.shape != want:
            tally.fail(f"the gradient for {name} has shape {g.shape}, expected {want}")
            continue
        h0 = _scale(x, [name])
        for _ in range(directions):
            v = np.asarray(sampler.direction(s), dtype=float)
            tally.check(np.sum(g * v), lambda h: _central(f, x, {name: v}, h * h0, scale))
        if g.size <= full_max and not (s.props & {"symmetric", "spd", "diagonal"}):
            tally.scale_floor = float(np.max(np.abs(g))) if g.size else 0.0
            for idx in np.ndindex(*g.shape):
                e = np.zeros(g.shape)
                e[idx] = 1.0
                tally.check(g[idx], lambda h: _central(f, x, {name: e}, h * h0, scale))
            tally.scale_floor = 0.0
        if not np.any(g):
            tally.notes.append(f"the gradient for {name} is identically zero at the sample point; "
                               "checked at three more points")
            from .evaluate import magnitude
            for _ in range(3):
                x2 = find_point(d.expr, symbols, sampler)
                g2 = np.asarray(gradients(x2)[d.wrt.index(name)], dtype=float)
                v = np.asarray(sampler.direction(s), dtype=float)
                scale2 = magnitude(d.expr, x2, sampler.sizes)
                tally.check(np.sum(g2 * v), lambda h: _central(f, x2, {name: v}, h * _scale(x2, [name]), scale2))
    return tally.report(sampler, "gradient")


def verify_directional(d, seed: int = 0, directions: int = 6, tol: float = 1e-5):
    """DF|X[V] itself (any output shape) for random V in all variables at once, against
    (F(X + hV) − F(X − hV)) / 2h."""
    import numpy as np
    from .emit.numpy import compile_exprs

    setup = _Setup(d, seed)
    symbols, f, sampler, x = setup.symbols, setup.f, setup.sampler, setup.x
    df = compile_exprs([d.directional], list(symbols.values()) + list(d.directions.values()))
    tally = _Tally(tol)
    setup.check_value(d, tally)
    h0 = _scale(x, d.wrt)
    for _ in range(directions):
        vs = {n: np.asarray(sampler.direction(d.variables[n]), dtype=float) for n in d.wrt}
        a = _run(df, {**x, **{d.directions[n].name: vs[n] for n in d.wrt}})
        tally.check(a, lambda h: _central(f, x, vs, h * h0, setup.scale))
    return tally.report(sampler, "DF|X[V]")


def verify_matrix(d, kind: str, seed: int = 0, tol: float = 1e-5, max_columns: int = 400):
    """A Jacobian (kind "jacobian") column by column against differences of f, or a Hessian
    (kind "hessian") against differences of the emitted gradient. Vectors and matrices are
    flattened column-major (vec), the order of the Kronecker forms; a Hessian must also be
    symmetric."""
    import numpy as np
    from .emit.numpy import compile_gradient, compile_results

    setup = _Setup(d, seed)
    f, sampler, x = setup.f, setup.sampler, setup.x
    tally = _Tally(tol)
    setup.check_value(d, tally)
    if kind == "hessian":   # the Hessian is checked against the gradient, so the gradient first
        first = verify_gradient(d, seed=seed, tol=tol)
        if not first.ok:
            tally.fail("the gradient the Hessian is checked against fails its own verification")
    if kind == "jacobian":
        pairs = [(w, w) for w in d.wrt]
        mats = compile_results(d, [d.jacobians[w] for w in d.wrt], "jacobian", check=False)
        outer = {w: f for w in d.wrt}
    else:
        pairs = [(a, b) for a in d.wrt for b in d.wrt]
        mats = compile_results(d, [d.hessians[p] for p in pairs], "hessian", check=False)
        grad = compile_gradient(d, check=False)
        outer = {a: (lambda k: lambda **kw: grad(**kw) if len(d.wrt) == 1 else grad(**kw)[k])(i)
                 for i, a in enumerate(d.wrt)}
    exprs = [d.jacobians[w] for w in d.wrt] if kind == "jacobian" else [d.hessians[p] for p in pairs]
    got = _run(mats, x)
    got = [got] if len(pairs) == 1 else list(got)
    for (a, b), m, expr in zip(pairs, got, exprs, strict=True):
        m = np.asarray(m, dtype=float)
        if m.ndim < 2:   # a vector or scalar at run time: give it back its orientation
            m = m.reshape(-1, 1) if expr.shape.cols == 1 else m.reshape(1, -1)
        if kind == "jacobian" and d.layout == "denominator":
            m = m.T
        x0 = np.asarray(x[b], dtype=float)
        if m.shape[1] != x0.size:
            tally.fail(f"the matrix for ({a}, {b}) has {m.shape[1]} columns, {b} has {x0.size} entries")
            continue
        h0 = _scale(x, [b])
        tally.scale_floor = float(np.max(np.abs(m))) if m.size else 0.0
        cols = range(x0.size) if x0.size <= max_columns else sampler.rng.choice(x0.size, max_columns, replace=False)
        for j in cols:
            e = np.zeros(x0.size)
            e[j] = 1.0
            e = e.reshape(x0.shape, order="F")

            def column(h, e=e):
                n, floor = _central(outer[a], x, {b: e}, h * h0, setup.scale if kind == "jacobian" else 0.0)
                return n.reshape(-1, order="F"), floor
            tally.check(m[:, j], column)
        if kind == "hessian" and a == b and m.shape[0] == m.shape[1]:
            asym = float(np.max(np.abs(m - m.T))) / max(tally.scale_floor, 1e-12)
            if asym > tol:
                tally.fail(f"the Hessian for {a} is not symmetric (relative asymmetry {asym:.1e})")
    return tally.report(sampler, kind)
