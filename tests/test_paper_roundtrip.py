"""The paper form reads back: parse(e.to_unicode()) is e, with the symbols' shapes declared.
Where the notation cannot carry a detail (A⁻ᵀ for inv(Aᵀ), the order of scalar factors, the size
of a lone I) the reading must agree with e up to those details only (`paper_normal`)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from matdiff import MatdiffError, parse
from matdiff.expr import OPS, Call, Const, Symbol, call, transform
from matdiff.shapes import SCALAR

from test_properties import ELEMENTWISE, N, M, Vocabulary
from test_properties import expression as _expression

# the shapes of test_properties, plus names the paper form must keep whole (W_1, lam, delta, α, Σ),
# letters that spell words (t r = tr, t a u = tau), e beside numbers (2 e, 1e-08 e), a symmetric S
SHAPES = {"A": (N, N), "B": (N, N), "S": (N, N), "Σ": (N, N), "C": (N, M), "W_1": (N, M), "D": (M, N),
          "x": (N,), "y": (N,), "e": (N,), "delta": (N,), "z": (M,),
          "a": (), "b": (), "t": (), "r": (), "u": (), "lam": (), "α": ()}
ASSUME = {"S": "symmetric"}
LEAVES = {(N, N): ["A", "B", "S", "Σ"], (N, M): ["C", "W_1"], (M, N): ["D"],
          (N, 1): ["x", "y", "e", "delta"], (M, 1): ["z"],
          (1, 1): ["a", "b", "t", "r", "u", "lam", "α"], (M, M): [], (1, N): [], (1, M): []}
TARGETS = list(LEAVES)


# the vocabulary of test_properties, widened: scalars on either side, outer products, Kronecker
# products, fractional and symbolic exponents of scalars, and functions of scalars (log det A · a)
PAPER = Vocabulary(LEAVES, ("0.5", "2.5", "1e-3", "1e-8", "2.5e-10", "1.5e+20", "0.001"),
                   tuple(ELEMENTWISE + ["softplus", "sin", "cos"]),
                   extra_kinds=("scaled", "matmul", "kron"), extra_scalar_kinds=("square",),
                   scalar_exponents=("0.5", "a"), scalar_first=True, unit_inner=True)


def expression(shape=(N, 1)):
    return _expression(PAPER, shape)


texts = st.sampled_from(TARGETS).flatmap(lambda s: expression(s))


# -- what the paper form cannot say ------------------------------------------------------------------

def _is(e, name: str) -> bool:
    return isinstance(e, Call) and e.op.name == name


def paper_normal(e):
    """e up to what the paper form leaves open, each an identity of values: scalar factors of ⊙
    first and in a fixed order (αx = x ⊙ α), inv(Xᵀ) = inv(X)ᵀ (both print X⁻ᵀ), Xᵀᵀ = X,
    (𝟙ₙ)ᵀ = 𝟙ᵀ of 1×n, and −(a / b) = (−a) / b."""
    memo: dict = {}
    for n in e.walk():
        if not isinstance(n, Call):   # an integer of 20 digits or more reads back as a float
            memo[id(n)] = Const(float(n.value)) if isinstance(n, Const) and abs(n.value) >= 2**53 else n
            continue
        args = tuple(memo[id(a)] for a in n.args)
        if _is(n, "mul"):
            args = tuple(sorted(args, key=lambda a: (not a.shape.is_scalar, not isinstance(a, Const),
                                                     _sizeless(a) if a.shape.is_scalar else "")))
        if _is(n, "mul") and args[0] == Const(-1) and len(args) == 2 and _is(args[1], "div"):
            out = call("neg", args[1])   # −(a / b) is read as (−a) / b
        elif _is(n, "transpose") and _is(args[0], "transpose"):
            out = args[0].args[0]
        elif _is(n, "transpose") and _is(args[0], "ones"):   # 𝟙ᵀ: a row, or a column transposed
            out = call("ones", params=(n.shape.rows, n.shape.cols))
        elif _is(n, "inv") and _is(args[0], "transpose"):
            x = args[0].args[0]
            out = Call(OPS["transpose"], (Call(OPS["inv"], (x,), shape=x.shape),), shape=n.shape)
        else:
            out = Call(n.op, args, n.params, shape=n.shape)
        memo[id(n)] = out
    return memo[id(e)]


def _sizeless(e) -> str:
    """The text of e with the sizes of I and 𝟙𝟙ᵀ left out: a lone I (I + I, tr(I)) or 𝟙𝟙ᵀ has no
    size on paper (and 𝟙𝟙ᵀ reads back as the product it shows)."""
    text = re.sub(r"ones\(\w+, 1\) @ ones\((\w+, 1\)\.T|1, \w+\))", "ones(·)", str(e))
    text = re.sub(r"(eye|ones)\(\w+(, \w+)?\)", r"\1(·)", text)
    return text.replace("(ones(·))", "ones(·)")


def unreadable(e) -> bool:
    """What the reader refuses by design: a division by a written 0."""
    for n in e.walk():
        if _is(n, "div") and n.args[1] == Const(0):
            return True
    return False


def _sizes_as_symbols(e):
    """A dim used as a number prints as its name (n) and reads back as a scalar of that name."""
    return transform(e, lambda n: None,
                     lambda n: Symbol(str(n.params[0]), SCALAR) if _is(n, "size") else n)


def reads_back(e) -> None:
    e = _sizes_as_symbols(e)
    printed = e.to_unicode()
    declared = {name: s.shape for name, s in e.symbols().items()}
    again = parse(printed, declared, {n: p for n, p in ASSUME.items() if n in declared})
    if again == e:
        return
    assert _sizeless(paper_normal(again)) == _sizeless(paper_normal(e)), \
        f"{str(e)!r} → {printed!r} → {str(again)!r}"


def _parse_or_skip(text):
    """The expression of a generated text; badly shaped texts (and x / 0) are skipped."""
    try:
        return parse(text, SHAPES, ASSUME)
    except MatdiffError:
        assume(False)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(texts)
@example("logdet(A) * a")
@example("1e-8 * a")
@example("x.T @ y * z")
@example("z * (x.T @ y)")
@example("(y.T @ y) * C.T")
@example("t * r * x")
@example("a * b * t * r * x")
@example("norm(a * x * norm(y))")
@example("A @ x.T.T")
@example("B @ B.T ** -1")
@example("a * sigmoid(y.T) @ D")
@example("eye(n) @ (A + B).T")
@example("inv(inv(B).T).T")
def test_paper_form_reads_back(text):
    e = _parse_or_skip(text)
    assume(not unreadable(e))
    reads_back(e)


def _has_constant_matrix(e) -> bool:
    """zeros(m, n) prints 0 and reads back as a scalar; 𝟙 and 𝟙𝟙ᵀ have no size on paper."""
    return any(_is(n, "zeros") or _is(n, "ones") for n in e.walk())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(expression((1, 1)), st.data())
def test_derived_results_read_back(text, data):
    """What derive prints in paper form (DF|X[V], the gradient) reads back too."""
    from matdiff import derive
    e = _parse_or_skip(text)
    assume(e.symbols())
    wrt = data.draw(st.sampled_from(sorted(e.symbols())))
    try:
        d = derive(text, wrt=wrt, shapes=SHAPES, assume=ASSUME)
    except MatdiffError:
        assume(False)
    for kind in ("directional", "gradient"):
        try:
            result = getattr(d, kind)
        except MatdiffError:   # a gradient of a non-scalar: only the directional derivative
            continue
        if result is None or unreadable(result) or _has_constant_matrix(result):
            continue
        # simplify.collect_factors splits (−a)^0.5 into (−1)^0.5 a^0.5, a complex number: not
        # printable at all, in any style (a simplifier bug, out of this test's reach)
        assume(all(isinstance(n.value, (int, float)) for n in result.walk() if isinstance(n, Const)))
        reads_back(result)


# -- the reviewer's cases, and textbook forms -------------------------------------------------------------

@pytest.mark.parametrize("text, paper", [
    ("a * logdet(A)", "a log det A"),
    ("logdet(A) ** 2", "(log det A)²"),
    ("kron(A, B)", "A ⊗ B"),
    ("kron(C.T, A)", "Cᵀ ⊗ A"),
    ("x ** 2", "x⊙²"),
    ("a ** 2", "a²"),
    ("x.T @ y * z", "xᵀy z"),
    ("x.T @ A @ x", "xᵀAx"),
    ("W_1 @ z + x", "W_1 z + x"),
    ("lam * x", "lam x"),
])
def test_textbook_forms(text, paper):
    e = parse(text, SHAPES)
    assert e.to_unicode() == paper
    reads_back(e)


@pytest.mark.parametrize("text", [
    "logdet(A) * a", "logdet(A) * C", "a / logdet(A)", "logdet(A) / a", "logdet((A @ B).T)",
    "logdet(A) * logdet(B)", "logdet(A) * (x * y)",
    "1e-8 * a", "1e-8 * e", "2 * e", "exp(x) * 2.5e-10", "a / -2",
    "kron(A, B) + kron(B, A)", "kron(A, B @ S)", "kron(kron(A, B), S)", "kron(A, kron(B, S))",
    "a * kron(A, B)", "kron(A, B).T", "kron(A, B) ** 2", "kron(x, y.T) @ A", "kron(a, A) / b",
    "(x ** 2).T", "(A @ x) ** 2", "x.T ** 2 @ y", "x ** 2 * y",
    "x.T @ y * z", "z * (x.T @ y)", "(y.T @ y) * C.T", "(x.T @ x) * (z + z)",
    "t * r * x", "t * a * u", "a * b * t * r", "a * sigmoid(x)", "a * b * (x + y)",
    "eye(n) @ (A + B)", "A @ (B + C @ C.T).T", "A @ x.T.T", "norm(a * x * norm(y))", "norm(C) * a",
])
def test_regressions_read_back(text):
    reads_back(parse(text, SHAPES, ASSUME))


def test_number_keeps_its_exponent():
    printed = parse("1e-8 * a", SHAPES).to_unicode()
    assert "e-08" in printed and "e−" not in printed   # NUMBER's exponent takes an ASCII '-'
    assert parse("-1e-8 * a", SHAPES).to_unicode().startswith("−")   # the sign is still a minus sign


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_constant_is_no_name(value):
    for printed in (str(Const(value)), Const(value).to_unicode()):
        with pytest.raises(MatdiffError):
            parse(printed)


def test_overflowing_product_reads_back_to_its_value():
    e = parse("1e308 * 10")
    printed = e.to_unicode()
    assert "inf" not in printed
    again = parse(printed)   # 1e+308 10: a product of numbers, which reading may fold to ∞
    assert again == e or isinstance(again, Const) and again.value == math.inf


# -- the identity under postfixes, elementwise powers with any exponent --------------------------------

@pytest.mark.parametrize("text", ["eye(n).T @ x", "inv(eye(n)) @ x", "eye(n) ** 2 @ x"])
def test_identity_with_postfix(text):
    reads_back(parse(text, SHAPES))


@pytest.mark.parametrize("text", ["x ** 0.5", "A ** a"])
def test_elementwise_power_with_any_exponent(text):
    reads_back(parse(text, SHAPES))
