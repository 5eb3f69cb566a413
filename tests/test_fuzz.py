"""Fuzzing matdiff's public entry points: `parse`, `derive` (with `.gradient` and the emitted
`gradient_function()` run on random arrays of the declared shapes), `check_gradient`,
`check_program` and the CLI, on grammar-aware text (names, numbers, operators, calls of the
known functions, brackets, norms, paper postfixes), mutated text, Unicode soup, huge numbers,
long and deeply nested input, and random shapes / wrt / assume arguments.

The promise checked: every input ends in a result or a MatdiffError (whose span, when it has
one, lies inside the text it quotes), never another exception, and no input takes over
LIMIT_S seconds. The default run is a bounded, deterministic budget; `pytest -m fuzz` runs a long
one (MATDIFF_FUZZ_EXAMPLES inputs per entry point, default 3000) that collects every finding
instead of stopping at the first and prints the counts: inputs tried, results, errors by class."""

from __future__ import annotations

import collections
import contextlib
import io
import os
import signal
import sys
import time
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import matdiff
from matdiff import MatdiffError, check_gradient, check_program
from matdiff.expr import SPELLINGS, Symbol
from matdiff.shapes import Shape

LIMIT_S = 2.0   # no input may take longer

# -- the outcome of one input ------------------------------------------------------------------------


class _TooSlow(BaseException):
    """Raised by the watchdog when one input runs past LIMIT_S (a BaseException, so that no
    `except Exception` in the code under test swallows it)."""


class Tally:
    """What the inputs came to: counts per entry point (tried, results, errors by class) and
    the findings (a foreign exception, a span outside its text, an input over LIMIT_S)."""

    def __init__(self):
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.findings: list[str] = []
        self.examples: dict[str, str] = {}   # the first input of each error class
        self.strict = True   # raise at the first finding (hypothesis then shrinks it)

    def run(self, entry: str, fn, *args, text=None, **kwargs):
        """fn(*args, **kwargs) under the promise; the result, or None for an allowed error."""
        counts = self.counts[entry]
        counts["tried"] += 1
        start = time.perf_counter()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, LIMIT_S + 0.5)
        try:
            result = fn(*args, **kwargs)
        except MatdiffError as e:
            counts[f"error {type(e).__name__}"] += 1
            self.examples.setdefault(f"{entry}: {type(e).__name__}",
                                     f"{repr(text if text is not None else args)[:200]} → {e.message[:120]!r}")
            problem = _bad_error(e)
            if problem:
                self.find(entry, f"{type(e).__name__} {problem}", args, kwargs, text)
            return None
        except _TooSlow:
            counts["too slow"] += 1
            self.find(entry, f"took over {LIMIT_S} s (stopped)", args, kwargs, text)
            return None
        except SystemExit as e:   # the CLI's usage errors (argparse) exit with status 2
            if entry != "cli" or e.code != 2:
                self.find(entry, f"SystemExit({e.code!r})", args, kwargs, text)
            counts["usage error (exit 2)"] += 1
            return None
        except Exception as e:   # noqa: BLE001  (a foreign exception is what is looked for)
            counts[f"FOREIGN {type(e).__name__}"] += 1
            where = traceback.extract_tb(e.__traceback__)[-1]
            self.find(entry, f"{type(e).__name__}: {str(e)[:200]} at {_short_path(where.filename)}:{where.lineno}",
                      args, kwargs, text)
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        elapsed = time.perf_counter() - start
        if elapsed > LIMIT_S:
            counts["too slow"] += 1
            self.find(entry, f"took {elapsed:.1f} s", args, kwargs, text)
        counts["result"] += 1
        return result

    def find(self, entry, what, args, kwargs, text):
        shown = repr(text if text is not None else (args, kwargs))
        finding = f"[{entry}] {what}\n    input: {shown[:600]}{'…' if len(shown) > 600 else ''}"
        self.findings.append(finding)
        if self.strict:
            raise AssertionError(finding)

    def summary(self) -> str:
        lines = []
        for entry, c in sorted(self.counts.items()):
            errors = sorted((k, v) for k, v in c.items() if k not in ("tried", "result"))
            lines.append(f"{entry}: {c['tried']} inputs, {c['result']} results, "
                         + ", ".join(f"{k}: {v}" for k, v in errors))
        lines.append("an input per error class:")
        lines += [f"  {k}: {v}" for k, v in sorted(self.examples.items())]
        lines.append(f"findings: {len(self.findings)}")
        lines += self.findings[:50]
        return "\n".join(lines)


def _alarm(signum, frame):
    # raised in a callback (a gc hook), the exception is swallowed: ring again until it lands
    signal.setitimer(signal.ITIMER_REAL, 0.25)
    raise _TooSlow


