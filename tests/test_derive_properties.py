"""Property tests: random well-shaped expressions over the whole op set derive to results that pass finite differences."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import matdiff
from matdiff import DomainError
from matdiff.verify import verify_directional

N, M = "n", "m"
SHAPES = {"x": (N,), "y": (N,), "A": (N, N), "B": (N, N), "W": (M, N), "C": (N, M), "α": ()}
# (rows, cols) → texts of that shape that are leaves (a symbol, possibly transposed)
LEAVES = {(N, 1): ["x", "y"], (N, N): ["A", "B", "A.T", "B.T"], (M, N): ["W", "C.T"],
          (N, M): ["C", "W.T"], (1, 1): ["α"], (M, 1): [], (M, M): []}
SQUARE = [N, M]
INNER = [N, M, 1]
BOUNDED = ["sin", "cos", "tanh", "sigmoid"]
SMOOTH = BOUNDED + ["softplus"]
KINKED = ["relu", "abs"]
REDUCE = ["sum", "norm", "logsumexp"]
MAX_DEPTH = 4


def _p(text: str) -> str:
    return f"({text})"


@st.composite
def _leaf(draw, shape):
    rows, cols = shape
    if shape == (1, 1):
        return draw(st.sampled_from(["α", "α", "0.5", "2", "3"]))
    if rows == 1:                                   # a row vector: a transposed column
        return _p(draw(_leaf((cols, 1)))) + ".T"
    options = LEAVES.get(shape, [])
    if options:
        return draw(st.sampled_from(options))
    # m×1 and m×m have no symbol: the shortest products that have that shape
    return "(W @ x)" if shape == (M, 1) else "(W @ C)"


@st.composite
def exp_of(draw, shape, depth):
    """exp of a leaf or of a bounded function: exp∘exp∘… would outgrow what differences can check."""
    if draw(st.booleans()):
        return f"exp({draw(_leaf(shape))})"
    return f"exp({draw(st.sampled_from(BOUNDED))}({draw(expr(shape, depth + 1))}))"


@st.composite
def positive(draw, shape, depth):
    """A text whose value is positive (and not tiny) everywhere: for log, sqrt, /, negative powers."""
    form = draw(st.sampled_from(["1 + {exp}", "{e} ** 2 + 1", "sigmoid({e}) + 0.5",
                                 "softplus({e}) + 1", "{exp}"]))
    if "{exp}" in form:
        return _p(form.format(exp=draw(exp_of(shape, depth))))
    return _p(form.format(e=draw(expr(shape, depth + 1))))


@st.composite
def spd(draw, depth):
    """An n×n SPD matrix M Mᵀ + I (for inv, det, logdet), or a bare symbol the sampler makes SPD."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["A", "B"]))
    k = draw(st.sampled_from(INNER))
    m = draw(expr((N, k), depth + 1))
    return _p(f"{_p(m)} @ {_p(m)}.T + eye(n)")


@st.composite
def scalar(draw, depth):
    """A scalar made from a non-scalar expression by a reduction."""
    kind = draw(st.sampled_from(["reduce", "trace", "quad", "det", "logdet", "inner"]))
    if kind == "reduce":
        shape = draw(st.sampled_from([(N, 1), (N, N), (M, N), (M, 1)]))
        fn = draw(st.sampled_from(REDUCE))
        arg = draw(expr(shape, depth + 1))
        return f"{fn}({arg})" + (" ** 2" if fn == "norm" and draw(st.booleans()) else "")
    if kind == "trace":
        d = draw(st.sampled_from(SQUARE))
        return f"trace({draw(expr((d, d), depth + 1))})"
    if kind == "quad":
        u, v = draw(expr((N, 1), depth + 1)), draw(expr((N, 1), depth + 1))
        mid = draw(st.one_of(expr((N, N), depth + 1), spd(depth).map(lambda s: f"inv({s})")))
        return f"{_p(u)}.T @ {_p(mid)} @ {_p(v)}"
    if kind in ("det", "logdet"):
        return f"{kind}({draw(spd(depth))})"
    u, v = draw(expr((N, 1), depth + 1)), draw(expr((N, 1), depth + 1))
    return f"{_p(u)}.T @ {_p(v)}"


