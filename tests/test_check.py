"""Checking hand-written gradients: a table of the claims backprop tutorials get wrong (and right),
each with the verdict worked out by hand; whole backward passes through check_program; the CLI."""

from __future__ import annotations


import pytest

import matdiff
from matdiff import MatdiffError, ParseError, ShapeError, check_gradient, check_program
from matdiff.cli import main
from matdiff.simplify import simplify

# A matrix variable with distinct dims everywhere, so a missing transpose cannot hide.
LSQ = {"W": ("m", "n"), "x": ("n",), "y": ("m",)}          # ‖Wx − y‖², W: m×n
LIN = {"A": ("p", "n"), "x": ("n",), "b": ("p",)}          # ‖Ax − b‖², x: n×1
SQ = {"A": ("n", "n"), "x": ("n",)}                        # xᵀAx
TR3 = {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "p")}  # tr(AXB), X: n×m
OUT = {"a": ("m",), "W": ("m", "n"), "x": ("n",)}          # aᵀWx
NET = {"g": ("m",), "W": ("m", "n"), "x": ("n",), "b": ("m",)}
SMX = {"W": ("k", "n"), "x": ("n",), "y": ("k",)}          # softmax regression, k classes
LOGREG = {"X": ("N", "d"), "w": ("d",), "y": ("N",)}
RIDGE = {"X": ("N", "d"), "w": ("d",), "y": ("N",), "lam": ()}