def _short_path(path: str) -> str:
    return path.split("/main/", 1)[-1] if "/main/" in path else path.rsplit("/", 2)[-1]


def _bad_error(e: MatdiffError) -> str | None:
    """What is wrong with an error that matdiff raised, if anything: a span outside its text, or
    a rendering that fails."""
    if e.span is not None:
        if e.text is None:
            return f"has a span {e.span} but no text"
        start, end = e.span
        if not (0 <= start <= end <= len(e.text) + 1):
            return f"span {e.span} outside its text (length {len(e.text)})"
    try:
        str(e), e.render(ascii=True)
    except Exception as inner:   # noqa: BLE001
        return f"cannot be rendered: {type(inner).__name__}: {inner}"
    return None


TALLY = Tally()

# -- text ------------------------------------------------------------------------------------------

VECTORS = ("x", "y", "b", "u", "z1", "h", "delta", "x_hat", "W_{1}")
MATRICES = ("A", "B", "W", "X", "W1", "Σ", "C", "I")
SCALARS = ("alpha", "λ", "β", "a", "lam", "lambda", "eps", "σ")
NUMBERS = ("0", "1", "2", "3", "0.5", ".5", "1e-3", "2.5e-3", "1/2", "½", "1e-320", "1e308", "1e400",
           "9" * 25, "2" * 400, "0.0", "00", "1.", "3.14159")
POSTFIX = (".T", "ᵀ", "'", "⁻¹", "²", "³", "^T", "^-1", "^{-1}", "⁻ᵀ", "⊙²", "^2", "⁻²", "¹⁰", "⁰")
BINARY = (" + ", " - ", " − ", " * ", " / ", " @ ", " ** ", " ⊙ ", " ∘ ", " · ", " ⊗ ", " ", "", " > ", " < ",
          " ^ ", "^⊙")
FUNCTIONS = tuple(sorted({s for s, op in SPELLINGS.items() if op.arity != 0})) + (
    "np.exp", "np.sum", "np.linalg.inv", "dot", "outer", "inner", "where", "maximum", "multiply",
    "transpose", "foo", "mean", "ReLU", "Log", "relu'", "σ'", "tanh'")
NORMS = (("‖", "‖"), ("‖", "‖²"), ("‖", "‖_F"), ("‖", "‖²_F"), ("||", "||"), ("‖", "‖₂"), ("‖", "‖_2"),
         ("‖", "‖_∞"))
CONSTANTS = ("eye(n)", "eye(3)", "zeros(n)", "ones(n)", "ones(3, 4)", "zeros(m, k)", "eye(0)", "eye(n, m)",
             "eye(" + "9" * 30 + ")", "𝟙", "I", "e^x", "e^{-x}")


@st.composite
def grammar(draw, depth: int = 0, max_depth: int = 5) -> str:
    """An expression text from the language's pieces; often ill-shaped, sometimes ill-formed."""
    leaf = depth >= max_depth or draw(st.integers(0, 3)) == 0
    if leaf:
        return draw(st.one_of(st.sampled_from(VECTORS), st.sampled_from(MATRICES), st.sampled_from(SCALARS),
                              st.sampled_from(NUMBERS), st.sampled_from(CONSTANTS),
                              st.integers(0, 10 ** 6).map(str),
                              st.floats(allow_nan=False, allow_infinity=False).map(repr),
                              st.text("AXCBWxyzab", min_size=2, max_size=6)))   # paper products: AXC, xᵀy
    sub = grammar(depth + 1, max_depth)
    kind = draw(st.sampled_from(("unary", "postfix", "binary", "binary", "call", "call2", "paper_call",
                                 "norm", "bracket", "brace")))
    if kind == "unary":
        return draw(st.sampled_from(("-", "+", "−", "- "))) + draw(sub)
    if kind == "postfix":
        return draw(sub) + draw(st.sampled_from(POSTFIX))
    if kind == "binary":
        return draw(sub) + draw(st.sampled_from(BINARY)) + draw(sub)
    if kind == "call":
        return f"{draw(st.sampled_from(FUNCTIONS))}({draw(sub)})"
    if kind == "call2":
        args = draw(st.lists(sub, min_size=0, max_size=3))
        return f"{draw(st.sampled_from(FUNCTIONS))}({', '.join(args)})"
    if kind == "paper_call":
        return f"{draw(st.sampled_from(FUNCTIONS))} {draw(sub)}"
    if kind == "norm":
        left, right = draw(st.sampled_from(NORMS))
        return left + draw(sub) + right
    if kind == "bracket":
        return f"({draw(sub)})"
    return "{" + draw(sub) + "}"