@st.composite
def expr(draw, shape, depth=0):
    """A text of the given (rows, cols) shape; every log/sqrt/divisor/inverse is of something in its domain."""
    rows, cols = shape
    if rows == 1 and cols != 1:
        return _p(draw(expr((cols, 1), depth))) + ".T"
    if depth >= MAX_DEPTH or draw(st.integers(0, 4)) == 0:
        return draw(_leaf(shape))
    sub = lambda s: expr(s, depth + 1)  # noqa: E731
    kinds = ["add", "sub", "mul", "scale", "div", "unary", "exp", "kinked", "log", "sqrt", "power",
             "matmul", "transpose", "softmax"]
    if rows == cols and rows != 1:
        kinds += ["diag_of_vector"] + (["inv"] if rows == N else [])
    if cols == 1 and rows == N:
        kinds += ["diagonal"]
    if shape == (1, 1):
        kinds += ["reduction"] * 4
    kind = draw(st.sampled_from(kinds))
    if kind in ("add", "sub", "mul"):
        op = {"add": "+", "sub": "-", "mul": "*"}[kind]
        return _p(f"{draw(sub(shape))} {op} {draw(sub(shape))}")
    if kind == "scale":
        return _p(f"{draw(sub((1, 1)))} * {draw(sub(shape))}")
    if kind == "div":
        den = draw(positive(draw(st.sampled_from([shape, (1, 1)])), depth))
        return _p(f"{draw(sub(shape))} / {den}")
    if kind == "unary":
        return f"{draw(st.sampled_from(SMOOTH))}({draw(sub(shape))})"
    if kind == "exp":
        return draw(exp_of(shape, depth))
    if kind == "kinked":
        return f"{draw(st.sampled_from(KINKED))}({draw(sub(shape))})"
    if kind == "log":
        return f"log({draw(positive(shape, depth))})"
    if kind == "sqrt":
        return f"sqrt({draw(positive(shape, depth))})"
    if kind == "power":
        if draw(st.booleans()):
            return _p(f"{draw(sub(shape))} ** {draw(st.sampled_from(['2', '3']))}")
        return _p(f"{draw(positive(shape, depth))} ** (-{draw(st.sampled_from(['1', '2']))})")
    if kind == "matmul":
        k = draw(st.sampled_from(INNER))
        return _p(f"{draw(sub((rows, k)))} @ {draw(sub((k, cols)))}")
    if kind == "transpose":
        if rows == cols:
            return _p(draw(sub(shape))) + ".T"
        return _p(draw(sub((cols, rows)))) + ".T"
    if kind == "softmax":
        return f"softmax({draw(sub(shape))})"
    if kind == "diag_of_vector":
        return f"diag({draw(sub((rows, 1)))})"
    if kind == "diagonal":
        return f"diag({draw(sub((N, N)))})"
    if kind == "inv":
        return f"inv({draw(spd(depth))})"
    return draw(scalar(depth))


def _with_symbol(text: str) -> str:
    """Make sure the text has a free symbol to differentiate (a generated text may be all constants)."""
    return text if matdiff.read(text, SHAPES).symbols else f"{text} + α"


def _check(report, d, text, what: str):
    assert report.ok, (f"{what} failed finite differences\n  expr: {text}\n  wrt: {d.wrt}\n"
                       f"  read as: {d.expr}\n  DF: {d.directional}\n  result: {d.gradient if d.expr.shape.is_scalar else '-'}\n"
                       f"  {report}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_gradient_of_random_scalar_expression_verifies(data, seed):
    text = _with_symbol(data.draw(scalar(0), label="expr"))
    free = sorted(matdiff.read(text, SHAPES).symbols)
    wrt = data.draw(st.sampled_from(free), label="wrt")
    note(f"derive({text!r}, {wrt!r}, shapes=SHAPES).verify(seed={seed})")
    d = matdiff.derive(text, wrt, shapes=SHAPES)
    g = d.gradient
    assert g.shape == d.variables[wrt].shape, f"∇ of {text} wrt {wrt} is {g.shape}: {g}"
    try:
        report = d.verify(seed=seed)
    except DomainError:
        assume(False)   # no finite sample point could be found (legitimate for some generated texts)
    _check(report, d, text, "gradient")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16),
       shape=st.sampled_from([(N, 1), (N, N), (M, N), (M, 1), (N, M)]))
def test_directional_derivative_of_random_expression_verifies(data, shape, seed):
    text = _with_symbol(data.draw(expr(shape, 1), label="expr"))
    free = sorted(matdiff.read(text, SHAPES).symbols)
    wrt = data.draw(st.lists(st.sampled_from(free), min_size=1, max_size=2, unique=True), label="wrt")
    note(f"verify_directional(derive({text!r}, {wrt!r}, shapes=SHAPES), seed={seed})")
    d = matdiff.derive(text, wrt, shapes=SHAPES)
    assert d.directional.shape == d.expr.shape, f"DF of {text}: {d.directional}"
    try:
        report = verify_directional(d, seed=seed)
    except DomainError:
        assume(False)
    _check(report, d, text, "DF|X[V]")


# -- minimal cases the properties found, kept as plain tests ---------------------------------------

@pytest.mark.parametrize("text, wrt, seed", [
    ("(2 * (x - x)).T @ y", "y", 0),            # DF simplifies to the constant 0
    ("(α * (x - x)).T @ A @ x", "A", 0),
    ("norm(diag(x))", "x", 0),                  # norm needs a nonzero matrix, not nonzero entries
    ("norm(diag(x)) ** 2", "x", 0),
    ("x.T @ inv(A) @ sin(x * y)", "A", 3182),   # a direction where ⟨G, V⟩ nearly cancels
    ("x.T @ (A - A.T) @ x", "x", 0),            # f ≡ 0 but computed with rounding: ∇f = 0 is right
    ("sum((A - A.T) * A * A.T)", "A", 0),       # f ≡ 0 again; G simplifies to terms that cancel
])
def test_found_gradient_examples(text, wrt, seed):
    d = matdiff.derive(text, wrt, shapes=SHAPES)
    assert d.gradient.shape == d.variables[wrt].shape
    _check(d.verify(seed=seed), d, text, "gradient")


@pytest.mark.parametrize("text, wrt", [
    ("C - (C - W.T)", "C"),                     # DF = 0 exactly; differences are rounding noise
    ("(W - C.T) + (C.T + W)", "C"),
])
def test_found_directional_examples(text, wrt):
    d = matdiff.derive(text, wrt, shapes=SHAPES)
    _check(verify_directional(d, seed=0), d, text, "DF|X[V]")