# Each row: (id, expr, wrt, claim, shapes, assume, verdict, factor, truth).
# `truth` is the gradient worked out by hand; every row also checks that matdiff agrees with it.
ROWS = [
    # -- squared error, f = ‖Wx − y‖² = Σ (Wx − y)ᵢ²; DF[V] = 2 (Wx − y)ᵀ V x, ∇_W = 2 (Wx − y) xᵀ
    ("lsq-W-correct", "sum((W @ x - y)**2)", "W", "2 * (W @ x - y) @ x.T", LSQ, None,
     "correct", None, "2 * (W @ x - y) @ x.T"),
    # x (Wx − y)ᵀ is n×m, the transpose of the m×n truth
    ("lsq-W-outer-order", "sum((W @ x - y)**2)", "W", "2 * x @ (W @ x - y).T", LSQ, None,
     "transposed", None, "2 * (W @ x - y) @ x.T"),
    # forgot the 2 of the square: claim = ½ · truth
    ("lsq-W-missing-2", "sum((W @ x - y)**2)", "W", "(W @ x - y) @ x.T", LSQ, None,
     "scaled", 0.5, "2 * (W @ x - y) @ x.T"),
    # residual written y − Wx: claim = −truth
    ("lsq-W-sign-residual", "sum((W @ x - y)**2)", "W", "2 * (y - W @ x) @ x.T", LSQ, None,
     "sign", -1.0, "2 * (W @ x - y) @ x.T"),
    ("lsq-W-sign-minus", "sum((W @ x - y)**2)", "W", "-2 * (W @ x - y) @ x.T", LSQ, None,
     "sign", -1.0, "2 * (W @ x - y) @ x.T"),
    # the ½‖Wx − y‖² convention: the 2 cancels, so keeping it doubles the gradient
    ("half-lsq-W-correct", "0.5 * sum((W @ x - y)**2)", "W", "(W @ x - y) @ x.T", LSQ, None,
     "correct", None, "(W @ x - y) @ x.T"),
    ("half-lsq-W-extra-2", "0.5 * sum((W @ x - y)**2)", "W", "2 * (W @ x - y) @ x.T", LSQ, None,
     "scaled", 2.0, "(W @ x - y) @ x.T"),
    # (Wx − y) is m×1 and x is n×1: the product does not fit (m×1 @ n×1)
    ("lsq-W-no-fit", "sum((W @ x - y)**2)", "W", "2 * (W @ x - y) @ x", LSQ, None,
     "shape", None, "2 * (W @ x - y) @ x.T"),
    # the gradient w.r.t. x (n×1) offered as the gradient w.r.t. W (m×n)
    ("lsq-W-vector-claim", "sum((W @ x - y)**2)", "W", "2 * W.T @ (W @ x - y)", LSQ, None,
     "shape", None, "2 * (W @ x - y) @ x.T"),
    # dz offered as dW: m×1 is neither m×n nor n×m
    ("lsq-W-dz-as-dW", "sum((W @ x - y)**2)", "W", "2 * (W @ x - y)", LSQ, None,
     "shape", None, "2 * (W @ x - y) @ x.T"),
    # -- least squares in x, f = ‖Ax − b‖²: ∇_x = 2 Aᵀ(Ax − b)
    ("lsq-x-correct", "sum((A @ x - b)**2)", "x", "2 * A.T @ (A @ x - b)", LIN, None,
     "correct", None, "2 * A.T @ (A @ x - b)"),
    ("lsq-x-missing-2", "sum((A @ x - b)**2)", "x", "A.T @ (A @ x - b)", LIN, None,
     "scaled", 0.5, "2 * A.T @ (A @ x - b)"),
    # A(Ax − b)? A is p×n, (Ax − b) is p×1: does not fit
    ("lsq-x-missing-T", "sum((A @ x - b)**2)", "x", "2 * A @ (A @ x - b)", LIN, None,
     "shape", None, "2 * A.T @ (A @ x - b)"),
    # norm(.)**2 is the same function
    ("norm2-x-correct", "norm(A @ x - b)**2", "x", "2 * A.T @ (A @ x - b)", LIN, None,
     "correct", None, "2 * A.T @ (A @ x - b)"),
    # ∇‖x‖ = x/‖x‖; claiming x is off by the factor ‖x‖, which changes from point to point
    ("norm-x-forgot-divide", "norm(x)", "x", "x", {"x": ("n",)}, None,
     "wrong", None, "x / norm(x)"),
    ("xTx-missing-2", "x.T @ x", "x", "x", {"x": ("n",)}, None,
     "scaled", 0.5, "2 * x"),
    # -- ridge: f = ‖Xw − y‖² + λ‖w‖²: ∇_w = 2Xᵀ(Xw − y) + 2λw
    ("ridge-correct", "sum((X @ w - y)**2) + lam * sum(w**2)", "w",
     "2 * X.T @ (X @ w - y) + 2 * lam * w", RIDGE, None, "correct", None,
     "2 * X.T @ (X @ w - y) + 2 * lam * w"),
    # λw instead of 2λw: only one of two terms is off, so no single factor explains it
    ("ridge-penalty-missing-2", "sum((X @ w - y)**2) + lam * sum(w**2)", "w",
     "2 * X.T @ (X @ w - y) + lam * w", RIDGE, None, "wrong", None,
     "2 * X.T @ (X @ w - y) + 2 * lam * w"),
    # both 2s dropped: exactly ½ of the truth
    ("ridge-both-missing-2", "sum((X @ w - y)**2) + lam * sum(w**2)", "w",
     "X.T @ (X @ w - y) + lam * w", RIDGE, None, "scaled", 0.5,
     "2 * X.T @ (X @ w - y) + 2 * lam * w"),
    ("ridge-penalty-only", "lam * w.T @ w", "w", "lam * w", {"w": ("d",), "lam": ()}, None,
     "scaled", 0.5, "2 * lam * w"),
    # -- quadratic forms, f = xᵀAx: ∇ = (A + Aᵀ)x; = 2Ax only when A is symmetric
    ("quad-correct", "x.T @ A @ x", "x", "(A + A.T) @ x", SQ, None, "correct", None, "(A + A.T) @ x"),
    ("quad-Ax", "x.T @ A @ x", "x", "A @ x", SQ, None, "wrong", None, "(A + A.T) @ x"),
    ("quad-2Ax-unsymmetric", "x.T @ A @ x", "x", "2 * A @ x", SQ, None, "wrong", None, "(A + A.T) @ x"),
    ("quad-2Ax-symmetric", "x.T @ A @ x", "x", "2 * A @ x", SQ, {"A": "symmetric"},
     "correct", None, "2 * A @ x"),
    ("quad-sum-symmetric", "x.T @ A @ x", "x", "(A + A.T) @ x", SQ, {"A": "symmetric"},
     "correct", None, "2 * A @ x"),
    ("quad-Ax-symmetric", "x.T @ A @ x", "x", "A @ x", SQ, {"A": "symmetric"},
     "scaled", 0.5, "2 * A @ x"),
    ("quad-sign", "x.T @ A @ x", "x", "-(A + A.T) @ x", SQ, None, "sign", -1.0, "(A + A.T) @ x"),
    # -- traces: ∇_X tr(AX) = Aᵀ, ∇_X tr(XᵀA) = A, ∇_X tr(AXB) = AᵀBᵀ
    ("trace-AX-square", "trace(A @ X)", "X", "A", {"A": ("n", "n"), "X": ("n", "n")}, None,
     "transposed", None, "A.T"),
    ("trace-AX-rect", "trace(A @ X)", "X", "A", {"A": ("m", "n"), "X": ("n", "m")}, None,
     "transposed", None, "A.T"),
    ("trace-XTA-correct", "trace(X.T @ A)", "X", "A", {"A": ("n", "m"), "X": ("n", "m")}, None,
     "correct", None, "A"),
    ("trace-AXB-BA", "trace(A @ X @ B)", "X", "B @ A", TR3, None, "transposed", None, "A.T @ B.T"),
    # Bᵀ Aᵀ: (p×m) @ (n×p) does not fit
    ("trace-AXB-wrong-order", "trace(A @ X @ B)", "X", "B.T @ A.T", TR3, None, "shape", None,
     "A.T @ B.T"),
    ("trace-AXB-correct", "trace(A @ X @ B)", "X", "(B @ A).T", TR3, None, "correct", None, "A.T @ B.T"),
    # -- log det and det: ∇ log det X = X⁻ᵀ, ∇ det X = det(X) X⁻ᵀ
    ("logdet-inv", "logdet(X)", "X", "inv(X)", {"X": ("n", "n")}, None, "transposed", None, "inv(X).T"),
    ("logdet-invT", "logdet(X)", "X", "inv(X).T", {"X": ("n", "n")}, None, "correct", None, "inv(X.T)"),
    ("logdet-spd-inv", "logdet(X)", "X", "inv(X)", {"X": ("n", "n")}, {"X": "spd"},
     "correct", None, "inv(X)"),
    ("log-det-inv", "log(det(X))", "X", "inv(X)", {"X": ("n", "n")}, None, "transposed", None, "inv(X).T"),
    ("det-inv", "det(X)", "X", "det(X) * inv(X)", {"X": ("n", "n")}, None, "transposed", None,
     "det(X) * inv(X).T"),
    # -- outer products in backprop: f = aᵀWx (a = δ upstream): ∇_W = a xᵀ
    ("outer-correct", "a.T @ W @ x", "W", "a @ x.T", OUT, None, "correct", None, "a @ x.T"),
    ("outer-x-delta", "a.T @ W @ x", "W", "x @ a.T", OUT, None, "transposed", None, "a @ x.T"),
    ("outer-delta-name", "delta.T @ W @ x", "W", "x @ delta.T",
     {"delta": ("m",), "W": ("m", "n"), "x": ("n",)}, None, "transposed", None, "delta @ x.T"),
    # -- activations, f = gᵀσ(Wx + b): ∇_b = g ⊙ σ'(z), ∇_W = (g ⊙ σ'(z)) xᵀ
    ("sigmoid-b-missing-dsigma", "g.T @ sigmoid(W @ x + b)", "b", "g", NET, None, "wrong", None,
     "g * sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))"),
    ("sigmoid-b-correct", "g.T @ sigmoid(W @ x + b)", "b",
     "g * sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))", NET, None, "correct", None,
     "g * sigmoid'(W @ x + b)"),
    ("sigmoid-W-missing-dsigma", "g.T @ sigmoid(W @ x + b)", "W", "g @ x.T", NET, None, "wrong", None,
     "(g * sigmoid'(W @ x + b)) @ x.T"),
    # σ'(z) = σ(z)(1 − σ(z)), not σ(z)(1 − z)
    ("sigmoid-W-dsigma-of-z", "g.T @ sigmoid(W @ x + b)", "W",
     "(g * sigmoid(W @ x + b) * (1 - (W @ x + b))) @ x.T", NET, None, "wrong", None,
     "(g * sigmoid'(W @ x + b)) @ x.T"),
    ("tanh-W-relu-prime", "g.T @ tanh(W @ x + b)", "W", "(g * relu'(W @ x + b)) @ x.T", NET, None,
     "wrong", None, "(g * (1 - tanh(W @ x + b)**2)) @ x.T"),
    ("tanh-W-correct", "g.T @ tanh(W @ x + b)", "W", "(g * tanh'(W @ x + b)) @ x.T", NET, None,
     "correct", None, "(g * (1 - tanh(W @ x + b)**2)) @ x.T"),
    # (1 − tanh)² instead of 1 − tanh²
    ("tanh-W-paren", "g.T @ tanh(W @ x + b)", "W", "(g * (1 - tanh(W @ x + b))**2) @ x.T", NET, None,
     "wrong", None, "(g * (1 - tanh(W @ x + b)**2)) @ x.T"),
    ("relu-W-np-mask", "g.T @ relu(W @ x + b)", "W", "(g * (W @ x + b > 0)) @ x.T", NET, None,
     "correct", None, "(g * relu'(W @ x + b)) @ x.T"),
    # -- softmax cross-entropy with a one-hot y (Σy = 1 built in): L = lse(z) − yᵀz, z = Wx
    #    ∂L/∂z = softmax(z) − y, ∇_W = (softmax(z) − y) xᵀ
    ("softmax-ce-correct", "logsumexp(W @ x) - y.T @ W @ x", "W", "(softmax(W @ x) - y) @ x.T", SMX, None,
     "correct", None, "(softmax(W @ x) - y) @ x.T"),
    ("softmax-ce-transposed", "logsumexp(W @ x) - y.T @ W @ x", "W", "x @ (softmax(W @ x) - y).T",
     SMX, None, "transposed", None, "(softmax(W @ x) - y) @ x.T"),
    ("softmax-ce-sign", "logsumexp(W @ x) - y.T @ W @ x", "W", "(y - softmax(W @ x)) @ x.T", SMX, None,
     "sign", -1.0, "(softmax(W @ x) - y) @ x.T"),
    # written as L = −yᵀ log softmax(z) for a general y: ∂L/∂z = (Σy) softmax(z) − y, so the
    # textbook s − y holds only when Σy = 1, which a general y does not satisfy
    ("softmax-ce-log-general-y", "-y.T @ log(softmax(W @ x))", "W", "(softmax(W @ x) - y) @ x.T", SMX, None,
     "wrong", None, "(sum(y) * softmax(W @ x) - y) @ x.T"),
    ("softmax-ce-log-general-y-correct", "-y.T @ log(softmax(W @ x))", "W",
     "(sum(y) * softmax(W @ x) - y) @ x.T", SMX, None, "correct", None,
     "(sum(y) * softmax(W @ x) - y) @ x.T"),
    # -- logistic regression, y ∈ {0, 1}: the summed negative log-likelihood
    #    L = Σ −y log σ(Xw) − (1 − y) log(1 − σ(Xw)); ∂L/∂z = σ(z) − y for any y, ∇_w = Xᵀ(σ(Xw) − y)
    ("logreg-sum-correct", "sum(-y * log(sigmoid(X @ w)) - (1 - y) * log(1 - sigmoid(X @ w)))", "w",
     "X.T @ (sigmoid(X @ w) - y)", LOGREG, None, "correct", None, "X.T @ (sigmoid(X @ w) - y)"),
    # the log-likelihood's gradient (for ascent) offered for the loss
    ("logreg-sum-sign", "sum(-y * log(sigmoid(X @ w)) - (1 - y) * log(1 - sigmoid(X @ w)))", "w",
     "X.T @ (y - sigmoid(X @ w))", LOGREG, None, "sign", -1.0, "X.T @ (sigmoid(X @ w) - y)"),
    ("logreg-sum-missing-T", "sum(-y * log(sigmoid(X @ w)) - (1 - y) * log(1 - sigmoid(X @ w)))", "w",
     "(sigmoid(X @ w) - y).T @ X", LOGREG, None, "transposed", None, "X.T @ (sigmoid(X @ w) - y)"),
    # the mean over N = 4 samples: ∇ = Xᵀ(σ(Xw) − y)/4, so the summed gradient is 4× too big
    ("logreg-mean-forgot-1/N", "sum(-y * log(sigmoid(X @ w)) - (1 - y) * log(1 - sigmoid(X @ w))) / 4",
     "w", "X.T @ (sigmoid(X @ w) - y)", {"X": (4, "d"), "w": ("d",), "y": (4,)}, None,
     "scaled", 4.0, "X.T @ (sigmoid(X @ w) - y) / 4"),
    # the ±1-label loss Σ log(1 + exp(−y ⊙ Xw)) has ∇ = −Xᵀ(y ⊙ σ(−y ⊙ Xw)); the {0,1} formula
    # agrees at y = 1 but not at y = −1 (σ(z) vs σ(z) + 1), so not for a general y
    ("logreg-pm1-with-01-formula", "sum(log(1 + exp(-y * (X @ w))))", "w",
     "X.T @ (sigmoid(X @ w) - y)", LOGREG, None, "wrong", None,
     "-X.T @ (y * sigmoid(-y * (X @ w)))"),
    ("logreg-pm1-correct", "sum(log(1 + exp(-y * (X @ w))))", "w",
     "-X.T @ (y * sigmoid(-y * (X @ w)))", LOGREG, None, "correct", None,
     "-X.T @ (y * (1 - sigmoid(y * (X @ w))))"),
    # -- Frobenius least squares, f = ‖AX − B‖²_F: ∇_X = 2Aᵀ(AX − B)
    ("frob-correct", "norm(A @ X - B)**2", "X", "2 * A.T @ (A @ X - B)",
     {"A": ("p", "n"), "X": ("n", "m"), "B": ("p", "m")}, None, "correct", None, "2 * A.T @ (A @ X - B)"),
    # (AX − B) Aᵀ: (p×m) @ (n×p) does not fit
    ("frob-wrong-side", "norm(A @ X - B)**2", "X", "2 * (A @ X - B) @ A.T",
     {"A": ("p", "n"), "X": ("n", "m"), "B": ("p", "m")}, None, "shape", None, "2 * A.T @ (A @ X - B)"),
    # a linear plus a quadratic term, A rectangular: ∇_w (yᵀAw + wᵀw) = Aᵀy + 2w
    ("linear-plus-quadratic", "y.T @ A @ w + w.T @ w", "w", "A.T @ y + 2 * w",
     {"A": ("n", "m"), "y": ("n",), "w": ("m",)}, None, "correct", None, "2 * w + A.T @ y"),
    # a symmetric variable: the gradient on the symmetric matrices is sym(G) = (A + Aᵀ)/2 for
    # f = tr(AX); the unconstrained Aᵀ has the same projection (⟨Aᵀ, V⟩ = ⟨sym A, V⟩ for every
    # symmetric V), so it is accepted as correct on symmetric matrices; A + Aᵀ is twice it
    ("trace-sym-X-correct", "trace(A @ X)", "X", "(A + A.T) / 2", {"A": ("n", "n"), "X": ("n", "n")},
     {"X": "symmetric"}, "correct", None, "0.5 * (A + A.T)"),
    ("trace-sym-X-unconstrained", "trace(A @ X)", "X", "A.T", {"A": ("n", "n"), "X": ("n", "n")},
     {"X": "symmetric"}, "correct", None, "0.5 * (A + A.T)"),
    ("trace-sym-X-doubled", "trace(A @ X)", "X", "A + A.T", {"A": ("n", "n"), "X": ("n", "n")},
     {"X": "symmetric"}, "scaled", 2.0, "0.5 * (A + A.T)"),
    # a scalar variable: ∂(λ‖w‖²)/∂λ = ‖w‖²
    ("scalar-var-doubled", "lam * sum(w**2)", "lam", "2 * sum(w**2)", {"w": ("d",), "lam": ()}, None,
     "scaled", 2.0, "w.T @ w"),
    ("scalar-var-sign", "lam * sum(w**2)", "lam", "-(w.T @ w)", {"w": ("d",), "lam": ()}, None,
     "sign", -1.0, "sum(w**2)"),
    # A is m×n and X is n×m, so 2A has X's transposed shape; its values are 2·(truth)ᵀ, neither
    # the truth nor its transpose: "wrong" ("shape" is for a claim whose shape is neither X's
    # nor its transpose)
    ("trace-AX-rect-2A", "trace(A @ X)", "X", "2 * A", {"A": ("m", "n"), "X": ("n", "m")}, None,
     "wrong", None, "A.T"),
    # xᵀA is 1×n (x's transposed shape) and is (Aᵀx)ᵀ, not ((A + Aᵀ)x)ᵀ: wrong, not shape
    ("quad-row-half", "x.T @ A @ x", "x", "x.T @ A", SQ, None, "wrong", None, "(A + A.T) @ x"),
    # a scalar claim for a matrix variable
    ("trace-scalar-claim", "trace(X)", "X", "trace(X)", {"X": ("n", "n")}, None, "shape", None, "eye(n)"),
]


