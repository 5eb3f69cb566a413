"""The checks behind tests/test_differential.py: sampling a point inside an expression's domain,
central and Richardson differences of the plain evaluator (matdiff.evaluate) of the expression as
read, and `run_case`, which puts one expression through derive and the emitted code and compares
every number that comes out (value, gradient, Jacobian or Kronecker form, Hessian, and the
verdict of verify()) with those differences. Its findings are an Outcome; Figures adds them up."""

from __future__ import annotations

import math
import re
import signal
import threading
import traceback
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import matdiff
from matdiff import MatdiffError
from matdiff.evaluate import evaluate, evaluate_all
from matdiff.expr import Call, Const

MARGIN = 0.05          # distance kept from the edge of a domain (log, sqrt, a divisor, a kink)
LARGEST = 1e6          # values beyond this make differences meaningless; such points are resampled
TOL = 1e-5             # relative error of a derivative, beyond the rounding floor
VALUE_TOL = 1e-9       # error of a value, relative to the largest intermediate value


def sample(symbols: dict, sizes: dict, rng, spread: bool) -> dict:
    """Inputs in runtime form (1-D vectors, float scalars) from each symbol's domain: SPD,
    diagonal, symmetric or positive where declared (positive everywhere, when `spread` is off),
    normal otherwise."""
    out = {}
    for name, s in symbols.items():
        shape = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in s.shape.numpy())
        if "spd" in s.props:
            b = rng.standard_normal(shape)
            v = b @ b.T / shape[0] + np.eye(shape[0])
        elif "diagonal" in s.props:
            v = np.diag(rng.standard_normal(shape[0]))
        elif "symmetric" in s.props:
            b = rng.standard_normal(shape)
            v = (b + b.T) / 2
        elif "positive" in s.props or not spread:
            v = rng.uniform(0.5, 2.0, shape)
        else:
            v = rng.standard_normal(shape)
        out[name] = float(v) if shape == () else v
    return out


def _exponent(node) -> float | None:
    p = node.args[1]
    return float(p.value) if isinstance(p, Const) else None


def in_domain(expr, values: dict, sizes: dict) -> tuple[bool, float]:
    """Whether every node of `expr` is finite and moderate at the point and every argument lies
    well inside its op's domain; and the largest intermediate magnitude (the rounding scale)."""
    nodes = list(expr.walk())
    vals = dict(zip(map(id, nodes), evaluate_all(nodes, values, sizes), strict=True))
    largest = 0.0
    for node in nodes:
        v = vals[id(node)]
        if not np.all(np.isfinite(v)) or (v.size and np.max(np.abs(v)) > LARGEST):
            return False, math.inf
        largest = max(largest, float(np.max(np.abs(v))) if v.size else 0.0)
        if not isinstance(node, Call):
            continue
        name, args = node.op.name, [vals[id(a)] for a in node.args]
        if name in ("log", "sqrt") and np.min(args[0]) < MARGIN:
            return False, largest
        if name == "power":
            k = _exponent(node)
            if (k is None or not k.is_integer()) and np.min(args[0]) < MARGIN:
                return False, largest
            if k is not None and k < 0 and np.min(np.abs(args[0])) < MARGIN:
                return False, largest
        if name == "div" and np.min(np.abs(args[1])) < MARGIN:
            return False, largest
        if name in ("relu", "abs", "step", "sign") and np.min(np.abs(args[0])) < MARGIN:
            return False, largest
        if name == "norm" and np.max(np.abs(args[0])) < MARGIN:
            return False, largest
        if name in ("sin", "cos") and np.max(np.abs(args[0])) > 100:   # faster than differences follow
            return False, largest
        if name in ("inv", "det", "logdet") and args[0].shape[0] > 1:
            if np.linalg.cond(args[0]) > 1e6 or (name == "logdet" and np.linalg.det(args[0]) <= 0):
                return False, largest
    return True, largest