ALPHABET = ("()[]{}‖|,.+-−*/@^'_ ⊙∘·⊗ᵀ⁻¹²³⁰½𝟙σΣλαβ∞<>=!#;:\"\\`~$%&?\t\n\r\x00\x7f\u200b\ufeff\ue000\ue001"
            "0123456789xyzAXWTabn")


@st.composite
def mutated(draw) -> str:
    """A grammar text with a few characters inserted, deleted, replaced or repeated."""
    text = draw(grammar(max_depth=4))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(("insert", "delete", "replace", "repeat", "swap")))
        char = draw(st.one_of(st.sampled_from(ALPHABET), st.characters()))
        if op == "insert":
            text = text[:i] + char + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "replace":
            text = text[:i] + char + text[i + 1:]
        elif op == "repeat":
            j = draw(st.integers(i, min(len(text), i + 8)))
            text = text[:i] + text[i:j] * draw(st.integers(2, 6)) + text[j:]
        else:
            j = draw(st.integers(0, len(text)))
            a, b = sorted((i, j))
            text = text[:a] + text[b:] + text[a:b]
    return text


soup = st.text(st.characters(), max_size=40)


# Findings of the long run whose cause lies outside the reader, the checker and the CLI, kept out
# of the bounded run (which must pass) and checked by test_known_open_findings until fixed.
def _mlp(layers: int) -> str:
    text = "x"
    for i in range(1, layers + 1):
        text = f"tanh(W{i} @ {text} + b{i})"
    return f"sum(({text} - y) ** 2)"


KNOWN_OPEN: dict = {   # text → (entry, cause, wrt, arrays for the emitted gradient or None)
}


@st.composite
def huge(draw, known: bool = False) -> str:
    """Numbers past every range: long digit runs, exponents, superscripts, sizes (with `known`,
    also the inputs of KNOWN_OPEN)."""
    digits = draw(st.sampled_from(("9", "1", "0", "²", "⁹", "¹⁰")))
    k = draw(st.sampled_from((19, 20, 309, 400, 4300, 4301, 5000)))
    run = digits * k
    return draw(st.sampled_from((
        f"{run} * x", f"x ** {run}", f"X{run}" if not run[0].isdigit() else f"X^{run}", f"eye({run})",
        f"zeros({run}, 2)", f"{run}/{run}", f"1e{run}", f"x ** 1e{run}", f"sum(x) / 1e-{k}",
        f"sum({run} * x)", f"10 ** {k} * sum(x)", "sum(2**1024 * x)", "sum(x ** 2 ** 2 ** 2 ** 2)",
        f"x{run}", f"X⊙{run}" if not run[0].isdigit() else f"X{run}") + (
            tuple(t for t, (entry, *_) in KNOWN_OPEN.items() if entry == "derive" and len(t) < 100)
            if known else ())))


@st.composite
def deep(draw, top: int = 400) -> str:
    """Nesting around matdiff.syntax.MAX_DEPTH (and far past it)."""
    k = draw(st.one_of(st.integers(1, top), st.sampled_from((255, 256, 257, 1000, 3000))))
    return draw(st.sampled_from((
        "exp(" * k + "x" + ")" * k, "-" * k + "x", "(" * k + "x" + ")" * k, "x" + "ᵀ" * k, "X" + "⁻¹" * k,
        "x" + " ** x" * k, "x" + " / x" * k, "log " * k + "x", "‖" * k + "x" + "‖" * k, "x" + " > x" * k,
        "(" * k + "x" + " + x)" * k, "tanh(W @ " * k + "x" + ")" * k, "sum(" * k + "x" + ")" * k,
        "X" + "'" * k, "A(" * k + "x" + ")" * k, "[" * k + "x" + "]" * k)))


@st.composite
def long_text(draw, top: int = 20_000) -> str:
    """Long flat input: sums, products, paper words, repeated pieces."""
    n = draw(st.integers(1, top))
    piece = draw(st.sampled_from(("x + ", "x * ", "A @ ", "A", "xᵀ", "x - ", "exp(x) + ", "W1 @ ", "1 + ",
                                  "(x) + ", "σ(x) ⊙ ", "ab", " ", "\n")))
    return piece * n + draw(st.sampled_from(("x", "", "x)", "A @ x")))


def any_text(deep_top=400, long_top=20_000):
    return st.one_of(grammar(), grammar(), grammar(), mutated(), mutated(), soup, huge(), deep(deep_top),
                     long_text(long_top))


# -- arguments --------------------------------------------------------------------------------------