def _row_id(row):
    return row[0]


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_verdict_table(row):
    _, expr, wrt, claim, shapes, assume, verdict, factor, truth = row
    r = check_gradient(expr, wrt, claim, shapes=shapes, assume=assume)
    assert r.verdict == verdict, r.explain()
    assert r.ok is (verdict == "correct")
    if verdict in ("scaled", "sign"):
        assert r.factor == pytest.approx(factor, rel=1e-9)
    else:
        assert r.factor is None
    text = r.explain()
    assert f"verdict: {verdict}" in text
    if verdict in ("scaled", "sign"):
        assert f"(factor {factor:g})" in text
    assert f"correct gradient: {r.expected}" in text
    var_shape = str(r.variable.shape)
    assert str(r.expected.shape) == var_shape
    if verdict == "shape":
        assert f"the shape of {wrt}" in text and var_shape in text
        assert var_shape in r.message or "does not fit" in r.message
    if verdict == "wrong":
        assert "counterexample" in text and r.counterexample


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_table_truth_is_the_gradient(row):
    """The hand-worked truth of every row is what matdiff derives (so no row's verdict rests on
    a wrong idea of the gradient)."""
    _, expr, wrt, claim, shapes, assume, verdict, factor, truth = row
    r = check_gradient(expr, wrt, truth, shapes=shapes, assume=assume)
    assert r.verdict == "correct", r.explain()
    assert r.ok