def find_point(expr, symbols: dict, sizes: dict, rng, tries: int = 24):
    """A point inside the domain (after half the tries, every unconstrained input positive),
    with its rounding scale; None when there is none to be found."""
    for attempt in range(tries):
        point = sample(symbols, sizes, rng, spread=attempt < tries // 2)
        ok, largest = in_domain(expr, point, sizes)
        if ok:
            return point, largest
    return None


def _moved(point: dict, name: str, step) -> dict:
    out = dict(point)
    x = np.asarray(point[name], dtype=float) + step
    out[name] = float(x) if x.ndim == 0 else x
    return out


def _central(f, point: dict, name: str, direction, h: float):
    """(F(x + hV) − F(x − hV)) / 2h, flattened column-major."""
    plus = np.asarray(f(_moved(point, name, h * direction)), dtype=float)
    minus = np.asarray(f(_moved(point, name, -h * direction)), dtype=float)
    return ((plus - minus) / (2 * h)).reshape(-1, order="F")


# (rule, step relative to max(1, max|x|)): the first that agrees counts; a wrong derivative is off
# by far more than any of them, while curvature (Richardson) or rounding (small h) alone is not
STEPS = (("richardson", 1e-3), ("central", 1e-6), ("richardson", 1e-4), ("central", 1e-5), ("richardson", 1e-2),
         ("central", 1e-8), ("richardson", 1e-6))   # the last two for fast oscillation (sin of a large value)


def agree(analytic, f, point: dict, name: str, basis: list, scale: float) -> tuple[bool, float]:
    """Whether analytic[:, j] (a matrix, one column per direction in `basis`) matches differences
    of f along basis[j]; and the best relative error over the step rules. The error is relative to
    the largest entry, less the rounding floor ~ε·scale/h of f's differences."""
    analytic = np.asarray(analytic, dtype=float)
    x = np.asarray(point[name], dtype=float)
    h0 = max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    best = math.inf
    for rule, rel in STEPS:
        h = rel * h0
        if rule == "central":
            cols = [_central(f, point, name, v, h) for v in basis]
        else:
            cols = [(4 * _central(f, point, name, v, h / 2) - _central(f, point, name, v, h)) / 3 for v in basis]
        numeric = np.stack(cols, axis=1) if cols else np.zeros(analytic.shape)
        if numeric.shape != analytic.shape:
            return False, math.inf
        noise = 100 * np.finfo(float).eps * scale / h   # rounding in f(x ± hV), over 2h
        denom = max(float(np.max(np.abs(analytic), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)), 1e-12)
        best = min(best, max(0.0, float(np.max(np.abs(analytic - numeric), initial=0.0)) - noise) / denom)
        if best <= TOL:
            return True, best
    return False, best


def unit_basis(x, structure: str) -> tuple[list, list]:
    """Directions for an entrywise check, each with the array that reads ⟨G, V⟩ off a gradient:
    unit matrices E_ij; E_ij + E_ji (i ≤ j) for a symmetric variable, E_ii for a diagonal one."""
    x = np.asarray(x, dtype=float)
    dirs, picks = [], []
    for idx in np.ndindex(*x.shape):
        if (structure == "symmetric" and idx[0] > idx[1]) or (structure == "diagonal" and idx[0] != idx[1]):
            continue
        e = np.zeros(x.shape)
        e[idx] = 1.0
        if structure == "symmetric":
            e[idx[::-1]] = 1.0
        dirs.append(e if e.ndim else 1.0)
        picks.append(e)
    return dirs, picks


def structure_of(symbol) -> str:
    """The space a variable lives in: "symmetric" (declared symmetric or SPD), "diagonal", or ""."""
    if "diagonal" in symbol.props:
        return "diagonal"
    return "symmetric" if symbol.props & {"symmetric", "spd"} else ""


def off_structure(g, structure: str) -> float:
    """How far a gradient is from the variable's space: its antisymmetric part, or its
    off-diagonal part, relative to its largest entry."""
    g = np.asarray(g, dtype=float)
    if not structure or g.ndim != 2:
        return 0.0
    away = g - g.T if structure == "symmetric" else g - np.diag(np.diag(g))
    return float(np.max(np.abs(away))) / max(1.0, float(np.max(np.abs(g))))


# == one case, all checks ===========================================================================

@dataclass
class Outcome:
    """What one expression did: refused (the kind of MatdiffError), skipped (no point in its
    domain), or checked; and its failures, each (kind, detail)."""

    text: str
    wrt: str
    step: str = "reading"
    refused: str | None = None
    skipped: str | None = None
    checked: list = field(default_factory=list)
    failures: list = field(default_factory=list)

    def fail(self, kind: str, detail: str) -> None:
        self.failures.append((kind, detail))

    def __str__(self) -> str:
        lines = [f"{self.text!r} wrt {self.wrt}"] + [f"  {k}: {d}" for k, d in self.failures]
        return "\n".join(lines)


# failures that make a test fail; "verify-alarm" (verify() rejects a gradient the differences
# here accept) is reported beside them, since verify samples its own points
FAILING = ("unread", "misread", "reading", "foreign", "timeout", "value", "gradient", "jacobian", "kron",
           "hessian", "verify")
LIMIT = 20.0   # seconds for all the steps of one case; a case this small that takes longer hangs


class Timeout(BaseException):
    """A case that ran past its time limit: a BaseException, so that no `except Exception` on
    the way (in matdiff or in `attempt`) takes it for an error of the step."""


@contextmanager
def time_limit(seconds: float | None):
    """Raise Timeout in the block after `seconds` (main thread only; elsewhere, no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Timeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refusal_kind(step: str, err: MatdiffError) -> str:
    """A refusal's class: the step, the error class, the message up to the expression it quotes,
    and the op at the head of that expression (names, shapes and numbers blurred)."""
    head = str(err).splitlines()[0]
    reason, _, quoted = head.partition(": ")
    reason = re.sub(r"\d+", "_", reason)
    op = re.match(r"-?\(*([a-z_]+)\(", quoted)
    return f"{step}: {type(err).__name__}: {reason}" + (f" [{op.group(1)}]" if op else "")


def _where(err: Exception) -> str:
    """The innermost frame of a traceback inside matdiff or the code it emitted (or the last one)."""
    frames = traceback.extract_tb(err.__traceback__)
    inside = [f for f in frames if "/matdiff/" in f.filename or f.filename == "<matdiff>"] or frames
    f = inside[-1]
    place = "emitted code" if f.filename == "<matdiff>" else f.filename.split("/matdiff/")[-1]
    return f"{place}:{f.lineno} in {f.name}"


def _runtime_matrix(got, rows: int, cols: int):
    """A Jacobian or Hessian returned at run time, as a rows×cols matrix (a vector or scalar
    result has lost its orientation); None when its size is wrong."""
    a = np.asarray(got, dtype=float)
    if a.shape == (rows, cols):
        return a
    if a.ndim < 2 and a.size == rows * cols and (rows == 1 or cols == 1):
        return a.reshape(rows, cols)
    return None


def run_case(text: str, wrt: str, shapes: dict, assume: dict, sizes: dict, seed: int = 0,
             own: Callable | None = None, verify: bool = True, limit: float | None = LIMIT) -> Outcome:
    """Every check on one expression, with respect to `wrt`. `own(env)` is the generator's own
    value of the text (from 2-D arrays: columns n×1, scalars 1×1), compared with the reading;
    None for texts that come without one."""
    out = Outcome(text, wrt)
    try:
        with time_limit(limit):
            _checks(out, text, wrt, shapes, assume, sizes, seed, own, verify)
    except Timeout:
        out.fail("timeout", f"still at step {out.step} after {limit:g} s")
    except MatdiffError as err:   # reading, or evaluating the reference: a refusal of its own kind
        out.refused = out.refused or refusal_kind("reading", err)
    except Exception as err:   # noqa: BLE001 - any other exception is what these tests look for
        out.fail("foreign", f"{type(err).__name__}: {err} ({_where(err)})")
    return out


def _checks(out: Outcome, text, wrt, shapes, assume, sizes, seed, own, verify) -> None:
    rng = np.random.default_rng(seed)
    expr = matdiff.parse(text, shapes, assume)
    if wrt not in expr.symbols():
        out.skipped = "the variable does not survive reading"
        return

    def attempt(step: str, fn: Callable):
        """fn(), or None after recording a refusal (MatdiffError) or a foreign exception."""
        out.step = step
        try:
            with np.errstate(all="ignore"):
                return fn()
        except MatdiffError as err:
            out.refused = out.refused or refusal_kind(step, err)
        except Exception as err:   # noqa: BLE001
            out.fail("foreign", f"{step}: {type(err).__name__}: {err} ({_where(err)})")
        return None

    d = attempt("derive", lambda: matdiff.derive(text, wrt, shapes=shapes, assume=assume))
    if d is None:
        return
    if d.expr != expr:
        out.fail("reading", f"derive read {d.expr}, parse read {expr}")
    symbols = dict(d.symbols)
    found = find_point(expr, symbols, sizes, rng)
    if found is None:
        out.skipped = "no point inside the domain"
        return
    point, scale = found
    reference = lambda p: evaluate(expr, p, sizes)  # noqa: E731
    f0 = reference(point)

    if own is not None:   # the reading against the generator's own value of the text
        size = lambda dim: dim if isinstance(dim, int) else sizes[dim]  # noqa: E731
        env = {n: np.asarray(v, dtype=float).reshape(*map(size, s.shape)) for n, v in point.items()
               for s in [symbols[n]]}
        mine = np.asarray(own(env), dtype=float)
        got = np.asarray(f0, dtype=float)
        if got.size != mine.size or not np.allclose(got.reshape(mine.shape), mine, rtol=1e-7,
                                                    atol=VALUE_TOL * max(1.0, scale)):
            out.fail("misread", f"read as {expr}, which is {np.round(got, 6).tolist()}; "
                                f"the text means {np.round(mine, 6).tolist()}")
            return

    def emitted(fn, at: dict):
        """An emitted function at a point; a size no input has (m in tr(Iₘ)·a) passed as a number."""
        return fn(**at, **{k: sizes[k] for k in fn.sizes})

    # (1) the emitted value
    value = attempt("value", lambda: emitted(d.value_function(), point))
    if value is not None:
        out.checked.append("value")
        got = np.asarray(value, dtype=float)
        if got.shape != np.shape(f0):
            out.fail("value", f"runtime shape {got.shape}, the reference has {np.shape(f0)}")
        elif not np.all(np.abs(got - f0) <= VALUE_TOL * max(scale, 1.0) + 1e-9 * np.abs(f0)):
            out.fail("value", f"emitted {np.round(got, 6).tolist()} (from {d.value_expr}), "
                              f"the reference {np.round(f0, 6).tolist()}")

    var = symbols[wrt]
    structure = structure_of(var)
    x = np.asarray(point[wrt], dtype=float)
    gradient_ok = False
    if expr.shape.is_scalar:
        # (2) the gradient, entry by entry (on the symmetric or diagonal matrices, for a variable
        # declared so)
        g = attempt("gradient", lambda: emitted(d.gradient_function(), point))
        if g is not None:
            out.checked.append("gradient")
            g = np.asarray(g, dtype=float)
            if g.shape != x.shape:
                out.fail("gradient", f"runtime shape {g.shape}, the variable has {x.shape}")
            else:
                dirs, picks = unit_basis(x, structure)
                analytic = np.array([[float(np.sum(g * e)) for e in picks]])
                gradient_ok, err = agree(analytic, reference, point, wrt, dirs, scale)
                if not gradient_ok:
                    out.fail("gradient", f"∇ = {d.gradient}: relative error {err:.1e} against differences")
                if off_structure(g, structure) > 1e-8:
                    gradient_ok = False
                    out.fail("gradient", f"∇ = {d.gradient} is not {structure}, as {wrt} is")
            # (5) verify() never passes what the differences here reject
            report = attempt("verify", lambda: d.verify(seed=seed)) if verify else None
            if report is not None and report.ok and not gradient_ok:
                out.fail("verify", f"verify() passed ∇ = {d.gradient}: {report}")
            if report is not None and not report.ok and gradient_ok:
                out.fail("verify-alarm", f"verify() rejected ∇ = {d.gradient}: {report}")

    if not structure:
        # (3) the Jacobian, numerator layout (m×n) for a vector or scalar variable and output, or
        # the Kronecker form (vec column-major) where a matrix is involved
        kind = "jacobian" if var.shape.cols == 1 and expr.shape.cols == 1 else "kron"
        jac = attempt(kind, lambda: emitted(d.jacobian_function(), point))
        if jac is not None:
            out.checked.append(kind)
            rows, cols = int(np.size(f0)), max(x.size, 1)
            j = _runtime_matrix(jac, rows, cols)
            if j is None:
                out.fail(kind, f"runtime shape {np.shape(jac)}, expected {rows}×{cols}")
            else:
                dirs = [e.reshape(x.shape, order="F") if x.ndim else 1.0 for e in np.eye(cols)]
                ok, err = agree(j, reference, point, wrt, dirs, scale)
                if not ok:
                    out.fail(kind, f"J = {d.jacobian}: relative error {err:.1e} against differences")

    if expr.shape.is_scalar and var.shape.is_vector and gradient_ok:
        # (4) the Hessian, against differences of the emitted gradient (checked above)
        hes = attempt("hessian", lambda: emitted(d.hessian_function(), point))
        if hes is not None:
            out.checked.append("hessian")
            h = _runtime_matrix(hes, x.size, x.size)
            if h is None:
                out.fail("hessian", f"runtime shape {np.shape(hes)}, expected {x.size}×{x.size}")
            else:
                grad = d.gradient_function()
                ok, err = agree(h, lambda p: emitted(grad, p), point, wrt, list(np.eye(x.size)), scale)
                if not ok:
                    out.fail("hessian", f"H = {d.hessian}: relative error {err:.1e} against differences of ∇")


class Figures:
    """Counts over a run: expressions, what was checked, refusals by kind (with a first
    example), skips, failures by kind (with the shortest example, and the first few texts)."""

    def __init__(self):
        self.runs, self.refused, self.skipped = 0, Counter(), Counter()
        self.failed, self.checked = Counter(), Counter()
        self.first_refused: dict[str, Outcome] = {}
        self.shortest: dict[str, Outcome] = {}
        self.examples: dict[str, list] = {}

    def add(self, out: Outcome) -> None:
        self.runs += 1
        self.checked.update(out.checked)
        if out.refused:
            self.refused[out.refused] += 1
            self.first_refused.setdefault(out.refused, out)
        if out.skipped:
            self.skipped[out.skipped] += 1
        for kind in {k for k, _ in out.failures}:
            self.failed[kind] += 1
            if kind not in self.shortest or len(out.text) < len(self.shortest[kind].text):
                self.shortest[kind] = out
            seen = self.examples.setdefault(kind, [])
            if len(seen) < 8 and (out.text, out.wrt) not in seen:
                seen.append((out.text, out.wrt))

    def wrong(self) -> int:
        return sum(n for k, n in self.failed.items() if k in FAILING)

    def __str__(self) -> str:
        lines = [f"expressions run: {self.runs}",
                 "checked: " + ", ".join(f"{k} {n}" for k, n in self.checked.most_common()),
                 f"refused: {sum(self.refused.values())}"]
        lines += [f"  {n:5d}  {k}    e.g. {self.first_refused[k].text!r} wrt {self.first_refused[k].wrt}"
                  for k, n in self.refused.most_common()]
        lines += [f"skipped: {sum(self.skipped.values())}"]
        lines += [f"  {n:5d}  {k}" for k, n in self.skipped.most_common()]
        lines += ["failed: " + (", ".join(f"{k} {n}" for k, n in self.failed.most_common()) or "none")]
        for k, o in sorted(self.shortest.items()):
            lines += [f"  shortest {k}:"] + ["    " + s for s in str(o).splitlines()]
            lines += [f"  {k}, first texts:"] + [f"    {t!r} wrt {w}" for t, w in self.examples[k]]
        return "\n".join(lines)