DIMS = st.one_of(st.sampled_from(("n", "m", "k", "3", "1", "0", "-1", "n,m", "n×m", "n x m", "²", "٣", "", "()",
                                  "n,", ",", "n,m,k", "9" * 30, "9" * 5000, "a b", "n m")),
                 st.integers(-3, 10 ** 20), st.none(), st.booleans(), st.floats(allow_nan=True),
                 st.tuples(st.sampled_from(("n", "m", 3, 0, None, "x y", 2.5)),
                           st.sampled_from(("n", "m", 1, 4, -2, "k"))),
                 st.tuples(st.sampled_from(("n", 3, "m"))), st.just(()), st.just([]),
                 st.just(Shape("n", "n")), st.just([["n"]]), st.just({"n": 1}))
NAMES = st.sampled_from(("x", "y", "A", "W", "b", "alpha", "λ", "X", "n", "", " ", "x y", "np", "lambda", "I"))
PROPS = st.one_of(st.sampled_from(("spd", "symmetric", "diagonal", "positive", "pd", "sym", "diag", "pos",
                                   "spd, positive", "symetric", "", " ", "spd symmetric", "unitary")),
                  st.lists(st.sampled_from(("spd", "symmetric", "diagonal", "positive", "bogus")), max_size=3),
                  st.none(), st.integers(), st.just([1]), st.just({"spd"}), st.just(b"spd"))


VALID_DIMS = st.sampled_from(("n", "m", "3", "n,n", "n,m", "3,4", "", "k", (2, 2), ("n",), (), "n×n", ("n", "m")))
VALID_PROPS = st.sampled_from(("spd", "symmetric", "diagonal", "positive", "spd, positive", ["symmetric"]))


def rarely(strategy, percent: int = 20):
    """`strategy` in about `percent` % of the draws, else None."""
    return st.integers(0, 99).flatmap(lambda k: strategy if k < percent else st.none())


def shapes_arg():
    return st.one_of(st.none(), st.none(), st.dictionaries(NAMES, VALID_DIMS, max_size=4),
                     st.dictionaries(NAMES, DIMS, max_size=4),
                     st.dictionaries(st.one_of(NAMES, st.integers(), st.none()), DIMS, max_size=2),
                     st.just([("A", (2, 2))]), st.just("A=n,n"), st.just(3))


def assume_arg():
    return st.one_of(st.none(), st.none(), st.dictionaries(NAMES, VALID_PROPS, max_size=3),
                     st.dictionaries(NAMES, PROPS, max_size=3),
                     st.dictionaries(st.one_of(NAMES, st.integers()), PROPS, max_size=2),
                     st.just({"A": None}), st.just(["A"]), st.just("A=spd"))


def wrt_arg(text: str):
    words = sorted({w for w in ("x", "y", "A", "W", "b", "alpha", "λ", "X", "a", "h", "z1", "W1") if w in text})
    valid = st.sampled_from(words or ["x"])
    return st.one_of(valid, valid, valid, st.lists(valid, min_size=1, max_size=3, unique=True),
                     st.sampled_from((3, None, "", " , ", "x, x", ["x", 3], ("x",), Symbol("x", Shape("n", 1)),
                                      {"x": 1}, b"x", 2.5, "zz")))


# -- the entry points ---------------------------------------------------------------------------------

def probe_parse(text, shapes=None, assume=None):
    TALLY.run("parse", matdiff.parse, text, shapes, assume, text=text)


def probe_derive(text, wrt, shapes=None, assume=None, rng=None):
    d = TALLY.run("derive", matdiff.derive, text, wrt, shapes, assume, text=text)
    if d is None:
        return
    scalar = TALLY.run("derive", lambda: d.expr.shape.is_scalar, text=text)
    if not scalar:
        TALLY.run("derive", lambda: d.directional, text=text)
        return
    if TALLY.run("derive", lambda: d.gradient, text=text) is None:
        return
    fn = TALLY.run("derive", d.gradient_function, text=text)
    if fn is None:
        return
    rng = rng or np.random.default_rng(0)
    if any(int(np.prod([dim for dim in s.shape if isinstance(dim, int)], dtype=object)) > 10 ** 6
           for s in d.symbols.values()):
        return   # declared sizes too large to sample here
    arrays = _arrays(d, fn, rng)
    TALLY.run("emitted", lambda: _call_quietly(fn, arrays), text=f"{text} with {_describe(arrays)}")


