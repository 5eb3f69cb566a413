"""Derivation.steps(): the rules the engine applied, in order, each an equation that holds. A
derivative step D(F)[V] = R is checked against central differences of F (the plain evaluator);
an equal step by evaluating both sides; a read-off step T = ⟨G, V⟩ by evaluating T and ⟨G, V⟩."""

import numpy as np
import pytest

import matdiff
from matdiff.evaluate import evaluate
from matdiff.verify import Sampler

# (expression, wrt, assume, rules that must appear, in this order)
CASES = [
    ("x.T @ A @ x", "x", {}, ["product rule", "inner product", "transpose of a scalar", "gradient"]),
    ("A @ X @ C", "X", {}, ["linearity"]),
    ("trace(A @ X @ B)", "X", {}, ["linearity", "linearity", "trace rotation", "gradient"]),
    ("sigmoid(W @ x + b)", "x", {}, ["linearity", "linearity", "chain rule"]),
    ("sigmoid(W @ x + b)", "W", {}, ["linearity", "linearity", "chain rule"]),
    ("logdet(X)", "X", {"X": "spd"}, ["derivative table", "trace rotation", "gradient"]),
    ("inv(X)", "X", {"X": "spd"}, ["derivative table"]),
    ("det(X)", "X", {"X": "spd"}, ["derivative table"]),
    ("norm(W @ x - y) ** 2", "W", {}, ["linearity", "derivative table", "derivative table", "gradient"]),
    ("sum(exp(x))", "x", {}, ["chain rule", "linearity", "gradient"]),
    ("sum(log(sigmoid(y * (X @ w))))", "w", {}, ["chain rule", "chain rule", "gradient"]),
    ("-(y.T @ log(sigmoid(X @ w)) + (1 - y).T @ log(1 - sigmoid(X @ w)))", "w", {}, ["chain rule", "gradient"]),
    ("norm(W2 @ tanh(W1 @ x) - y) ** 2", "W1", {}, ["chain rule", "gradient"]),
    ("sigmoid(W2 @ tanh(W1 @ x))", "x", {}, ["chain rule", "linearity", "chain rule"]),
    ("x.T @ x", "x", {}, ["product rule", "gradient"]),
    ("a.T @ X @ b", "X", {}, ["linearity", "gradient"]),
    ("trace(X.T @ A @ X)", "X", {}, ["product rule", "gradient"]),
    ("logsumexp(W @ x)", "x", {}, ["derivative table", "gradient"]),
    ("softmax(z)", "z", {}, ["derivative table"]),
    ("sum(x / (1 + x ** 2))", "x", {}, ["quotient rule", "gradient"]),
    ("(x - m).T @ inv(S) @ (x - m)", "m", {"S": "spd"}, ["product rule", "gradient"]),
    ("trace(X @ X)", "X", {}, ["product rule", "gradient"]),
    ("sum(relu(W @ x))", "W", {}, ["chain rule", "gradient"]),
    ("x.T @ A @ x + b.T @ x", "x", {"A": "symmetric"}, ["product rule", "gradient"]),
]


def _in_order(wanted: list, got: list) -> bool:
    it = iter(got)
    return all(any(r == g for g in it) for r in wanted)


def _point(d, seed):
    sampler = Sampler(d.symbols, d.expr, seed)
    values = sampler.sample()
    rng = np.random.default_rng(seed + 1)
    for v in d.directions.values():
        shape = sampler.runtime_shape(v)
        direction = rng.standard_normal(shape)
        if "symmetric" in v.props:
            direction = (direction + direction.T) / 2
        values[v.name] = float(direction) if shape == () else direction
    return values, sampler.sizes


def _inner(g, v) -> float:
    return float(np.sum(np.asarray(g, dtype=float) * np.asarray(v, dtype=float)))


def _apply(j, v, out):
    """J v reshaped as the output `out`: unvec(J vec V) (a Kronecker form for a matrix V)."""
    from matdiff.expr import call
    jv = j * v if j.shape.is_scalar else j @ call("vec", v)
    return call("unvec", jv, params=tuple(out.shape))


def _holds(step, d, values, sizes) -> tuple[bool, str]:
    def ev(e):
        return np.asarray(evaluate(e, values, sizes), dtype=float)

    if step.kind == "jacobian":   # J v against differences of F along v
        step = type(step)(step.rule, step.why, step.lhs, _apply(step.rhs, d.directions[step.var], step.lhs),
                          "derivative", step.directions)
    if step.kind == "derivative":
        h = 1e-6
        moved = {}
        for sign in (1, -1):
            at = dict(values)
            for x, v in d.directions.items():
                at[x] = values[x] + sign * h * np.asarray(values[v.name])
            moved[sign] = np.asarray(evaluate(step.lhs, at, sizes), dtype=float)
        fd = (moved[1] - moved[-1]) / (2 * h)
        got = ev(step.rhs)
    elif step.kind == "read off":
        fd, got = ev(step.lhs), _inner(ev(step.rhs), values[step.directions[0]])
    else:
        fd, got = ev(step.lhs), ev(step.rhs)
    scale = max(1.0, float(np.max(np.abs(fd))) if np.size(fd) else 1.0)
    err = float(np.max(np.abs(np.asarray(got) - fd))) / scale if np.size(fd) else 0.0
    return err < 1e-5, f"{step} (error {err:.1e})"