@pytest.mark.parametrize("row", ROWS[::4], ids=_row_id)
def test_table_expressions_verify_by_finite_differences(row):
    """The derivations the verdicts are measured against pass their own finite-difference check."""
    _, expr, wrt, claim, shapes, assume, *_ = row
    assert matdiff.derive(expr, wrt, shapes, assume).verify().ok


def test_table_size_and_mix():
    verdicts = [row[6] for row in ROWS]
    assert len(ROWS) >= 30
    for v in ("correct", "transposed", "scaled", "sign", "shape", "wrong"):
        assert v in verdicts


def test_transposed_explains_the_shapes():
    r = check_gradient("sum((W @ x - y)**2)", "W", "2 * x @ (W @ x - y).T", shapes=LSQ)
    assert "transpose" in r.message
    assert "n×m" in r.message and "m×n" in r.message


def test_shape_claim_that_does_not_fit_quotes_it():
    r = check_gradient("sum((W @ x - y)**2)", "W", "2 * (W @ x - y) @ x", shapes=LSQ)
    assert r.claim is None
    assert "does not fit" in r.message
    assert "^" in r.message        # the caret under the offending product
    assert "m×n" in r.explain()


def test_wrong_counterexample_is_an_entry_where_they_differ():
    r = check_gradient("x.T @ A @ x", "x", "A @ x", shapes=SQ)
    c = r.counterexample
    assert c["claimed"] != pytest.approx(c["expected"])
    assert set(c) >= {"index", "claimed", "expected", "sizes", "seed"}