def _arrays(d, fn, rng) -> dict:
    """Random arrays of the declared shapes (and the size keywords the function asks for)."""
    from matdiff.emit.numpy import py_name
    sizes: dict = {}

    def size(dim):
        if isinstance(dim, int):
            return dim
        total = 1
        for f in dim.split("·"):   # m·p has the sizes of m and p
            total *= int(f) if f.isdigit() else sizes.setdefault(f, int(rng.integers(1, 5)))
        return total
    arrays = {}
    for name, s in d.symbols.items():
        shape = tuple(size(dim) for dim in s.shape.numpy())
        a = rng.standard_normal(shape) * rng.choice([1.0, 1e-3, 1e3])
        if "positive" in s.props or "spd" in s.props:
            a = np.abs(a) + 0.5 if "positive" in s.props else a @ a.T + np.eye(shape[0]) if a.ndim == 2 else a
        if s.props & {"symmetric"} and a.ndim == 2:
            a = (a + a.T) / 2
        if "diagonal" in s.props and a.ndim == 2:
            a = np.diag(np.diag(a))
        arrays[py_name(name)] = float(a) if a.ndim == 0 else a
    for k in getattr(fn, "sizes", ()):
        arrays[k] = size(k)
    if arrays and rng.integers(0, 6) == 0:   # now and then an array of the wrong shape: a ShapeError
        name = list(arrays)[int(rng.integers(0, len(arrays)))]
        arrays[name] = np.zeros(np.shape(arrays[name]) + (2,)) if rng.integers(0, 2) else np.zeros((7, 5))
    return arrays


def _call_quietly(fn, arrays):
    with np.errstate(all="ignore"):
        return fn(**arrays)


def _describe(arrays: dict) -> str:
    return ", ".join(f"{k}: {np.shape(v)}" for k, v in arrays.items())


def probe_check_gradient(text, wrt, claim, shapes=None, assume=None):
    TALLY.run("check_gradient", check_gradient, text, wrt, claim, shapes, assume, text=f"{text} | {claim}")


def probe_check_program(program, loss="loss", shapes=None, assume=None):
    TALLY.run("check_program", check_program, program, loss, shapes, assume, text=program)


def probe_cli(argv, encoding="utf-8", stdin=""):
    from matdiff.cli import main
    out = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    err = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8", "surrogatepass")), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = TALLY.run("cli", main, argv, text=" ".join(map(repr, argv)))
    finally:
        sys.stdin = old_stdin
    if code is not None and code not in (0, 1, 2):
        TALLY.find("cli", f"exit status {code!r}", (argv,), {}, None)


# -- programs -------------------------------------------------------------------------------------

NET = (   # a forward and backward pass, each gradient line with variants (right, wrong, odd)
    ("z1 = W1 @ x + b1", "z1 = W1 @ x", "x = x / norm(x)", "z1 = W1 @ x + b1.T"),
    ("h1 = relu(z1)", "h1 = tanh(z1)", "h1 = sigmoid(z1)", "h1 = np.maximum(z1, 0)", "h1 = h1 * h1",
     "h1 = z1 * z1"),
    ("z2 = W2 @ h1 + b2", "z2 = h1.T @ W2", "z2 = W2 @ h1 + b2 + W2 @ h1", "h1 = relu(h1)"),
    ("loss = sum((z2 - y) ** 2)", "loss = -sum(y * log(softmax(z2)))", "loss = sum(z2)", "loss = norm(z2 - y) ** 2",
     "loss = logsumexp(z2) - y.T @ z2", "loss = dloss", "loss = z2", "J = sum(z2 ** 2)"),
    ("dz2 = 2 * (z2 - y)", "dz2 = z2 - y", "dz2 = softmax(z2) - y", "dz2 = 2 * (z2 - y).T", "dloss = 1",
     "dz2 = dz2"),
    ("dW2 = dz2 @ h1.T", "dW2 = h1 @ dz2.T", "dW2 = dz2 @ h1", "dW2 = outer(dz2, h1)", "dW2 += dz2 @ h1.T"),
    ("db2 = dz2", "db2 = -dz2", "db2 = sum(dz2)", "grad_b2 = dz2"),
    ("dh1 = W2.T @ dz2", "dh1 = W2 @ dz2", "dh1 = dz2 @ W2", "dh1 = (dz2.T @ W2).T"),
    ("dz1 = dh1 * (z1 > 0)", "dz1 = dh1 * (1 - h1 ** 2)", "dz1 = dh1 * h1 * (1 - h1)", "dz1 = (dh1 * (z1 > 0)).T",
     "dz1 = dh1", "dz1 = dh1 * relu'(z1)", "dz1 = dh1 * sigmoid'(z1)"),
    ("dW1 = dz1 @ x.T", "dW1 = x @ dz1.T", "dW1 = dz1 @ x", "dW1 = dW1 + dz1 @ x.T", "dW1 = dz1 @ x.T\ndW1 += 0"),
    ("db1 = dz1", "db1 = dz9", "dx = W1.T @ dz1", "W_new = W1 - 0.1 * dW1", "db1 = dz1 * 1e400"),
)
NOISE = ("", "# a comment", "import numpy as np", "from numpy import exp", "print(x)", "x", "= 3", "a b = 3",
         "x += 1", "z = (", "    ", "dW1 -= 1", "loss = ", "y == 3", "def f(x):", "z1 = z1 # again")


