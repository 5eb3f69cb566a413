"""Differential tests: random expressions, written both in NumPy and in paper notation, go
through derive and the emitted NumPy code, and every number that comes out is compared with the
expression as read, evaluated by the plain evaluator (matdiff.evaluate), and with finite
differences of it (tests/differential.py): the value, the gradient entry by entry, the Jacobian
(numerator layout, or the column-major Kronecker form where a matrix is involved) and the
Hessian. Nothing is compared with the simplified form or the emitted code under test.

The expressions come from tests/terms.py, whose terms know their shape, their two spellings and
their own NumPy value (a third reading, to catch misreadings), and keep log, sqrt, fractional
powers and divisors on positive terms and inv, det and logdet on SPD ones. Texts from
test_properties' generator (NumPy spelling, no domains) are run through the same checks, with
points sampled until the expression is inside its domain.

A MatdiffError from derive or from building a Jacobian or Hessian is a refusal, counted by kind;
any other exception and any wrong number is a failure, and so is a verify() that reports ok for a
gradient the differences find wrong. `pytest -m slow tests/test_differential.py` runs several
thousand expressions and prints the figures."""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import matdiff
from matdiff import MatdiffError
from matdiff.verify import Report

from differential import FAILING, Figures, Outcome, run_case
from terms import ASSUME, SHAPES, SIZES, Case, cases
from test_properties import SHAPES as PROPERTY_SHAPES
from test_properties import texts as property_texts


def run(case: Case, seed: int = 0, verify: bool = True) -> Outcome:
    """A generated case; a text that does not read is a failure of its own (it is well formed)."""
    try:
        matdiff.parse(case.text, SHAPES, ASSUME)
    except MatdiffError as err:
        out = Outcome(case.text, case.wrt)
        out.fail("unread", f"{type(err).__name__}: {str(err).splitlines()[0]} (NumPy text: {case.term.np!r})")
        return out
    return run_case(case.text, case.wrt, SHAPES, ASSUME, SIZES, seed, own=case.term.value, verify=verify)


def _assert_ok(out: Outcome) -> None:
    bad = [(k, d) for k, d in out.failures if k in FAILING]
    assert not bad, str(out)


# == the bounded run ===============================================================================

QUICK = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                       HealthCheck.data_too_large])


@settings(QUICK, max_examples=600)
@given(cases(), st.integers(0, 2**16))
def test_generated_expressions(case, seed):
    """Random terms, in either notation: value, gradient, Jacobian, Hessian, verify()."""
    _assert_ok(run(case, seed))


@pytest.mark.parametrize("text, wrt", [
    ("x.T @ A @ x", "x"), ("xᵀAx", "x"), ("‖W x − z‖²", "W"), ("norm(W @ x - z) ** 2", "x"),
    ("tr(A X Xᵀ)", "X"), ("log det(S)", "S"), ("logdet(R) + z.T @ inv(R) @ z", "R"),
    ("sum(W @ x + q)", "W"), ("sum(x + ones(n))", "x"), ("trace(A + c)", "c"), ("x + a", "a"),
    ("sum(x - 1)", "x"), ("sum(1 - y * log(p))", "p"), ("sum(a / p)", "a"), ("sum(a / p)", "p"),
    ("(x.T @ y) * A", "x"), ("sum((x.T @ y) * A)", "y"), ("sum(x ** 0 + x)", "x"), ("sum(p ** 0.5)", "p"),
    ("logsumexp(W @ x)", "x"), ("softmax(W @ x)", "x"), ("sum(diag(x) @ A)", "x"), ("det(S) * a", "S"),
    ("sum(sigmoid(W @ x) + softplus(z) + tanh(q))", "x"), ("1 / c + sqrt(c)", "c"),
    ("sum(relu(x) + abs(y))", "x"), ("σ(W x + z)", "x"), ("xᵀ(A + Aᵀ)y", "y"), ("x @ z.T", "z"),
    ("xᵀBx", "B"), ("tr(A D)", "D"), ("sum(D @ x) + x.T @ D @ y", "D"), ("e^(x)ᵀ y", "x"),
])
def test_textbook_expressions(text, wrt):
    """The forms the generator is built to reach, each once; a Jacobian may be refused."""
    out = run_case(text, wrt, SHAPES, ASSUME, SIZES)
    assert out.skipped is None, out.skipped
    assert out.refused is None or out.refused.startswith(("jacobian", "kron")), out.refused
    _assert_ok(out)
    assert "value" in out.checked
    assert "gradient" in out.checked or not matdiff.parse(text, SHAPES, ASSUME).shape.is_scalar


# -- test_properties' texts: NumPy spelling, no domains ---------------------------------------------

PROPERTY_SIZES = {"n": 3, "m": 4}


@st.composite
def property_cases(draw):
    text = draw(property_texts)
    try:
        expr = matdiff.parse(text, PROPERTY_SHAPES)
    except MatdiffError:
        assume(False)
    names = sorted(expr.symbols())
    assume(names)
    return text, draw(st.sampled_from(names))


