"""Finite-difference checks of derived code. Inputs are sampled from each symbol's domain (SPD
for logdet, invertible for inv/det, positive for log/sqrt, away from the kinks of relu/abs), in
float64, non-symmetric unless declared, with a distinct size for each symbolic dim so that a
missing transpose cannot hide.

The check: along random directions V, compare ⟨G, V⟩ with the central difference
(f(X + hV) − f(X − hV)) / 2h, h = 1e-5 · max(1, max|X|), and report the relative error
max(0, |a − d| − r) / max(|a|, |d|, 1e-12), where r = 64ε·max|f(X ± hV)| / 2h is the rounding
floor of the difference (below it two numbers cannot be told apart); a pair over tolerance is
retried with h/10 and 10h (the smallest error counts, so rounding or curvature alone does not
fail a right answer, while a wrong derivative is off by far more). At small
sizes every entry of G is also checked against its own difference (error relative to max|G|).
A gradient that is identically zero is checked at more points before it is believed."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import DomainError
from .expr import Call, Symbol

SIZES = (3, 4, 5, 6, 7, 2, 8, 9, 10, 11)
EPS = 2.0 ** -52
KINKS = ("relu", "abs", "step", "sign")


@dataclass
class Report:
    ok: bool
    max_rel_error: float
    tolerance: float
    sizes: dict
    seed: int
    checks: int
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "all sizes fixed"
        verdict = "ok" if self.ok else "FAILED"
        out = (f"verify: {verdict}: max relative error {self.max_rel_error:.2e} (tolerance {self.tolerance:.0e}) "
               f"over {self.checks} finite-difference checks; sizes {sizes}; seed {self.seed}")
        return "\n".join([out] + [f"  note: {n}" for n in self.notes])


def domains(expr) -> dict[str, set]:
    """Domain tags per symbol, from the ops whose arguments the symbol is (directly or transposed)."""
    out: dict[str, set] = {}
    for node in expr.walk():
        if not isinstance(node, Call):
            continue
        for i, tag in enumerate(node.op.domain):
            a = node.args[i]
            if isinstance(a, Call) and a.op.name == "transpose":
                a = a.args[0]
            if tag == "power":
                p = node.args[1]
                v = getattr(p, "value", None)
                tag = "nonzero" if isinstance(v, int) and v < 0 else "any" if isinstance(v, int) else "positive"
            if isinstance(a, Symbol) and tag != "any":
                out.setdefault(a.name, set()).add(tag)
    return out


class Sampler:
    def __init__(self, symbols: dict[str, Symbol], expr, seed: int):
        import numpy as np
        self.np = np
        self.rng = np.random.default_rng(seed)
        self.symbols = symbols
        self.tags = domains(expr)
        dims = []
        for s in symbols.values():
            for d in s.shape:
                if isinstance(d, str) and d not in dims:
                    dims.append(d)
        taken = {d for s in symbols.values() for d in s.shape if isinstance(d, int)}
        pool = [n for n in SIZES if n not in taken] or list(SIZES)
        self.sizes = {d: pool[i % len(pool)] for i, d in enumerate(dims)}
        self.seed = seed

    def shuffle_sizes(self) -> None:
        """The same sizes, largest first (keeps them distinct)."""
        values = sorted(self.sizes.values(), reverse=True)
        self.sizes = dict(zip(self.sizes, values))

    def runtime_shape(self, s: Symbol) -> tuple:
        return tuple(self.sizes.get(d, d) for d in s.shape.numpy())

    def sample(self, positive_all: bool = False) -> dict:
        np, rng = self.np, self.rng
        out = {}
        for name, s in self.symbols.items():
            shape = self.runtime_shape(s)
            tags = self.tags.get(name, set()) | set(s.props)
            if len(shape) == 2 and shape[0] == shape[1] and tags & {"spd", "invertible", "symmetric", "diagonal"}:
                n = shape[0]
                b = rng.standard_normal((n, n))
                if "diagonal" in tags:
                    x = np.diag(rng.uniform(0.5, 2.0, n) * (1 if tags & {"spd", "positive", "invertible"} else rng.choice([-1, 1], n)))
                elif "spd" in tags:
                    x = b @ b.T / n + np.eye(n)
                elif "symmetric" in tags:
                    x = (b + b.T) / 2 + (np.eye(n) * n if "invertible" in tags else 0)
                else:
                    x = np.eye(n) * 2 + 0.5 * b / np.sqrt(n)
            elif tags & {"positive"} or positive_all:
                x = rng.uniform(0.5, 2.0, shape)
            elif tags & {"nonzero", "not_all_zero"}:
                x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            else:
                x = rng.standard_normal(shape)
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


def _domain_checks(expr) -> list[tuple[str, object]]:
    """(tag, argument) for every argument that must lie in a domain: kinks of relu/abs to keep
    away from, and compound arguments of log, sqrt, logdet, inv, … (a symbol argument is
    sampled in its domain already)."""
    out = []
    for node in expr.walk():
        if not isinstance(node, Call):
            continue
        if node.op.name in KINKS:
            out.append(("nonzero", node.args[0]))
            continue
        for tag, a in zip(node.op.domain, node.args):
            if tag not in ("any", "power") and not isinstance(a, Symbol):
                out.append((tag, a))
    return out


def _in_domain(tag: str, v) -> bool:
    import numpy as np
    v = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(v)):
        return False
    if tag == "positive":
        return float(np.min(v)) > 1e-3
    if tag == "nonzero":
        return float(np.min(np.abs(v))) > 1e-3
    if tag == "not_all_zero":   # ‖X‖ is smooth away from X = 0
        return float(np.max(np.abs(v))) > 1e-3
    if tag in ("spd", "invertible"):
        if v.ndim != 2 or np.linalg.cond(v) > 1e8:
            return False
        return tag == "invertible" or np.linalg.slogdet(v)[0] > 0
    return True


def find_point(expr, symbols: dict, f, sampler):
    """Inputs where f is finite and every domain holds; after 10 misses the dim sizes are
    shuffled (XᵀX needs more rows than columns), after 20 every input is made positive."""
    import numpy as np
    from .emit.numpy import compile_exprs, py_name

    checks = _domain_checks(expr)
    args = compile_exprs([a for _, a in checks], list(symbols.values())) if checks else None
    for attempt in range(30):
        if attempt == 10:
            sampler.shuffle_sizes()
        cand = sampler.sample(positive_all=attempt >= 20)
        named = {py_name(k): v for k, v in cand.items()}
        with np.errstate(all="ignore"):
            if not np.all(np.isfinite(f(**named))):
                continue
            if args is not None:
                vals = args(**named)
                vals = vals if len(checks) > 1 else (vals,)
                if not all(_in_domain(tag, v) for (tag, _), v in zip(checks, vals, strict=True)):
                    continue
        return cand
    raise DomainError(f"could not find inputs where {expr} is finite and inside its domain "
                      f"(30 tries, seed {sampler.seed})", hint="declare properties with assume (spd, positive)")


def verify_gradient(d, seed: int = 0, directions: int = 6, tol: float = 1e-5, full_max: int = 64):
    import numpy as np
    from .emit.numpy import compile_gradient, compile_value, py_name

    symbols = dict(d.symbols)
    f = compile_value(d.value_expr, list(symbols.values()), check=False)
    grad = compile_gradient(d, check=False)
    sampler = Sampler(symbols, d.expr, seed)

    def call(fn, x):
        with np.errstate(all="ignore"):
            return fn(**{py_name(k): v for k, v in x.items()})

    x = find_point(d.expr, symbols, f, sampler)

    grads = call(grad, x)
    grads = grads if len(d.wrt) > 1 else (grads,)
    worst, checks, notes = 0.0, 0, []
    for name, g in zip(d.wrt, grads, strict=True):
        s = symbols[name]
        want = sampler.runtime_shape(s)
        g = np.asarray(g, dtype=float)
        if g.shape != want:
            notes.append(f"gradient for {name} has shape {g.shape}, expected {want}")
            worst = np.inf
            continue
        x0 = np.asarray(x[name], dtype=float)
        scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0

        def fd(v, h):
            """The central difference and its rounding floor 64ε·max|f(X ± hV)| / 2h."""
            xp, xm = dict(x), dict(x)
            xp[name] = x0 + h * v
            xm[name] = x0 - h * v
            if x0.ndim == 0:
                xp[name], xm[name] = float(xp[name]), float(xm[name])
            fp, fm = float(call(f, xp)), float(call(f, xm))
            return (fp - fm) / (2 * h), 64 * EPS * max(abs(fp), abs(fm)) / (2 * h)

        def err(a, v, denom=None):
            best = np.inf
            for h in (1e-5 * scale, 1e-6 * scale, 1e-4 * scale):
                n, floor = fd(v, h)
                e = max(0.0, abs(a - n) - floor) / max(abs(a), abs(n), denom or 0.0, 1e-12)
                best = min(best, e)
                if best <= tol:
                    break
            return best

        for _ in range(directions):
            v = np.asarray(sampler.direction(s), dtype=float)
            worst = max(worst, err(float(np.sum(g * v)), v))
            checks += 1
        if g.size <= full_max and not (s.props & {"symmetric", "spd", "diagonal"}):
            gmax = float(np.max(np.abs(g))) if g.size else 0.0
            for idx in np.ndindex(*g.shape):
                e = np.zeros(g.shape)
                e[idx] = 1.0
                worst = max(worst, err(float(g[idx]), e, denom=gmax))
                checks += 1
        if not np.any(g):
            notes.append(f"the gradient for {name} is identically zero at the sample point; "
                         "checked at three more points")
            for k in range(3):
                x2 = sampler.sample()
                g2 = call(grad, x2)
                g2 = np.asarray(g2 if len(d.wrt) == 1 else g2[d.wrt.index(name)])
                v = np.asarray(sampler.direction(s), dtype=float)
                saved, x = x, x2
                x0 = np.asarray(x[name], dtype=float)
                worst = max(worst, err(float(np.sum(g2 * v)), v))
                x = saved
                checks += 1
    ok = bool(worst <= tol)
    if not ok:
        notes.append("the derived gradient does not match finite differences")
    return Report(ok, float(worst), tol, dict(sampler.sizes), seed, checks, notes)


def verify_directional(d, seed: int = 0, directions: int = 6, tol: float = 1e-5):
    """Check DF|X[V] itself (any output shape): for random V in every variable at once,
    compare DF|X[V] with (F(X + hV) − F(X − hV)) / 2h, error relative to the larger norm."""
    import numpy as np
    from .emit.numpy import compile_exprs, py_name

    symbols = dict(d.symbols)
    dirs = list(d.directions.values())
    f = compile_exprs([d.expr], list(symbols.values()))
    df = compile_exprs([d.directional], list(symbols.values()) + dirs)
    sampler = Sampler(symbols, d.expr, seed)

    def run(fn, x):
        with np.errstate(all="ignore"):
            return np.asarray(fn(**{py_name(k): v for k, v in x.items()}), dtype=float)

    x = find_point(d.expr, symbols, f, sampler)
    worst, checks = 0.0, 0
    for _ in range(directions):
        vs = {name: np.asarray(sampler.direction(d.variables[name]), dtype=float) for name in d.wrt}
        a = run(df, {**x, **{d.directions[n].name: vs[n] for n in d.wrt}})
        best = np.inf
        for h0 in (1e-5, 1e-6, 1e-4):
            xp, xm = dict(x), dict(x)
            hs = h0 * max([1.0] + [float(np.max(np.abs(x[n]))) for n in d.wrt])
            for n in d.wrt:
                xp[n], xm[n] = x[n] + hs * vs[n], x[n] - hs * vs[n]
            fp, fm = run(f, xp), run(f, xm)
            num = (fp - fm) / (2 * hs)
            floor = 64 * EPS * float(np.max(np.abs(np.concatenate([fp.ravel(), fm.ravel()])))) / (2 * hs)
            denom = max(float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(num))) if num.size else 0.0, 1e-12)
            e = max(0.0, float(np.max(np.abs(a - num))) - floor) / denom if a.shape == num.shape else np.inf
            best = min(best, e)
            if best <= tol:
                break
        worst = max(worst, best)
        checks += 1
    ok = bool(worst <= tol)
    notes = [] if ok else ["DF|X[V] does not match finite differences"]
    return Report(ok, worst, tol, dict(sampler.sizes), seed, checks, notes)


def verify_matrix(d, kind: str, seed: int = 0, tol: float = 1e-5, max_columns: int = 400):
    """Check a Jacobian (kind "jacobian") column by column against central differences of f,
    or a Hessian (kind "hessian") against differences of the emitted gradient; vectors and
    matrices are flattened column-major (vec), the order of the Kronecker forms. A Hessian must
    also come out symmetric."""
    import numpy as np
    from .emit.numpy import compile_gradient, compile_results, compile_value, py_name

    symbols = dict(d.symbols)
    params = list(symbols.values())
    f = compile_value(d.value_expr, params, check=False)
    sampler = Sampler(symbols, d.expr, seed)
    x = find_point(d.expr, symbols, f, sampler)
    if kind == "jacobian":
        mats = compile_results(d, [d.jacobians[w] for w in d.wrt], "jacobian", check=False)
        pairs = [(w, w) for w in d.wrt]
        outer = {w: f for w in d.wrt}
    else:
        mats = compile_results(d, [d.hessians[(a, b)] for a in d.wrt for b in d.wrt], "hessian", check=False)
        pairs = [(a, b) for a in d.wrt for b in d.wrt]
        grad = compile_gradient(d, check=False)
        outer = {a: (lambda i: (lambda **kw: (grad(**kw) if len(d.wrt) == 1 else grad(**kw)[i])))(k)
                 for k, a in enumerate(d.wrt)}

    def run(fn, point):
        with np.errstate(all="ignore"):
            return np.asarray(fn(**{py_name(k): v for k, v in point.items()}), dtype=float)

    named = {py_name(k): v for k, v in x.items()}
    with np.errstate(all="ignore"):
        got = mats(**named)
    got = [got] if len(pairs) == 1 else list(got)
    worst, checks, notes = 0.0, 0, []
    for (a, b), m in zip(pairs, got, strict=True):
        m = np.asarray(m, dtype=float)
        m = m.reshape(1, -1) if m.ndim < 2 else m
        if kind == "jacobian" and d.layout == "denominator":
            m = m.T
        x0 = np.asarray(x[b], dtype=float)
        size = x0.size
        if m.shape[1] != size:
            notes.append(f"the matrix for {a}, {b} has {m.shape[1]} columns, {b} has {size} entries")
            worst = np.inf
            continue
        scale = max(1.0, float(np.max(np.abs(x0)))) if size else 1.0
        mmax = float(np.max(np.abs(m))) if m.size else 0.0
        cols = range(size) if size <= max_columns else sampler.rng.choice(size, max_columns, replace=False)
        for j in cols:
            e = np.zeros(size)
            e[j] = 1.0
            e = e.reshape(x0.shape, order="F") if x0.ndim == 2 else e.reshape(x0.shape)
            best = np.inf
            for h in (1e-5 * scale, 1e-6 * scale, 1e-4 * scale):
                xp, xm = dict(x), dict(x)
                xp[b], xm[b] = x0 + h * e, x0 - h * e
                if x0.ndim == 0:
                    xp[b], xm[b] = float(xp[b]), float(xm[b])
                fp, fm = run(outer[a], xp), run(outer[a], xm)
                col = ((fp - fm) / (2 * h)).reshape(-1, order="F")
                floor = 64 * EPS * max(float(np.max(np.abs(fp))), float(np.max(np.abs(fm)))) / (2 * h)
                if col.shape != m[:, j].shape:
                    best = np.inf
                    break
                err = max(0.0, float(np.max(np.abs(col - m[:, j]))) - floor) / max(
                    mmax, float(np.max(np.abs(col))), 1e-12)
                best = min(best, err)
                if best <= tol:
                    break
            worst = max(worst, best)
            checks += 1
        if kind == "hessian" and a == b and m.shape[0] == m.shape[1]:
            asym = float(np.max(np.abs(m - m.T))) / max(mmax, 1e-12)
            if asym > tol:
                notes.append(f"the Hessian for {a} is not symmetric (relative asymmetry {asym:.1e})")
                worst = max(worst, asym)
    ok = bool(worst <= tol)
    if not ok:
        notes.append(f"the derived {kind} does not match finite differences")
    return Report(ok, float(worst), tol, dict(sampler.sizes), seed, checks, notes)