@st.composite
def program(draw) -> str:
    """A two-layer network's forward and backward pass, its lines drawn from variants, then
    perhaps dropped, swapped, repeated or mutated, with noise and random lines mixed in."""
    lines = [draw(st.sampled_from(variants)) if draw(st.integers(0, 4)) == 0 else variants[0]
             for variants in NET]
    for _ in range(draw(st.sampled_from((0, 0, 1, 2, 3)))):
        op = draw(st.sampled_from(("drop", "swap", "repeat", "noise", "random", "mutate")))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            break
        if op == "drop":
            del lines[i]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "noise":
            lines.insert(i, draw(st.sampled_from(NOISE)))
        elif op == "random":
            name = draw(st.sampled_from(("z", "h1", "dz1", "dW1", "loss", "dx", "d")))
            lines.insert(i, f"{name} = {draw(grammar(max_depth=3))}")
        else:
            k = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:k] + draw(st.sampled_from(ALPHABET)) + lines[i][k:]
    return draw(st.sampled_from(("\n", "\n", "\r\n", "\n\n"))).join(lines)


# -- the bounded, deterministic run -----------------------------------------------------------------

BOUNDED = settings(deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))


@settings(BOUNDED, max_examples=600)
@given(text=any_text(), shapes=rarely(shapes_arg()), assume=rarely(assume_arg()))
def test_fuzz_parse(text, shapes, assume):
    probe_parse(text, shapes, assume)


scalar_grammar = grammar(max_depth=4).map(lambda e: f"sum({e})")


@settings(BOUNDED, max_examples=200)
@given(data=st.data(), text=st.one_of(grammar(max_depth=4), scalar_grammar, scalar_grammar, mutated(), huge()))
def test_fuzz_derive(data, text):
    wrt = data.draw(wrt_arg(text))
    shapes = data.draw(rarely(shapes_arg()))
    assume = data.draw(rarely(assume_arg()))
    probe_derive(text, wrt, shapes, assume, np.random.default_rng(data.draw(st.integers(0, 99))))


@settings(BOUNDED, max_examples=100)
@given(data=st.data())
def test_fuzz_derive_typed(data):
    """Well-shaped expressions (the property tests' own generator) through derivation and the
    emitted code, on random arrays."""
    from test_properties import SHAPES as TYPED_SHAPES
    from test_properties import texts as typed_texts
    text = data.draw(typed_texts)
    if data.draw(st.booleans()):
        text = f"sum({text})"
    wrt = data.draw(wrt_arg(text))
    probe_derive(text, wrt, TYPED_SHAPES, None, np.random.default_rng(data.draw(st.integers(0, 99))))


CLAIMS = (   # (f, wrt, claims: right, transposed, scaled, wrong, ill-shaped, odd)
    ("sum(x ** 2)", "x", ("2 * x", "x", "2 * x.T", "-2 * x", "x ** 2", "0 * x", "x / (x - x)", "ones(k)",
                          "inv(x @ x.T) @ x", "2 * y")),
    ("x.T @ A @ x", "x", ("(A + A.T) @ x", "2 * A @ x", "x.T @ (A + A.T)", "A @ x", "A", "x.T @ A")),
    ("norm(W @ x - y) ** 2", "W", ("2 * (W @ x - y) @ x.T", "2 * x @ (W @ x - y).T", "(W @ x - y) @ x.T", "W")),
    ("logdet(X)", "X", ("inv(X).T", "inv(X)", "X", "inv(X - X)", "inv(X).T * 2")),
    ("sum(log(1 + exp(-y * (X @ w))))", "w", ("-X.T @ (y * sigmoid(-y * (X @ w)))", "X.T @ y", "w")),
    ("trace(A @ X @ B)", "X", ("A.T @ B.T", "B @ A", "(B @ A).T", "A @ B")),
    ("1e-7 * sum(x ** 2)", "x", ("2e-7 * x", "0 * x", "-2e-7 * x")),
)


@st.composite
def claim_case(draw):
    """(f, wrt, claim): a known function with a claim from its table (perhaps mutated), or
    grammar text for both."""
    if draw(st.integers(0, 3)) == 0:
        text = draw(grammar(max_depth=3))
        return text, draw(wrt_arg(text)), draw(grammar(max_depth=2))
    f, wrt, claims = draw(st.sampled_from(CLAIMS))
    claim = draw(st.sampled_from(claims))
    if draw(st.integers(0, 4)) == 0:
        k = draw(st.integers(0, len(claim)))
        claim = claim[:k] + draw(st.sampled_from(ALPHABET)) + claim[k:]
    return f, wrt, claim