def run_property(text: str, wrt: str, seed: int = 0, verify: bool = True) -> Outcome:
    return run_case(text, wrt, PROPERTY_SHAPES, {}, PROPERTY_SIZES, seed, verify=verify)


@settings(QUICK, max_examples=200)
@given(property_cases(), st.integers(0, 2**16))
def test_property_expressions(case, seed):
    """test_properties' texts, at points sampled into their domains."""
    _assert_ok(run_property(*case, seed=seed))


# -- the checks themselves catch wrong answers ----------------------------------------------------------

def _tampered(monkeypatch, change: Callable) -> None:
    """derive, with `change(d)` applied to each Derivation it returns (a hand-made wrong result)."""
    derive = matdiff.derive

    def wrong(*args, **kwargs):
        d = derive(*args, **kwargs)
        change(d)
        return d
    monkeypatch.setattr(matdiff, "derive", wrong)


def _wrong_verify(d) -> None:
    d.__dict__["gradients"] = {"x": d.gradients["x"] * 1.001}
    d.verify = lambda seed=0: Report(True, 0.0, 1e-5, {}, seed, 1)


@pytest.mark.parametrize("text, wrt, change, kind", [
    ("x.T @ A @ x", "x", lambda d: d.__dict__.update(value_expr=d.value_expr * 1.001), "value"),
    ("x.T @ A @ x", "x", lambda d: d.__dict__.update(gradients={"x": matdiff.parse("2 * A @ x", SHAPES)}),
     "gradient"),   # as if A were symmetric
    ("logdet(S)", "S", lambda d: d.__dict__.update(gradients={"S": matdiff.parse("2 * inv(S)", SHAPES, ASSUME)}),
     "gradient"),
    ("logdet(S)", "S", lambda d: d.__dict__.update(gradients={"S": matdiff.parse(   # right on symmetric V only
        "inv(S) + S @ diag(diag(S)) - diag(diag(S)) @ S", SHAPES, ASSUME)}), "gradient"),
    ("W @ x", "x", lambda d: d.__dict__.update(jacobians={"x": matdiff.parse("W.T", SHAPES).T * 1.001}), "jacobian"),
    ("W @ x", "W", lambda d: d.__dict__.update(jacobians={"W": matdiff.parse("kron(eye(m), x.T)", SHAPES)}), "kron"),
    ("x.T @ A @ x", "x", lambda d: d.__dict__.update(hessians={("x", "x"): matdiff.parse("2 * A", SHAPES)}), "hessian"),
    ("x.T @ A @ x", "x", _wrong_verify, "verify"),
    ("sum(exp(x))", "x", lambda d: setattr(d, "value_function", lambda: lambda **kw: 1 / 0), "foreign"),
])
def test_checks_catch_wrong_answers(monkeypatch, text, wrt, change, kind):
    _tampered(monkeypatch, change)
    out = run_case(text, wrt, SHAPES, ASSUME, SIZES)
    assert kind in {k for k, _ in out.failures}, str(out)


@pytest.mark.parametrize("text", ["softmax(softmax(softmax(softmax(softmax(x)))))",
                                  "log(norm(softmax(softmax(softmax(x)))) ** 2 + 1)"])
def test_nested_expression_derives_in_time(text):
    """Shared subexpressions are derived once (DAG, not tree), so the cost of the Jacobian or the
    Hessian grows with the size of the expression, not exponentially with its depth."""
    out = run_case(text, "x", SHAPES, ASSUME, SIZES, verify=False, limit=10)
    _assert_ok(out)


@pytest.mark.parametrize("text, wrt", [
    ("b + abs(2) ** -1", "b"),   # np.abs(2) ** (-1): NumPy refuses integers to negative integer powers
])
def test_found_examples(text, wrt):
    """Minimal cases the long run found, kept as plain tests."""
    _assert_ok(run_case(text, wrt, SHAPES, ASSUME, SIZES))


def test_checks_catch_a_misreading():
    """A generator value that disagrees with the reading (here xᵀA²x for xᵀAx) is a misreading."""
    out = run_case("x.T @ A @ x", "x", SHAPES, ASSUME, SIZES,
                   own=lambda env: env["x"].T @ env["A"] @ env["A"] @ env["x"])
    assert "misread" in {k for k, _ in out.failures}, str(out)


# == the long run ===================================================================================

LONG = settings(deadline=None, phases=[Phase.generate], database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
def test_long_run(capsys):
    """8000 generated expressions and 2000 of test_properties' texts; prints the figures, and
    fails on any failure."""
    figures = Figures()

    @settings(LONG, max_examples=8000)
    @given(cases(), st.integers(0, 2**16))
    def generated(case, seed):
        figures.add(run(case, seed))

    @settings(LONG, max_examples=2000)
    @given(property_cases(), st.integers(0, 2**16))
    def properties(case, seed):
        figures.add(run_property(*case, seed=seed))

    generated()
    properties()
    with capsys.disabled():
        print("\n" + str(figures))
    assert figures.runs >= 8000
    assert figures.wrong() == 0, str(figures)