def test_row_vector_claim_for_a_column_vector_is_transposed():
    """xᵀ(A + Aᵀ) is 1×n, the transpose of x's shape n×1, with the right entries: by the
    definition of the verdicts ("shape" = neither the variable's shape nor its transpose) this
    is "transposed", not "shape"."""
    r = check_gradient("x.T @ A @ x", "x", "x.T @ (A + A.T)", shapes=SQ)
    assert r.verdict == "transposed", r.explain()
    assert not r.ok


def test_claim_with_foreign_symbol_is_a_matdiff_error():
    with pytest.raises(ParseError) as e:
        check_gradient("sum((W @ x - y)**2)", "W", "2 * (W @ x - t) @ x.T", shapes=LSQ)
    assert "t" in e.value.message


def test_check_is_deterministic_for_a_seed():
    a = check_gradient("x.T @ A @ x", "x", "A @ x", shapes=SQ, seed=3)
    b = check_gradient("x.T @ A @ x", "x", "A @ x", shapes=SQ, seed=3)
    assert a.counterexample == b.counterexample


# -- programs ---------------------------------------------------------------------------------

RELU_NET = """\
z1 = W1 @ x + b1
h1 = relu(z1)
z2 = W2 @ h1 + b2
loss = sum((z2 - y)**2)
dz2 = 2 * (z2 - y)
dW2 = dz2 @ h1.T
db2 = dz2
dh1 = W2.T @ dz2
dz1 = dh1 * (z1 > 0)
dW1 = dz1 @ x.T
db1 = dz1
"""


def _shapes_of(result) -> dict:
    return {ln.name: ln.shape for ln in result.lines}


def _same_expr(text: str, reference: str, result, extra: dict | None = None) -> bool:
    """Parse both in NumPy style with the program's line shapes (and `extra` input shapes): the
    same names, and equal in canonical form or, failing that (an elementwise product in another
    order), equal in value at random arrays."""
    import numpy as np
    from matdiff.emit.numpy import compile_exprs, py_name

    shapes = {**_shapes_of(result), **(extra or {})}
    a = simplify(matdiff.read(text, shapes, style="numpy").expr)
    b = simplify(matdiff.read(reference, shapes, style="numpy").expr)
    if set(a.symbols()) != set(b.symbols()) or a.shape != b.shape:
        return False
    if a == b:
        return True
    symbols = {**a.symbols(), **b.symbols()}
    sizes: dict = {}
    rng = np.random.default_rng(0)
    arrays = {}
    for name, sym in symbols.items():
        dims = [d if isinstance(d, int) else sizes.setdefault(d, 3 + len(sizes))
                for d in (sym.shape.rows, sym.shape.cols)]
        value = rng.standard_normal(dims)
        arrays[py_name(name)] = value[:, 0] if dims[1] == 1 and not sym.shape.is_scalar else value
        if sym.shape.is_scalar:
            arrays[py_name(name)] = float(value[0, 0])
    va, vb = compile_exprs([a, b], list(symbols.values()))(**arrays)
    return bool(np.allclose(va, vb))


def _verdicts(result) -> dict:
    return {name: c.verdict for name, c in result.claims.items()}


def test_program_correct_relu_net():
    r = check_program(RELU_NET)
    assert r.ok
    assert _verdicts(r) == {n: "correct" for n in ("dz2", "dW2", "db2", "dh1", "dz1", "dW1", "db1")}
    assert [ln.number for ln in r.lines] == list(range(1, 12))
    assert r.loss == "loss"
    s = _shapes_of(r)
    assert s["loss"].is_scalar
    assert str(s["dW2"]) == str(r.claims["dW2"].variable.shape)
    assert str(s["dW1"]) == str(r.claims["dW1"].variable.shape)
    assert all(ln.check is None for ln in r.lines if ln.name in ("z1", "h1", "z2", "loss"))
    assert [ln.claim_of for ln in r.lines if ln.claim_of] == ["z2", "W2", "b2", "h1", "z1", "W1", "b1"]
    text = r.explain()
    assert text.count("✓ correct") == 7 and "✗" not in text


def test_program_transposed_dW2_answer_in_program_names():
    r = check_program(RELU_NET.replace("dW2 = dz2 @ h1.T", "dW2 = h1 @ dz2.T"))
    assert not r.ok
    v = _verdicts(r)
    assert v.pop("dW2") == "transposed"
    assert set(v.values()) == {"correct"}
    c = r.claims["dW2"]
    assert _same_expr(c.expected_text, "dz2 @ h1.T", r, {"W2": str(c.variable.shape)})
    text = r.explain()
    assert "line 6" in text and "✗ transposed" in text
    assert f"the correct dW2 is {c.expected_text}" in text


def test_program_missing_factor_2_downstream_judged_on_their_own():
    r = check_program(RELU_NET.replace("dz2 = 2 * (z2 - y)", "dz2 = (z2 - y)"))
    c = r.claims["dz2"]
    assert c.verdict == "scaled" and c.factor == pytest.approx(0.5)
    assert "(factor 0.5)" in c.explain()
    v = _verdicts(r)
    del v["dz2"]
    assert set(v.values()) == {"correct"}       # each later line as if dz2 were right
    assert not r.ok
    # the correct dz2 in the program's names: 2 (z2 − y)
    assert _same_expr(c.expected_text, "2 * (z2 - y)", r, {"y": str(r.lines[2].shape)})


def test_program_missing_relu_mask():
    r = check_program(RELU_NET.replace("dz1 = dh1 * (z1 > 0)", "dz1 = dh1"))
    assert r.claims["dz1"].verdict == "wrong"
    v = _verdicts(r)
    del v["dz1"]
    assert set(v.values()) == {"correct"}
    # the correct dz1 in the program's names: dh1 ⊙ relu'(z1)
    assert _same_expr(r.claims["dz1"].expected_text, "dh1 * (z1 > 0)", r)