@settings(BOUNDED, max_examples=20)
@given(case=claim_case(), shapes=rarely(shapes_arg(), 10), assume=rarely(assume_arg(), 10))
def test_fuzz_check_gradient(case, shapes, assume):
    probe_check_gradient(*case, shapes, assume)


@settings(BOUNDED, max_examples=40)
@given(text=program(), loss=st.sampled_from(("loss", "loss", "loss", "J", "", "3 x", None)),
       shapes=st.one_of(st.none(), st.none(), st.just({"W1": "n,m", "W2": "k,n"}), rarely(shapes_arg(), 10)),
       assume=rarely(assume_arg(), 10))
def test_fuzz_check_program(text, loss, shapes, assume):
    probe_check_program(text, loss, shapes, assume)


@settings(BOUNDED, max_examples=40)
@given(data=st.data(), text=st.one_of(grammar(max_depth=3), mutated(), soup, huge()),
       encoding=st.sampled_from(("utf-8", "ascii", "latin-1")))
def test_fuzz_cli(data, text, encoding):
    argv = data.draw(cli_args(text))
    probe_cli(argv, encoding, data.draw(st.one_of(st.just(""), program())))


@st.composite
def cli_args(draw, text):
    command = draw(st.sampled_from(("shapes", "derive", "derive", "check", "check-program", "bogus")))
    extra = draw(st.lists(st.sampled_from(("--shape", "A=n,n", "--shape", "x=", "--assume", "A=spd", "--assume",
                                           "x", "--verify", "--jacobian", "--hessian", "--kron", "--seed", "-1",
                                           "--layout", "denominator", "--wrt", "x,y")), max_size=3))
    if command == "shapes":
        return ["shapes", text] + extra
    if command == "derive":
        fmt = draw(st.sampled_from(("text", "unicode", "latex", "numpy", "json")))
        return ["derive", text, "wrt", draw(st.sampled_from(("x", "A", "x,A", "zz"))), "--format", fmt] + extra
    if command == "check":
        return ["check", text, "wrt", "x", "--claim", draw(st.sampled_from(("2 * x", "x", text)))]
    if command == "check-program":
        return ["check", "--program", "-"] + draw(st.sampled_from(([], ["--loss", "J"], ["--seed", "3"])))
    return [text] + extra


ARGUMENT_CASES = [
    (matdiff.parse, ("A @ x",), {"shapes": [("A", (2, 2))]}),
    (matdiff.parse, ("A @ x",), {"assume": {"A": None}}),
    (matdiff.derive, ("sum(x)", 3), {}),
    (matdiff.derive, ("alpha * sum(x)", "alpha"), {"assume": {"alpha": "diagonal"}}),
    (matdiff.derive, ("a * sum(x)", "a"), {"shapes": {"a": ()}, "assume": {"a": "spd"}}),
    (matdiff.derive, ("sum(x)", "x"), {"layout": np.zeros(2)}),
    (matdiff.parse, ("kron W",), {}),
    (matdiff.parse, ("X" + "²" * 5000,), {}),
    (matdiff.parse, ("1" + "0" * 5000 + " * x",), {}),
    (check_program, ("loss = sum(x ** 2)\ndloss = dloss\n",), {}),
    (check_program, (None,), {}),
    (check_program, ("loss = sum(x)\ndx = ones(n)",), {"shapes": [("x", 3)]}),
    (check_program, ("loss = sum(x)\ndx = ones(n)",), {"seed": "a"}),
    (check_gradient, ("sum(x)", 3, "x"), {}),
    (check_gradient, ("sum(x)", "x", "x"), {"seed": None}),
]


@pytest.mark.parametrize("fn, args, kwargs", ARGUMENT_CASES, ids=[f"{c[0].__name__}{c[1]!r:.30}{c[2]!r:.30}"
                                                                  for c in ARGUMENT_CASES])
def test_bad_arguments_are_matdiff_errors(fn, args, kwargs):
    """The cases of issue 15: each a MatdiffError (with its span inside its text), quickly."""
    start = time.perf_counter()
    with pytest.raises(MatdiffError) as e:
        fn(*args, **kwargs)
    assert _bad_error(e.value) is None, _bad_error(e.value)
    assert time.perf_counter() - start < LIMIT_S


