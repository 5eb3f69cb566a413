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


# -- the reference is the expression as read: a simplifier bug cannot pass ---------------------------

def _old_broadcast_bug(e):
    """sum(c𝟙) = c, forgetting the n: the wrong rewrite that once made sum(x − 1) = sum(x) − 1."""
    from matdiff.expr import Call
    if isinstance(e, Call) and e.op.name == "sum" and e.args[0].shape != e.shape \
            and isinstance(e.args[0], Call) and e.args[0].op.name == "broadcast":
        return e.args[0].args[0]
    return None


@pytest.mark.parametrize("text, wrt, shapes", [
    ("sum(x - 1) ** 2", "x", {}),                      # the value is wrong, the gradient too
    ("sum(x + a)", "a", {"a": ()}),                    # the gradient is wrong (1 for n)
    ("sum(x - 1)", "x", {}),                           # only the value is wrong: sum(x) − 1
])
def test_a_wrong_rewrite_fails_verification(monkeypatch, text, wrt, shapes):
    import matdiff.simplify as simplify
    assert matdiff.derive(text, wrt, shapes=shapes).verify().ok
    monkeypatch.setattr(simplify, "RULES", (_old_broadcast_bug,) + simplify.RULES)
    report = matdiff.derive(text, wrt, shapes=shapes).verify()
    assert not report.ok, str(report)


def test_a_wrong_emitted_value_is_its_own_verdict(monkeypatch):
    import matdiff.simplify as simplify
    monkeypatch.setattr(simplify, "RULES", (_old_broadcast_bug,) + simplify.RULES)
    report = matdiff.derive("sum(x - 1)", "x").verify()
    assert not report.value_ok and not report.ok
    assert "the emitted value differs from the expression as read" in str(report)


def test_check_gradient_does_not_trust_a_wrong_rewrite(monkeypatch):
    """With the simplifier broken, a correct claim must not be judged wrong: the derived gradient
    fails its own verification, and that is said instead of a verdict."""
    import matdiff.simplify as simplify
    from matdiff.errors import DerivationError
    monkeypatch.setattr(simplify, "RULES", (_old_broadcast_bug,) + simplify.RULES)
    with pytest.raises(DerivationError, match="fails verification"):
        matdiff.check_gradient("sum(X @ w + b)", "b", "3", shapes={"X": (3, 2), "b": ()})


# -- the examples that a forgotten broadcast once got wrong, each with its true value ----------------

def _numeric_gradient(f, x, h=1e-6):
    import numpy as np
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("text, wrt, shapes, reference", [
    # each reference is hand-written NumPy of the expression, nothing of matdiff's
    ("sum(X @ w + b)", "b", {"X": (3, 2), "b": ()}, lambda X, w, b: (X @ w + b).sum()),
    ("sum(x + a)", "a", {"a": (), "x": (4,)}, lambda x, a: (x + a).sum()),
    ("sum(x - 1) ** 2", "x", {"x": (5,)}, lambda x: (x - 1).sum() ** 2),
    ("trace(A + c)", "c", {"A": (3, 3), "c": ()}, lambda A, c: (A + c).trace()),
    ("trace(W + 2)", "W", {"W": (3, 3)}, lambda W: (W + 2).trace()),
    ("sum(1 - y * log(p))", "p", {"y": (4,), "p": (4,)}, lambda y, p: (1 - y * __import__("numpy").log(p)).sum()),
    ("sum(x ** 0 - y)", "y", {"x": (3,), "y": (3,)}, lambda x, y: (x ** 0 - y).sum()),
    ("sum(x + ones(n))", "x", {"x": ("n",)}, lambda x: (x + 1).sum()),
    ("sum((phi0 + phi1 * x - y)**2)", "phi0", {"phi0": (), "phi1": (), "x": (6,), "y": (6,)},
     lambda phi0, phi1, x, y: ((phi0 + phi1 * x - y) ** 2).sum()),
])
def test_broadcast_examples_give_the_true_value_and_gradient(text, wrt, shapes, reference):
    import numpy as np
    d = matdiff.derive(text, wrt, shapes=shapes)
    rng = np.random.default_rng(5)
    point = {}
    for name, s in d.symbols.items():
        shape = tuple(5 if isinstance(k, str) else k for k in s.shape.numpy())
        point[name] = rng.uniform(0.5, 2.0, shape) if shape else float(rng.uniform(0.5, 2.0))
    assert d.value_function()(**point) == pytest.approx(reference(**point), rel=1e-12)

    def along(v):
        return reference(**{**point, wrt: v})
    want = _numeric_gradient(along, point[wrt])
    assert np.allclose(d.gradient_function()(**point), want, rtol=1e-6, atol=1e-8)
    assert d.verify().ok
    claim = str(d.gradient)
    assert matdiff.check_gradient(text, wrt, claim, shapes=shapes).verdict == "correct"


def test_check_gradient_judges_the_correct_claims_correct():
    r = matdiff.check_gradient("sum(X @ w + b)", "b", "3", shapes={"X": (3, 2), "b": ()})
    assert r.verdict == "correct", r.explain()
    r = matdiff.check_gradient("sum(x - 1) ** 2", "x", "2 * (sum(x) - 5) * ones(5)", shapes={"x": (5,)})
    assert r.verdict == "correct", r.explain()


def test_no_absolute_floor_in_verdicts():
    assert matdiff.check_gradient("1e-7 * sum(x ** 2)", "x", "0 * x").verdict == "wrong"
    r = matdiff.check_gradient("1e-7 * sum(x ** 2)", "x", "-2e-7 * x")
    assert r.verdict == "sign"
    assert matdiff.check_gradient("1e-7 * sum(x ** 2)", "x", "2e-7 * x").verdict == "correct"


@pytest.mark.parametrize("text, wrt, shapes", [
    ("(α + β) ** 0.5", "α", {}),                          # a fractional power of a compound base
    ("trace((X + Y) ** 0.5)", "X", {"X": ("n", "n"), "Y": ("n", "n")}),
    ("log(trace(x.T @ x))", "x", {}),                      # the trace of a 1×1 product
    ("trace(inv(s*B@C.T)) - trace(inv(s*B@C.T).T)", "B", {"s": ()}),   # zero by cancellation
    ("abs(exp(-norm(C)**2))", "C", {}),                    # far from the kink, though tiny
    ("exp((norm(C)**2 + γ) * norm(W @ B)**2)", "C", {}),   # overflows at standard-normal samples
])
def test_verify_accepts_valid_input(text, wrt, shapes):
    r = matdiff.derive(text, wrt, shapes=shapes).verify()
    assert r.ok, str(r)


@pytest.mark.parametrize("text, wrt, kind", [
    ("X + trace(X)", "X", "jacobian"),       # a broadcast in a Kronecker form
    ("trace(C) * sum(C)", "C", "hessian"),
    ("X @ x + sum(X)", "x", "jacobian"),
    ("x * sum(x + a)", "x", "jacobian"),
])
def test_matrices_of_maps_with_broadcasts(text, wrt, kind):
    d = matdiff.derive(text, wrt, shapes={"a": ()})
    r = verify_matrix(d, kind)
    assert r.ok, str(r)