def test_program_sigmoid_net_sigma_prime_of_wrong_layer():
    # square hidden layer so the output activation's σ' fits the hidden layer's shape
    text = """\
z1 = W1 @ x + b1
h1 = sigmoid(z1)
z2 = W2 @ h1 + b2
s2 = sigmoid(z2)
loss = sum((s2 - y)**2)
dz2 = 2 * (s2 - y) * s2 * (1 - s2)
dW2 = dz2 @ h1.T
dh1 = W2.T @ dz2
dz1 = dh1 * s2 * (1 - s2)
dW1 = dz1 @ x.T
"""
    r = check_program(text, shapes={"W1": ("n", "m"), "W2": ("n", "n")})
    v = _verdicts(r)
    assert v == {"dz2": "correct", "dW2": "correct", "dh1": "correct", "dz1": "wrong", "dW1": "correct"}
    c = r.claims["dz1"]
    # the hidden layer's own σ': dh1 ⊙ h1 ⊙ (1 − h1)
    assert _same_expr(c.expected_text, "dh1 * h1 * (1 - h1)", r)
    assert "line 9" in r.explain()


def test_program_sigmoid_net_sigma_prime_wrong_layer_shapes_differ():
    # with a k-wide output the output's σ' does not even fit the n-wide hidden layer
    text = """\
z1 = W1 @ x + b1
h1 = sigmoid(z1)
z2 = W2 @ h1 + b2
s2 = sigmoid(z2)
loss = sum((s2 - y)**2)
dz2 = 2 * (s2 - y) * sigmoid'(z2)
dh1 = W2.T @ dz2
dz1 = dh1 * s2 * (1 - s2)
dW1 = dz1 @ x.T
db1 = dz1
"""
    r = check_program(text, shapes={"W1": ("n", "m"), "W2": ("k", "n")})
    v = _verdicts(r)
    assert v == {"dz2": "correct", "dh1": "correct", "dz1": "shape", "dW1": "correct", "db1": "correct"}
    c = r.claims["dz1"]
    assert "line 8" in c.message and "^" in c.message
    assert "n×1" in c.explain()


def test_program_forward_line_does_not_fit():
    text = "z1 = W1 @ x + b1\nh1 = relu(z1)\nz2 = h1 @ W2 + b2\nloss = sum(z2)\n"
    with pytest.raises(ShapeError) as e:
        check_program(text, shapes={"W1": (4, 3), "W2": (2, 4)})
    err = e.value
    assert isinstance(err, MatdiffError)
    assert "line 3" in err.message
    rendered = err.render()
    assert "z2 = h1 @ W2 + b2" in rendered
    caret = [ln for ln in rendered.splitlines() if set(ln.strip()) == {"^"}]
    assert caret, rendered
    assert err.column == "z2 = h1 @ W2 + b2".index("h1 @ W2")


def test_program_claim_that_does_not_fit_later_lines_judged():
    r = check_program(RELU_NET.replace("dW2 = dz2 @ h1.T", "dW2 = dz2 @ h1"))
    c = r.claims["dW2"]
    assert c.verdict == "shape" and not c.ok
    assert "line 6" in c.message and "^" in c.message
    assert "the shape of W2" in c.explain() and str(c.variable.shape) in c.explain()
    assert _same_expr(c.expected_text, "dz2 @ h1.T", r, {"W2": str(c.variable.shape)})
    v = _verdicts(r)
    del v["dW2"]
    assert v == {"dz2": "correct", "db2": "correct", "dh1": "correct", "dz1": "correct",
                 "dW1": "correct", "db1": "correct"}


def test_program_comments_blank_lines_loss_name_grad_spelling_np_prefixes():
    text = """\
# a tanh layer and a squared error, in NumPy as people write it

z1 = W1 @ x + b1          # pre-activation
h1 = np.tanh(z1)
z2 = W2 @ h1 + b2
J = np.sum((z2 - y) ** 2) # the loss

# backward
grad_z2 = 2 * (z2 - y)
grad_W2 = grad_z2 @ h1.T
grad_h1 = W2.T @ grad_z2
grad_z1 = grad_h1 * (1 - h1 ** 2)
grad_W1 = grad_z1 @ x.T
grad_b1 = grad_h1 * (z1 > 0)
"""
    r = check_program(text, loss="J")
    assert r.loss == "J"
    assert [ln.number for ln in r.lines] == [3, 4, 5, 6, 9, 10, 11, 12, 13, 14]
    v = _verdicts(r)
    # relu' where tanh' is needed, in grad_b1
    assert v == {"grad_z2": "correct", "grad_W2": "correct", "grad_h1": "correct", "grad_z1": "correct",
                 "grad_W1": "correct", "grad_b1": "wrong"}
    assert "line 14" in r.explain()
    # b1 enters only through z1, so ∂J/∂b1 is the (correct) grad_z1 line
    assert _same_expr(r.claims["grad_b1"].expected_text, "grad_z1", r)
    with pytest.raises(MatdiffError):
        check_program(text)         # no line is named `loss`


def test_program_other_claim_spellings():
    text = "z = W @ x\nloss = sum(z**2)\ngrad z = 2 * z\ndL_dW = grad_z @ x.T\ndelta = 2 * z\n"
    r = check_program(text)
    assert _verdicts(r) == {"grad_z": "correct", "dL_dW": "correct"}   # delta is no claim (no `elta`)
    assert r.ok


def test_program_reassigned_name():
    """`z = z * 2` rebinds z, as NumPy code often does (h = relu(h)): either it is followed
    (loss = Σ(2Wx)², so dz = 2z of the last z and dW = 2 dz xᵀ are right) or it is refused
    with a MatdiffError; nothing else may escape."""
    text = "z = W @ x\nz = z * 2\nloss = sum(z**2)\ndz = 2 * z\ndW = 2 * dz @ x.T\n"
    try:
        r = check_program(text)
    except MatdiffError as e:
        assert "line 2" in e.message or "z" in e.message
    else:
        assert _verdicts(r) == {"dz": "correct", "dW": "correct"}