@pytest.mark.parametrize("text", list(KNOWN_OPEN), ids=[t[:40] for t in KNOWN_OPEN])
def test_known_open_findings(text):
    """Each finding of KNOWN_OPEN, expected to fail until the file it names is fixed (then this
    test passes, and the input should leave KNOWN_OPEN for the bounded run)."""
    entry, cause, wrt, arrays = KNOWN_OPEN[text]
    tally = Tally()
    tally.strict = False
    shapes = {"x": "n", "y": "n", **{f"W{i}": "n,n" for i in range(1, 65)}} if text.startswith("sum((tanh") else None
    d = tally.run("derive", matdiff.derive, text, wrt, shapes, text=text)
    if d is not None:
        tally.run("derive", lambda: d.gradient, text=text)
        if arrays is not None and not tally.findings:
            fn = tally.run("derive", d.gradient_function, text=text)
            if fn is not None:
                tally.run("emitted", lambda: _call_quietly(fn, arrays), text=text)
    if tally.findings:
        pytest.xfail(f"{cause}: {tally.findings[0].splitlines()[0]}")


# -- the long run ----------------------------------------------------------------------------------

LONG_EXAMPLES = int(os.environ.get("MATDIFF_FUZZ_EXAMPLES", "3000"))
LONG = settings(deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture
def long_tally(capsys):
    """A fresh tally that collects findings instead of stopping at the first, and prints the
    counts when the test ends; the test fails if anything was found."""
    global TALLY
    saved, TALLY = TALLY, Tally()
    TALLY.strict = False
    try:
        yield TALLY
    finally:
        tally, TALLY = TALLY, saved
        with capsys.disabled():
            print("\n" + tally.summary())
    assert not tally.findings, f"{len(tally.findings)} findings (see above)"


@pytest.mark.fuzz
def test_fuzz_long_parse(long_tally):
    @settings(LONG, max_examples=LONG_EXAMPLES)
    @given(text=any_text(deep_top=3000, long_top=30_000), shapes=rarely(shapes_arg()),
           assume=rarely(assume_arg()))
    def run(text, shapes, assume):
        probe_parse(text, shapes, assume)
    run()


@pytest.mark.fuzz
def test_fuzz_long_derive(long_tally):
    from test_properties import SHAPES as TYPED_SHAPES
    from test_properties import texts as typed_texts

    typed = typed_texts.map(lambda e: f"sum({e})")

    @settings(LONG, max_examples=LONG_EXAMPLES)
    @given(data=st.data(), text=st.one_of(grammar(), grammar(max_depth=6), scalar_grammar, mutated(), huge(True),
                                          typed_texts, typed, typed, typed))
    def run(data, text):
        wrt = data.draw(wrt_arg(text))
        shapes = data.draw(st.one_of(st.just(TYPED_SHAPES), st.just(TYPED_SHAPES), st.none(), rarely(shapes_arg())))
        assume = data.draw(rarely(assume_arg()))
        probe_derive(text, wrt, shapes, assume, np.random.default_rng(data.draw(st.integers(0, 10 ** 6))))
    run()


@pytest.mark.fuzz
def test_fuzz_long_checks(long_tally):
    @settings(LONG, max_examples=max(1, LONG_EXAMPLES // 5))
    @given(data=st.data())
    def run(data):
        probe_check_gradient(*data.draw(claim_case()), data.draw(rarely(shapes_arg(), 10)),
                             data.draw(rarely(assume_arg(), 10)))
        probe_check_program(data.draw(program()), data.draw(st.sampled_from(("loss", "loss", "J"))),
                            data.draw(st.one_of(st.none(), st.just({"W1": "n,m", "W2": "k,n"}),
                                                rarely(shapes_arg(), 10))))
    run()


@pytest.mark.fuzz
def test_fuzz_long_cli(long_tally):
    @settings(LONG, max_examples=max(1, LONG_EXAMPLES // 5))
    @given(data=st.data(), text=st.one_of(grammar(max_depth=4), mutated(), soup, huge(True), deep()),
           encoding=st.sampled_from(("utf-8", "ascii", "latin-1")))
    def run(data, text, encoding):
        probe_cli(data.draw(cli_args(text)), encoding, data.draw(st.one_of(st.just(""), program())))
    run()


def test_a_64_layer_network_derives():
    """Structural equality is iterative: a 64-layer MLP (196 levels deep) no longer exhausts the
    recursion limit while its gradient is simplified (it did, at expr.py __eq__)."""
    shapes = {"x": "n", "y": "n", **{f"W{i}": "n,n" for i in range(1, 65)}}
    d = matdiff.derive(_mlp(64), "W1, W32, W64", shapes)
    assert set(d.gradients) == {"W1", "W32", "W64"}