@pytest.mark.parametrize("text, wrt, assume, rules", CASES, ids=[c[0] + " wrt " + c[1] for c in CASES])
def test_steps_name_the_rules_and_hold(text, wrt, assume, rules):
    d = matdiff.derive(text, wrt, assume=assume)
    steps = d.steps()
    names = [s.rule for s in steps]
    assert _in_order(rules, names), names
    for seed in (0, 1):
        values, sizes = _point(d, seed)
        for s in steps:
            ok, msg = _holds(s, d, values, sizes)
            assert ok, msg


def test_the_lecture_form_of_xtax():
    """D[v] = vᵀAx + xᵀAv → ⟨Ax, v⟩ + ⟨Aᵀx, v⟩ → ∇ = (A + Aᵀ)x."""
    d = matdiff.derive("x.T @ A @ x", "x")
    text = [s.to_unicode() for s in d.steps()]
    assert "product rule: D(xᵀAx)[v] = vᵀAx + xᵀAv" in text
    assert "inner product: vᵀAx = ⟨Ax, v⟩" in text
    assert "transpose of a scalar: xᵀAv = ⟨Aᵀx, v⟩" in text
    assert text[-1] == "gradient: ∇_x f = (A + Aᵀ)x"
    assert "factor_terms" in d.steps()[-1].why   # Ax + Aᵀx = (A + Aᵀ)x, by the rule that did it


def test_axc_is_linear_in_x():
    (step,) = matdiff.derive("A @ X @ C", "X").steps()
    assert step.to_unicode() == "linearity: D(AXC)[V] = AVC"
    assert step.why.startswith("AXC is linear in X")


def test_steps_come_as_latex_and_json():
    steps = matdiff.derive("logdet(X)", "X", assume={"X": "spd"}).steps()
    js = [s.to_json() for s in steps]
    assert js[0]["rule"] == "derivative table" and js[0]["why"] == "D(log det X)[V] = tr(X⁻¹V)"
    assert all({"rule", "why", "kind", "lhs", "rhs", "lhs_latex", "rhs_latex"} <= set(j) for j in js)
    assert steps[-1].to_latex().startswith(r"\nabla_{X} f = ")


def test_recording_is_off_unless_asked():
    from matdiff.steps import recorder
    matdiff.derive("x.T @ A @ x", "x").gradient
    assert recorder() is None


JACOBIAN_CASES = [
    ("sigmoid(W2 @ tanh(W1 @ x))", "x", 4),
    ("relu(W2 @ relu(W1 @ x + b1) + b2)", "x", 4),
    ("tanh(W @ x)", "x", 2),
    ("norm(W @ x)", "x", 2),
    ("x * (W @ x)", "x", None),          # a sum of paths: J whole
    ("softmax(W @ x)", "x", None),
    ("A @ X @ C", "X", None),
]


@pytest.mark.parametrize("text, wrt, factors", JACOBIAN_CASES, ids=[c[0] for c in JACOBIAN_CASES])
def test_jacobian_steps_are_the_chain_rule_in_order(text, wrt, factors):
    d = matdiff.derive(text, wrt)
    steps = d.jacobian_steps()
    first = steps[0]
    if factors is None:
        assert first.rule == "jacobian" and first.rhs == d.jacobian
    else:
        assert first.rule == "chain rule" and len(first.factors) == factors
        assert "forward mode (JVP)" in first.why and "reverse mode (VJP)" in first.why
        assert steps[-1].rhs == d.jacobian
    for seed in (0, 1):
        values, sizes = _point(d, seed)
        for s in steps:
            ok, msg = _holds(s, d, values, sizes)
            assert ok, msg


def test_the_lecture_chain_of_a_two_layer_net():
    """σ(W₂ tanh(W₁x)): diag(σ′) · W₂ · diag(1 − tanh²) · W₁, outer map first."""
    (step, *_) = matdiff.derive("sigmoid(W2 @ tanh(W1 @ x))", "x").jacobian_steps()
    names = [f.op.name if hasattr(f, "op") else f.name for f in step.factors]
    assert names == ["diag", "W2", "diag", "W1"]