def test_program_claim_using_a_later_claim_is_a_matdiff_error():
    """dW uses dz before the line that defines dz: an error naming the line, not a NameError."""
    text = "z = W @ x\nloss = sum(z**2)\ndW = dz @ x.T\ndz = 2 * z\n"
    with pytest.raises(MatdiffError) as e:
        check_program(text)
    assert "line 3" in e.value.message or "dz" in e.value.message


def test_program_relu_mask_spellings_agree():
    for mask in ("(z1 > 0)", "relu'(z1)", "np.where(z1 > 0, 1, 0)"):
        r = check_program(RELU_NET.replace("(z1 > 0)", mask))
        assert r.claims["dz1"].verdict == "correct", mask


def test_program_loss_must_be_scalar():
    with pytest.raises(ShapeError):
        check_program("z = W @ x\nloss = z - y\ndz = z\n")


def test_program_not_an_assignment_points_at_line():
    with pytest.raises(ParseError) as e:
        check_program("z = W @ x\nloss = sum(z)\nprint(z)\n")
    assert "line 3" in e.value.message


# -- the command line -------------------------------------------------------------------------

def test_cli_check_correct_exit_0(capsys):
    code = main(["check", "sum((W @ x - y)**2)", "wrt", "W", "--claim", "2 * (W @ x - y) @ x.T"])
    out = capsys.readouterr().out
    assert code == 0
    assert "verdict: correct" in out


def test_cli_check_transposed_exit_1(capsys):
    code = main(["check", "sum((W @ x - y)**2)", "wrt", "W", "--claim", "2 * x @ (W @ x - y).T",
                 "--shape", "W=3,4", "--shape", "x=4", "--shape", "y=3"])
    out = capsys.readouterr().out
    assert code == 1
    assert "verdict: transposed" in out
    assert "4×3" in out and "3×4" in out


def test_cli_check_assume_symmetric(capsys):
    argv = ["check", "x.T @ A @ x", "wrt", "x", "--claim", "2 * A @ x", "--shape", "A=n,n"]
    assert main(argv) == 1
    assert "verdict: wrong" in capsys.readouterr().out
    assert main(argv + ["--assume", "A=symmetric"]) == 0
    assert "verdict: correct" in capsys.readouterr().out


def test_cli_check_scaled_prints_factor(capsys):
    code = main(["check", "sum((W @ x - y)**2)", "wrt", "W", "--claim", "(W @ x - y) @ x.T"])
    out = capsys.readouterr().out
    assert code == 1
    assert "verdict: scaled (factor 0.5)" in out


def test_cli_check_shape_claim_exit_1(capsys):
    code = main(["check", "sum((W @ x - y)**2)", "wrt", "W", "--claim", "2 * (W @ x - y) @ x",
                 "--shape", "W=3,4"])
    out = capsys.readouterr().out
    assert code == 1
    assert "verdict: shape" in out and "3×4" in out and "^" in out


def test_cli_program_ok_and_not(tmp_path, capsys):
    good = tmp_path / "good.py"
    good.write_text(RELU_NET, encoding="utf-8")
    assert main(["check", "--program", str(good)]) == 0
    out = capsys.readouterr().out
    assert "7 of 7 gradient lines correct" in out
    bad = tmp_path / "bad.py"
    bad.write_text(RELU_NET.replace("dW2 = dz2 @ h1.T", "dW2 = h1 @ dz2.T"), encoding="utf-8")
    assert main(["check", "--program", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "6 of 7 gradient lines correct; check dW2" in out
    assert "✗ transposed" in out


def test_cli_program_loss_option(tmp_path, capsys):
    f = tmp_path / "j.py"
    f.write_text("z = W @ x\nJ = sum(z**2)\ndz = 2 * z\ndW = dz @ x.T\n", encoding="utf-8")
    assert main(["check", "--program", str(f), "--loss", "J"]) == 0
    assert "2 of 2 gradient lines correct" in capsys.readouterr().out
    assert main(["check", "--program", str(f)]) == 1     # no `loss` line: an input error
    assert "loss" in capsys.readouterr().err


def test_cli_program_forward_error_exit_1(tmp_path, capsys):
    f = tmp_path / "bad_forward.py"
    f.write_text("z1 = W1 @ x\nz2 = z1 @ W2\nloss = sum(z2)\n", encoding="utf-8")
    assert main(["check", "--program", str(f), "--shape", "W1=4,3", "--shape", "W2=2,4"]) == 1
    err = capsys.readouterr().err
    assert "line 2" in err and "^" in err


def test_cli_program_missing_file_is_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "--program", str(tmp_path / "nope.py")])
    assert e.value.code == 2
    assert "nope.py" in capsys.readouterr().err


def test_cli_check_needs_claim(capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "sum((W @ x - y)**2)", "wrt", "W"])
    assert e.value.code == 2


TIED = """\
import numpy as np
z = W @ x
h = np.tanh(z)
out = W @ h            # the same W twice: its gradient has two parts
loss = np.sum((out - y)**2)
dout = 2 * (out - y)
dW = dout @ h.T
dh = W.T @ dout
dz = dh * (1 - h**2)
dW += dz @ x.T
"""


def test_program_augmented_assignment_accumulates():
    r = check_program(TIED, shapes={"W": ("n", "n")})
    assert _verdicts(r) == {"dout": "correct", "dW": "correct", "dh": "correct", "dz": "correct"}
    assert r.ok


@pytest.mark.parametrize("wrong, verdict", [("dW += dz @ x.T", "dW -= dz @ x.T"), ("dW += dz @ x.T", "dW *= dz @ x.T")])
def test_program_augmented_assignment_judged_as_a_whole(wrong, verdict):
    r = check_program(TIED.replace(wrong, verdict), shapes={"W": ("n", "n")})
    assert r.claims["dW"].verdict == "wrong"
    assert not r.ok


