"""verify() fails loudly on wrong derivatives: a missing transpose, a factor of 2, a sign, a
wrong Jacobian or Hessian each give ok = False, while the right answers pass."""

import pytest

import matdiff
from matdiff.verify import verify_directional, verify_matrix

SHAPES = {"A": ("n", "n"), "x": ("n",), "W": ("m", "n"), "y": ("m",), "X": ("n", "n")}


def _with(d, attr, value):
    d.__dict__[attr] = value   # replace a derived result as a hand-written (wrong) one would
    return d


@pytest.mark.parametrize("text, wrt, wrong", [
    ("x.T @ A @ x", "x", "2 * A @ x"),                 # forgot that A is not symmetric
    ("norm(W @ x - y)**2", "W", "(W @ x - y) @ x.T"),  # missing factor 2
    ("norm(W @ x - y)**2", "x", "-2 * W.T @ (W @ x - y)"),   # sign
    ("logdet(X)", "X", "inv(X)"),                      # missing transpose
    ("sum(exp(W @ x))", "W", "exp(W @ x) @ x.T * 1.001"),   # off by 0.1 %
])
def test_wrong_gradient_fails(text, wrt, wrong):
    d = matdiff.derive(text, wrt, shapes=SHAPES)
    assert d.verify().ok
    names = {n: s.shape for n, s in d.symbols.items()}
    bad = _with(matdiff.derive(text, wrt, shapes=SHAPES), "gradients", {wrt: matdiff.parse(wrong, names)})
    report = bad.verify()
    assert not report.ok and report.max_rel_error > report.tolerance, str(report)
    assert "does not match" in str(report)


def test_wrong_gradient_shape_fails():
    d = matdiff.derive("x.T @ A @ x", "x", shapes=SHAPES)
    bad = _with(d, "gradients", {"x": matdiff.parse("A", {"A": ("n", "n")})})
    assert not bad.verify().ok


def test_wrong_jacobian_and_hessian_fail():
    d = matdiff.derive("sigmoid(W @ x)", "x", shapes=SHAPES)
    assert verify_matrix(d, "jacobian").ok
    wrong = matdiff.parse("diag(sigmoid(W @ x)) @ W", SHAPES)
    assert not verify_matrix(_with(d, "jacobians", {"x": wrong}), "jacobian").ok

    h = matdiff.derive("x.T @ A @ x", "x", shapes=SHAPES)
    assert verify_matrix(h, "hessian").ok
    assert not verify_matrix(_with(h, "hessians", {("x", "x"): matdiff.parse("2 * A", SHAPES)}), "hessian").ok


def test_wrong_directional_fails():
    d = matdiff.derive("inv(X)", "X", shapes=SHAPES)
    assert verify_directional(d).ok
    names = {"X": ("n", "n"), "V": ("n", "n")}
    wrong = matdiff.parse("-inv(X) @ V @ inv(X).T", names)
    assert not verify_directional(_with(d, "directional", wrong)).ok


def test_report_names_sizes_and_seed():
    r = matdiff.derive("trace(A @ X @ W.T @ W)", "X", shapes=SHAPES).verify(seed=7)
    assert r.ok and r.seed == 7 and set(r.sizes) == {"n", "m"} and r.sizes["n"] != r.sizes["m"]
    assert r.checks > 0 and "seed 7" in str(r)