def test_program_augmented_assignment_error_points_into_its_line():
    r = check_program(TIED.replace("dW += dz @ x.T", "dW += dz @ x"), shapes={"W": ("n", "n")})
    c = r.claims["dW"]
    assert c.verdict == "shape"
    assert "line 10" in c.message
    lines = c.message.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip() == "dW += dz @ x")
    assert lines[at][lines[at + 1].index("^"):].startswith("dz @ x"), c.message


def test_program_augmented_assignment_needs_a_value():
    with pytest.raises(ParseError):
        check_program("loss = sum(x)\ndx += x\n")


# -- odd programs, long programs and the limits ------------------------------------------------------

@pytest.mark.parametrize("text, name, column", [
    ("loss = sum(x ** 2)\ndloss = dloss\n", "dloss", 8),            # Python: NameError
    ("loss = sum(x ** 2)\ndx = 2 * dx\n", "dx", 9),
    ("loss = sum(x ** 2)\ndx = 2 * dz\n", "dz", 9),                 # dz is never assigned
    ("z = W @ x\nloss = sum(z ** 2)\ndW = dz @ x.T\n", "dz", 5),
])
def test_program_name_without_a_value_is_a_parse_error_at_its_use(text, name, column):
    with pytest.raises(ParseError) as e:
        check_program(text)
    assert name in e.value.message and "line " in e.value.message
    assert e.value.column == column


def test_program_reassigned_input_keeps_its_value():
    """x = x / 2 with x an input: the input keeps its value, x is the line's from then on."""
    r = check_program("x = x * 2\nloss = sum(x ** 2)\ndx = 2 * x\n")
    assert _verdicts(r) == {"dx": "correct"}
    r = check_program("h = tanh(h)\nloss = sum(h ** 2)\ndh = 2 * h\n")
    assert _verdicts(r) == {"dh": "correct"}


def test_program_line_after_the_backward_pass_is_left_out():
    """W_new = W − η dW uses a gradient line: not part of the forward pass, not judged."""
    r = check_program(RELU_NET + "W1_new = W1 - 0.1 * dW1\n")
    assert r.ok and "W1_new" not in r.claims
    with pytest.raises(ParseError):
        check_program("z = W @ x\nloss = sum(z ** 2)\ndz = 2 * z\nloss = sum(dz)\n")


def test_program_transposed_gradient_used_by_later_lines():
    """dz1 written as a row: later lines are judged with the correct dz1 in the orientation they
    were written for, so only dz1 itself is wrong."""
    text = RELU_NET.replace("dz1 = dh1 * (z1 > 0)", "dz1 = (dh1 * (z1 > 0)).T") \
        .replace("dW1 = dz1 @ x.T", "dW1 = dz1.T @ x.T").replace("db1 = dz1", "db1 = dz1.T")
    r = check_program(text)
    v = _verdicts(r)
    assert v.pop("dz1") == "transposed" and set(v.values()) == {"correct"}


def _mlp_program(layers: int) -> str:
    lines = ["h0 = x"]
    for i in range(1, layers + 1):
        lines += [f"z{i} = W{i} @ h{i - 1} + b{i}", f"h{i} = tanh(z{i})"]
    lines += [f"loss = sum((h{layers} - y) ** 2)", f"dh{layers} = 2 * (h{layers} - y)"]
    for i in range(layers, 0, -1):
        lines += [f"dz{i} = dh{i} * (1 - h{i} ** 2)", f"dW{i} = dz{i} @ h{i - 1}.T", f"db{i} = dz{i}"]
        if i > 1:
            lines.append(f"dh{i - 1} = W{i}.T @ dz{i}")
    return "\n".join(lines) + "\n"


def test_program_of_1000_lines_is_checked_in_linear_time():
    """A 167-layer MLP with its backward pass (1000 lines): one reverse sweep, each line derived
    once, so twice the program takes about twice the time."""
    import time
    shapes = lambda layers: {"x": "n", "y": "n", **{f"W{i}": "n,n" for i in range(1, layers + 1)}}  # noqa: E731
    text = _mlp_program(167)
    assert len(text.splitlines()) >= 1000
    start = time.perf_counter()
    r = check_program(text.replace("dW166 = dz166 @ h165.T", "dW166 = h165 @ dz166.T"), shapes=shapes(167))
    long = time.perf_counter() - start
    v = _verdicts(r)
    assert v.pop("dW166") == "transposed" and set(v.values()) == {"correct"}
    start = time.perf_counter()
    check_program(_mlp_program(42), shapes=shapes(42))
    short = time.perf_counter() - start
    assert long < 20 and long / short < 8, (long, short)   # 4× the lines: linear is 4×


def test_program_limits_are_named():
    from matdiff import programs
    text = "\n".join(f"a{i} = x" for i in range(12)) + "\nloss = sum(x)\n"
    old = programs.MAX_PROGRAM_LINES
    programs.MAX_PROGRAM_LINES = 10
    try:
        with pytest.raises(ParseError) as e:
            check_program(text)
    finally:
        programs.MAX_PROGRAM_LINES = old
    assert "MAX_PROGRAM_LINES" in e.value.message and "line 11" in e.value.message
    assert check_program(text).loss == "loss"


@pytest.mark.parametrize("kwargs", [{"text": None}, {"text": "loss = sum(x)", "loss": 3},
                                    {"text": "loss = sum(x)", "shapes": [("x", 3)]},
                                    {"text": "loss = sum(x)", "assume": {"x": None}},
                                    {"text": "loss = sum(x)", "seed": "0"}])
def test_program_bad_arguments_are_matdiff_errors(kwargs):
    with pytest.raises(MatdiffError):
        check_program(**kwargs)


def test_claim_that_cannot_be_evaluated_is_wrong_not_a_numpy_error():
    r = check_gradient("sum(x ** 2)", "x", "inv(x @ x.T) @ x")
    assert r.verdict == "wrong" and not r.ok
    r = check_gradient("sum(X ** 2)", "X", "inv(X - X)", shapes={"X": "n,n"})
    assert r.verdict == "wrong"
