"""Gradient identities in textbook form: one table row per identity, each checked two ways.

1. Form: the derived gradient equals, structurally, the textbook form parsed with the same
   shapes and assumptions (a tuple lists equivalent forms of no greater cost; any one will do).
2. Value: `verify()` passes, and the emitted gradient function agrees with a reference gradient
   written by hand in NumPy, at a random point of the function's domain (sizes n=3, m=4, k=5).

Equation numbers are those of The Matrix Cookbook (Petersen & Pedersen, version of
15 November 2012), as SymPy's matrix-derivative tests also cite them.
"""

from __future__ import annotations

import inspect
import keyword

import numpy as np
import pytest

import matdiff

SIZES = {"n": 3, "m": 4, "k": 5, "p": 6}
N, M, K, P = "n", "m", "k", "p"
VEC = {n: (N,) for n in "abcewxyzs"}


def _outer(u, v):
    return np.outer(u, v)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def row(name, expr, wrt, shapes, assume, expected, reference, domain=None):
    """A table row. `expected`: a text, a tuple of acceptable texts, or (for several variables)
    a dict variable -> text or tuple. `reference(**arrays)`: the gradient by hand (a tuple in
    the order of `wrt` for several variables). `domain`: name -> "spd" | "positive" where the
    function needs it (symbols assumed spd/symmetric are sampled so anyway)."""
    return pytest.param(expr, wrt, shapes, assume or {}, expected, reference, domain or {}, id=name)


TABLE = [
    # -- linear functions: the lecture's first examples --------------------------------------
    # Cookbook (69): ∂xᵀa/∂x = ∂aᵀx/∂x = a
    row("z.T@x", "z.T @ x", "x", {"z": (N,), "x": (N,)}, None, "z", lambda z, x: z),
    row("x.T@z", "x.T @ z", "x", {"z": (N,), "x": (N,)}, None, "z", lambda z, x: z),
    row("x.T@A.T@y wrt x", "x.T @ A.T @ y", "x", {"x": (N,), "A": (M, N), "y": (M,)}, None,
        "A.T @ y", lambda A, y: A.T @ y),
    # Cookbook (71): ∂aᵀXᵀb/∂X = b aᵀ
    row("x.T@A.T@y wrt A", "x.T @ A.T @ y", "A", {"x": (N,), "A": (M, N), "y": (M,)}, None,
        "y @ x.T", lambda x, y: _outer(y, x)),
    # Cookbook (70): ∂aᵀXb/∂X = a bᵀ
    row("a.T@X@b", "a.T @ X @ b", "X", {"a": (N,), "X": (N, M), "b": (M,)}, None,
        "a @ b.T", lambda a, b: _outer(a, b)),
    # Cookbook (72): ∂aᵀXa/∂X = a aᵀ
    row("a.T@X@a", "a.T @ X @ a", "X", {"a": (N,), "X": (N, N)}, None,
        "a @ a.T", lambda a: _outer(a, a)),
    # Cookbook (101): ∂tr(AXB)/∂X = AᵀBᵀ
    row("tr(AXC)", "trace(A @ X @ C)", "X", {"A": (N, M), "X": (M, K), "C": (K, N)}, None,
        "A.T @ C.T", lambda A, C: A.T @ C.T),
    row("tr(AXC) paper", "tr(AXC)", "X", {"A": (N, M), "X": (M, K), "C": (K, N)}, None,
        "A.T @ C.T", lambda A, C: A.T @ C.T),

    # -- quadratic forms ------------------------------------------------------------------------
    # Cookbook (81): ∂xᵀBx/∂x = (B + Bᵀ)x
    row("xTAx", "x.T @ A @ x", "x", {"x": (N,), "A": (N, N)}, None,
        "(A + A.T) @ x", lambda A, x: (A + A.T) @ x),
    row("xTAx paper", "xᵀAx", "x", {"x": (N,), "A": (N, N)}, None,
        "(A + A.T) @ x", lambda A, x: (A + A.T) @ x),
    row("xTAx A symmetric", "x.T @ A @ x", "x", {"x": (N,), "A": (N, N)}, {"A": "symmetric"},
        "2 * A @ x", lambda A, x: 2 * A @ x),
    # Cookbook (72)
    row("xTAx wrt A", "x.T @ A @ x", "A", {"x": (N,), "A": (N, N)}, None,
        "x @ x.T", lambda x: _outer(x, x)),
    row("xT inv(A) x, A spd", "x.T @ inv(A) @ x", "x", {"x": (N,), "A": (N, N)}, {"A": "spd"},
        "2 * inv(A) @ x", lambda A, x: 2 * np.linalg.solve(A, x)),
    # Cookbook (77): ∂bᵀXᵀXc/∂X = X(bcᵀ + cbᵀ)
    row("bT XT X c", "b.T @ X.T @ X @ c", "X", {"b": (N,), "X": (M, N), "c": (N,)}, None,
        ("X @ (b @ c.T + c @ b.T)", "X @ (c @ b.T + b @ c.T)", "X @ b @ c.T + X @ c @ b.T"),
        lambda X, b, c: X @ (_outer(b, c) + _outer(c, b))),
    # Cookbook (78): ∂(Bx + b)ᵀC(Dx + d)/∂x = BᵀC(Dx + d) + DᵀCᵀ(Bx + b)
    row("(Ax+b)T C (Dx+e)", "(A @ x + b).T @ C @ (D @ x + e)", "x",
        {"A": (N, M), "x": (M,), "b": (N,), "C": (N, K), "D": (K, M), "e": (K,)}, None,
        ("A.T @ C @ (D @ x + e) + D.T @ C.T @ (A @ x + b)",
         "D.T @ C.T @ (A @ x + b) + A.T @ C @ (D @ x + e)"),
        lambda A, x, b, C, D, e: A.T @ C @ (D @ x + e) + D.T @ C.T @ (A @ x + b)),
    # Cookbook (82): ∂bᵀXᵀDXc/∂X = DᵀXbcᵀ + DXcbᵀ
    row("bT XT D X c", "b.T @ X.T @ D @ X @ c", "X", {"b": (N,), "X": (M, N), "D": (M, M), "c": (N,)},
        None, ("D.T @ X @ b @ c.T + D @ X @ c @ b.T", "D @ X @ c @ b.T + D.T @ X @ b @ c.T"),
        lambda X, b, D, c: D.T @ X @ _outer(b, c) + D @ X @ _outer(c, b)),
    # Cookbook (83): ∂(Xb + c)ᵀD(Xb + c)/∂X = (D + Dᵀ)(Xb + c)bᵀ
    row("(Xb+c)T D (Xb+c)", "(X @ b + c).T @ D @ (X @ b + c)", "X",
        {"X": (N, M), "b": (M,), "c": (N,), "D": (N, N)}, None,
        "(D + D.T) @ (X @ b + c) @ b.T", lambda X, b, c, D: _outer((D + D.T) @ (X @ b + c), b)),
    # Cookbook (84), W symmetric: ∂/∂s (x − As)ᵀW(x − As) = −2AᵀW(x − As)
    row("(x-As)T W (x-As) wrt s", "(x - A @ s).T @ W @ (x - A @ s)", "s",
        {"x": (N,), "A": (N, M), "s": (M,), "W": (N, N)}, {"W": "symmetric"},
        "-2 * A.T @ W @ (x - A @ s)", lambda x, A, s, W: -2 * A.T @ W @ (x - A @ s)),
    # Cookbook (88), W symmetric: ∂/∂A (x − As)ᵀW(x − As) = −2W(x − As)sᵀ
    row("(x-As)T W (x-As) wrt A", "(x - A @ s).T @ W @ (x - A @ s)", "A",
        {"x": (N,), "A": (N, M), "s": (M,), "W": (N, N)}, {"W": "symmetric"},
        "-2 * W @ (x - A @ s) @ s.T", lambda x, A, s, W: -2 * _outer(W @ (x - A @ s), s)),
    # Cookbook (85), W symmetric: ∂/∂x (x − s)ᵀW(x − s) = 2W(x − s)
    row("(x-s)T W (x-s) wrt x", "(x - s).T @ W @ (x - s)", "x", {"x": (N,), "s": (N,), "W": (N, N)},
        {"W": "symmetric"}, "2 * W @ (x - s)", lambda x, s, W: 2 * W @ (x - s)),

    # -- machine learning -------------------------------------------------------------------------
    # σ(wᵀx + b): σ′ = σ(1 − σ)
    row("sigmoid(w.T@x+b) wrt w", "sigmoid(w.T @ x + b)", "w", {"w": (N,), "x": (N,), "b": ()}, None,
        ("sigmoid(w.T @ x + b) * (1 - sigmoid(w.T @ x + b)) * x",
         "sigmoid(b + w.T @ x) * (1 - sigmoid(b + w.T @ x)) * x"),
        lambda w, x, b: _sigmoid(w @ x + b) * (1 - _sigmoid(w @ x + b)) * x),
    row("σ(w·x+b) paper", "σ(w·x + b)", "w", {"w": (N,), "x": (N,), "b": ()}, None,
        ("sigmoid(w.T @ x + b) * (1 - sigmoid(w.T @ x + b)) * x",
         "sigmoid(b + w.T @ x) * (1 - sigmoid(b + w.T @ x)) * x"),
        lambda w, x, b: _sigmoid(w @ x + b) * (1 - _sigmoid(w @ x + b)) * x),
    row("sigmoid(w.T@x+b) wrt b", "sigmoid(w.T @ x + b)", "b", {"w": (N,), "x": (N,), "b": ()}, None,
        ("sigmoid(w.T @ x + b) * (1 - sigmoid(w.T @ x + b))",
         "sigmoid(b + w.T @ x) * (1 - sigmoid(b + w.T @ x))"),
        lambda w, x, b: _sigmoid(w @ x + b) * (1 - _sigmoid(w @ x + b))),
    # logistic regression: ∇ Σ log(1 + exp(−y ⊙ Xw)) = −Xᵀ(y ⊙ σ(−y ⊙ Xw))
    row("logistic regression", "sum(log(1 + exp(-y * (X @ w))))", "w",
        {"y": (N,), "X": (N, M), "w": (M,)}, None,
        ("-X.T @ (y * sigmoid(-y * (X @ w)))", "-X.T @ (sigmoid(-y * (X @ w)) * y)"),
        lambda y, X, w: -X.T @ (y * _sigmoid(-y * (X @ w)))),
    # softmax cross-entropy: −yᵀ log softmax(Wx) = −yᵀWx + (𝟙ᵀy) lse(Wx), so
    # ∇_W = ((𝟙ᵀy) softmax(Wx) − y) xᵀ   (= (softmax(Wx) − y) xᵀ for a one-hot y)
    row("softmax cross-entropy", "-y.T @ log(softmax(W @ x))", "W", {"y": (N,), "W": (N, M), "x": (M,)},
        None, "(sum(y) * softmax(W @ x) - y) @ x.T",
        lambda y, W, x: _outer(np.sum(y) * _softmax(W @ x) - y, x)),
    row("logsumexp(W@x) wrt W", "logsumexp(W @ x)", "W", {"W": (N, M), "x": (M,)}, None,
        "softmax(W @ x) @ x.T", lambda W, x: _outer(_softmax(W @ x), x)),
    # a layer: ∇_W Σ relu(Wx + b) = relu′(Wx + b) xᵀ, ∇_b = relu′(Wx + b)
    row("relu layer wrt W,b", "sum(relu(W @ x + b))", ["W", "b"], {"W": (N, M), "x": (M,), "b": (N,)},
        None, {"W": "step(W @ x + b) @ x.T", "b": "step(W @ x + b)"},
        lambda W, x, b: (_outer((W @ x + b > 0).astype(float), x), (W @ x + b > 0).astype(float))),
    row("sigmoid layer wrt W,b", "sum(sigmoid(W @ x + b))", "W, b", {"W": (N, M), "x": (M,), "b": (N,)},
        None, {"W": "(sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))) @ x.T",
               "b": "sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))"},
        lambda W, x, b: (_outer(_sigmoid(W @ x + b) * (1 - _sigmoid(W @ x + b)), x),
                         _sigmoid(W @ x + b) * (1 - _sigmoid(W @ x + b)))),
    # tanh′ = 1 − tanh²
    row("tanh layer wrt W", "sum(tanh(W @ x))", "W", {"W": (N, M), "x": (M,)}, None,
        "(1 - tanh(W @ x) ** 2) @ x.T", lambda W, x: _outer(1 - np.tanh(W @ x) ** 2, x)),
    # two layers, backprop: δ₂ = σ′(z₂), ∇W₂ = δ₂ hᵀ, δ₁ = (W₂ᵀδ₂) ⊙ tanh′(z₁), ∇W₁ = δ₁ xᵀ
    row("two-layer net wrt W1,W2", "sum(sigmoid(W2 @ tanh(W1 @ x)))", ["W1", "W2"],
        {"W1": (M, K), "W2": (N, M), "x": (K,)}, None,
        {"W1": ("((W2.T @ (sigmoid(W2 @ tanh(W1 @ x)) * (1 - sigmoid(W2 @ tanh(W1 @ x)))))"
                " * (1 - tanh(W1 @ x) ** 2)) @ x.T",
                "((1 - tanh(W1 @ x) ** 2) * (W2.T @ (sigmoid(W2 @ tanh(W1 @ x))"
                " * (1 - sigmoid(W2 @ tanh(W1 @ x)))))) @ x.T"),
         "W2": "(sigmoid(W2 @ tanh(W1 @ x)) * (1 - sigmoid(W2 @ tanh(W1 @ x)))) @ tanh(W1 @ x).T"},
        lambda W1, W2, x: _two_layer(W1, W2, x)),
    # least squares
    row("least squares wrt x", "norm(A @ x - b)**2", "x", {"A": (N, M), "x": (M,), "b": (N,)}, None,
        "2 * A.T @ (A @ x - b)", lambda A, x, b: 2 * A.T @ (A @ x - b)),
    row("least squares paper", "‖Ax − b‖²", "x", {"A": (N, M), "x": (M,), "b": (N,)}, None,
        "2 * A.T @ (A @ x - b)", lambda A, x, b: 2 * A.T @ (A @ x - b)),
    row("least squares wrt A", "norm(A @ x - b)**2", "A", {"A": (N, M), "x": (M,), "b": (N,)}, None,
        "2 * (A @ x - b) @ x.T", lambda A, x, b: 2 * _outer(A @ x - b, x)),
    row("squared error wrt W,x", "norm(W @ x - y)**2", ["W", "x"], {"W": (N, M), "x": (M,), "y": (N,)},
        None, {"W": "2 * (W @ x - y) @ x.T", "x": "2 * W.T @ (W @ x - y)"},
        lambda W, x, y: (2 * _outer(W @ x - y, x), 2 * W.T @ (W @ x - y))),
    row("sum of squares wrt W", "sum((W @ x - y)**2)", "W", {"W": (N, M), "x": (M,), "y": (N,)}, None,
        "2 * (W @ x - y) @ x.T", lambda W, x, y: 2 * _outer(W @ x - y, x)),
    row("ridge wrt x", "norm(A @ x - b)**2 + lambda * norm(x)**2", "x",
        {"A": (N, M), "x": (M,), "b": (N,), "lambda": ()}, None,
        ("2 * A.T @ (A @ x - b) + 2 * lambda * x", "2 * lambda * x + 2 * A.T @ (A @ x - b)",
         "2 * (A.T @ (A @ x - b) + lambda * x)"),
        lambda A, x, b, lambda_: 2 * A.T @ (A @ x - b) + 2 * lambda_ * x),
    row("ridge wrt lambda", "norm(A @ x - b)**2 + lambda * norm(x)**2", "lambda",
        {"A": (N, M), "x": (M,), "b": (N,), "lambda": ()}, None,
        ("norm(x) ** 2", "x.T @ x"), lambda x: x @ x),

    # -- traces: Cookbook §2.5 --------------------------------------------------------------------
    # (99) ∂tr(X)/∂X = I
    row("tr(X)", "trace(X)", "X", {"X": (N, N)}, None, "eye(n)", lambda X: np.eye(len(X))),
    # (100) ∂tr(XA)/∂X = Aᵀ
    row("tr(AX)", "trace(A @ X)", "X", {"A": (N, M), "X": (M, N)}, None, "A.T", lambda A: A.T),
    row("tr(XA)", "trace(X @ A)", "X", {"X": (N, M), "A": (M, N)}, None, "A.T", lambda A: A.T),
    # (103) ∂tr(XᵀA)/∂X = A
    row("tr(XTA)", "trace(X.T @ A)", "X", {"X": (N, M), "A": (N, M)}, None, "A", lambda A: A),
    # (104) ∂tr(AXᵀ)/∂X = A
    row("tr(AXT)", "trace(A @ X.T)", "X", {"A": (N, M), "X": (N, M)}, None, "A", lambda A: A),
    # (102) ∂tr(AXᵀB)/∂X = BA
    row("tr(AXTB)", "trace(A @ X.T @ B)", "X", {"A": (N, M), "X": (K, M), "B": (K, N)}, None,
        "B @ A", lambda A, B: B @ A),
    # (106) ∂tr(X²)/∂X = 2Xᵀ
    row("tr(XX)", "trace(X @ X)", "X", {"X": (N, N)}, None, "2 * X.T", lambda X: 2 * X.T),
    # (107) ∂tr(X²B)/∂X = (XB + BX)ᵀ
    row("tr(XXB)", "trace(X @ X @ B)", "X", {"X": (N, N), "B": (N, N)}, None,
        ("(X @ B + B @ X).T", "X.T @ B.T + B.T @ X.T", "B.T @ X.T + X.T @ B.T"),
        lambda X, B: (X @ B + B @ X).T),
    # (108) ∂tr(XᵀBX)/∂X = BX + BᵀX
    row("tr(XTBX)", "trace(X.T @ B @ X)", "X", {"X": (N, M), "B": (N, N)}, None,
        ("(B + B.T) @ X", "B @ X + B.T @ X"), lambda X, B: (B + B.T) @ X),
    row("tr(XTBX) B symmetric", "trace(X.T @ B @ X)", "X", {"X": (N, M), "B": (N, N)},
        {"B": "symmetric"}, "2 * B @ X", lambda X, B: 2 * B @ X),
    # (111) ∂tr(XBXᵀ)/∂X = XBᵀ + XB
    row("tr(XBXT)", "trace(X @ B @ X.T)", "X", {"X": (N, M), "B": (M, M)}, None,
        ("X @ (B + B.T)", "X @ (B.T + B)", "X @ B.T + X @ B", "X @ B + X @ B.T"),
        lambda X, B: X @ (B + B.T)),
    # (115) ∂tr(XᵀX)/∂X = ∂tr(XXᵀ)/∂X = 2X
    row("tr(XTX)", "trace(X.T @ X)", "X", {"X": (N, M)}, None, "2 * X", lambda X: 2 * X),
    row("tr(XXT)", "trace(X @ X.T)", "X", {"X": (N, M)}, None, "2 * X", lambda X: 2 * X),
    # (114) ∂tr(AXBX)/∂X = AᵀXᵀBᵀ + BᵀXᵀAᵀ
    row("tr(AXBX)", "trace(A @ X @ B @ X)", "X", {"A": (N, M), "X": (M, N), "B": (N, M)}, None,
        ("A.T @ X.T @ B.T + B.T @ X.T @ A.T", "B.T @ X.T @ A.T + A.T @ X.T @ B.T"),
        lambda A, X, B: A.T @ X.T @ B.T + B.T @ X.T @ A.T),
    # (116) ∂tr(BᵀXᵀCXB)/∂X = CᵀXBBᵀ + CXBBᵀ
    row("tr(BT XT C X B)", "trace(B.T @ X.T @ C @ X @ B)", "X", {"B": (N, M), "X": (K, N), "C": (K, K)},
        None, ("(C + C.T) @ X @ B @ B.T", "C.T @ X @ B @ B.T + C @ X @ B @ B.T",
               "C @ X @ B @ B.T + C.T @ X @ B @ B.T"),
        lambda B, X, C: (C + C.T) @ X @ B @ B.T),
    # (117) ∂tr(XᵀBXC)/∂X = BXC + BᵀXCᵀ
    row("tr(XT B X C)", "trace(X.T @ B @ X @ C)", "X", {"X": (N, M), "B": (N, N), "C": (M, M)}, None,
        ("B @ X @ C + B.T @ X @ C.T", "B.T @ X @ C.T + B @ X @ C"),
        lambda X, B, C: B @ X @ C + B.T @ X @ C.T),
    # (117) again, as tr(AXBXᵀ) = tr(XᵀAXB): AXB + AᵀXBᵀ
    row("tr(AXBXT)", "trace(A @ X @ B @ X.T)", "X", {"A": (N, N), "X": (N, M), "B": (M, M)}, None,
        ("A @ X @ B + A.T @ X @ B.T", "A.T @ X @ B.T + A @ X @ B"),
        lambda A, X, B: A @ X @ B + A.T @ X @ B.T),
    # (118) ∂tr(AXBXᵀC)/∂X = AᵀCᵀXBᵀ + CAXB
    row("tr(AXBXTC)", "trace(A @ X @ B @ X.T @ C)", "X",
        {"A": (N, M), "X": (M, K), "B": (K, K), "C": (M, N)}, None,
        ("A.T @ C.T @ X @ B.T + C @ A @ X @ B", "C @ A @ X @ B + A.T @ C.T @ X @ B.T"),
        lambda A, X, B, C: A.T @ C.T @ X @ B.T + C @ A @ X @ B),
    # (119) ∂tr((AXB + C)(AXB + C)ᵀ)/∂X = 2Aᵀ(AXB + C)Bᵀ
    row("tr((AXB+C)(AXB+C)T)", "trace((A @ X @ B + C) @ (A @ X @ B + C).T)", "X",
        {"A": (N, M), "X": (M, K), "B": (K, P), "C": (N, P)}, None,
        "2 * A.T @ (A @ X @ B + C) @ B.T", lambda A, X, B, C: 2 * A.T @ (A @ X @ B + C) @ B.T),
    # Σ diag(X) = tr(X)
    row("sum(diag(X))", "sum(diag(X))", "X", {"X": (N, N)}, None, "eye(n)", lambda X: np.eye(len(X))),
    row("sum(diag(AX))", "sum(diag(A @ X))", "X", {"A": (N, M), "X": (M, N)}, None, "A.T",
        lambda A: A.T),

    # -- inverses: Cookbook §2.2 and (124) ----------------------------------------------------------
    # (124) with A = I: ∂tr(X⁻¹B)/∂X = −X⁻ᵀBᵀX⁻ᵀ
    row("tr(inv(X)A)", "trace(inv(X) @ A)", "X", {"X": (N, N), "A": (N, N)}, None,
        "-inv(X.T) @ A.T @ inv(X.T)", lambda X, A: -_inv(X.T) @ A.T @ _inv(X.T), {"X": "spd"}),
    # (124) ∂tr(AX⁻¹B)/∂X = −X⁻ᵀAᵀBᵀX⁻ᵀ
    row("tr(A inv(X) B)", "trace(A @ inv(X) @ B)", "X", {"A": (N, M), "X": (M, M), "B": (M, N)}, None,
        "-inv(X.T) @ A.T @ B.T @ inv(X.T)", lambda A, X, B: -_inv(X.T) @ A.T @ B.T @ _inv(X.T),
        {"X": "spd"}),
    # (61) ∂aᵀX⁻¹b/∂X = −X⁻ᵀabᵀX⁻ᵀ
    row("aT inv(X) b", "a.T @ inv(X) @ b", "X", {"a": (N,), "X": (N, N), "b": (N,)}, None,
        "-inv(X.T) @ a @ b.T @ inv(X.T)", lambda a, X, b: -_inv(X.T) @ _outer(a, b) @ _inv(X.T),
        {"X": "spd"}),
    # (64) ∂tr((X + A)⁻¹)/∂X = −((X + A)⁻¹(X + A)⁻¹)ᵀ; with A = 0 for the first row
    row("tr(inv(X))", "trace(inv(X))", "X", {"X": (N, N)}, None,
        "-inv(X.T) @ inv(X.T)", lambda X: -_inv(X.T) @ _inv(X.T), {"X": "spd"}),
    row("tr(inv(X+A))", "trace(inv(X + A))", "X", {"X": (N, N), "A": (N, N)}, None,
        ("-inv((X + A).T) @ inv((X + A).T)", "-inv(X.T + A.T) @ inv(X.T + A.T)"),
        lambda X, A: -_inv((X + A).T) @ _inv((X + A).T), {"X": "spd", "A": "spd"}),

    # -- determinants: Cookbook §2.1.2 ------------------------------------------------------------
    # (49) ∂det(X)/∂X = det(X) X⁻ᵀ
    row("det(X)", "det(X)", "X", {"X": (N, N)}, None, "det(X) * inv(X.T)",
        lambda X: np.linalg.det(X) * _inv(X.T), {"X": "spd"}),
    # (51) ∂det(AXB)/∂X = det(AXB) X⁻ᵀ (A, X, B square and invertible)
    row("det(AXB)", "det(A @ X @ B)", "X", {"A": (N, N), "X": (N, N), "B": (N, N)}, None,
        "det(A @ X @ B) * inv(X.T)", lambda A, X, B: np.linalg.det(A @ X @ B) * _inv(X.T),
        {"A": "spd", "X": "spd", "B": "spd"}),
    # (57) ∂ln|det X|/∂X = X⁻ᵀ
    row("logdet(X)", "logdet(X)", "X", {"X": (N, N)}, None, "inv(X.T)", lambda X: _inv(X.T),
        {"X": "spd"}),
    row("log det X paper", "log det X", "X", {"X": (N, N)}, None, "inv(X.T)", lambda X: _inv(X.T),
        {"X": "spd"}),
    row("logdet(X) X spd", "logdet(X)", "X", {"X": (N, N)}, {"X": "spd"}, "inv(X)", lambda X: _inv(X)),
    # (55) ∂ln det(XᵀX)/∂X = 2(X⁺)ᵀ = 2X(XᵀX)⁻¹ for X of full column rank (X: m×n, m > n)
    row("logdet(XTX)", "logdet(X.T @ X)", "X", {"X": (M, N)}, None, "2 * X @ inv(X.T @ X)",
        lambda X: 2 * np.linalg.pinv(X).T),
    # Gaussian log-likelihood in the precision X (S the sample covariance): on symmetric
    # matrices ∇(log det X − tr(SX)) = X⁻¹ − S
    row("logdet(X) - tr(SX), X spd", "logdet(X) - trace(S @ X)", "X", {"X": (N, N), "S": (N, N)},
        {"X": "spd", "S": "symmetric"}, "inv(X) - S", lambda X, S: _inv(X) - S),

    # log|det(AXB)| = log|det A| + log|det X| + log|det B|, so by (57) the gradient is X⁻ᵀ
    row("logdet(AXB)", "logdet(A @ X @ B)", "X", {"A": (N, N), "X": (N, N), "B": (N, N)}, None,
        "inv(X.T)", lambda X: _inv(X.T), {"A": "spd", "X": "spd", "B": "spd"}),

    # -- norms: Cookbook §2.6, §2.7 ---------------------------------------------------------------
    row("norm(X)", "norm(X)", "X", {"X": (N, M)}, None, "X / norm(X)", lambda X: X / np.linalg.norm(X)),
    # ∂‖X‖²_F/∂X = 2X   (§2.7.1, Frobenius)
    row("norm(X)**2", "norm(X)**2", "X", {"X": (N, M)}, None, "2 * X", lambda X: 2 * X),
    row("norm(x)", "norm(x)", "x", {"x": (N,)}, None, "x / norm(x)", lambda x: x / np.linalg.norm(x)),
    # (129) ∂‖x − a‖₂/∂x = (x − a)/‖x − a‖₂
    row("norm(x-a)", "norm(x - a)", "x", {"x": (N,), "a": (N,)}, None, "(x - a) / norm(x - a)",
        lambda x, a: (x - a) / np.linalg.norm(x - a)),
    # (131) ∂‖x‖²₂/∂x = 2x
    row("norm(x)**2", "norm(x)**2", "x", {"x": (N,)}, None, "2 * x", lambda x: 2 * x),
    row("x.T@x", "x.T @ x", "x", {"x": (N,)}, None, "2 * x", lambda x: 2 * x),

    # -- sums of elementwise functions ------------------------------------------------------------
    row("sum(exp(x))", "sum(exp(x))", "x", {"x": (N,)}, None, "exp(x)", lambda x: np.exp(x)),
    row("sum(x*x)", "sum(x * x)", "x", {"x": (N,)}, None, "2 * x", lambda x: 2 * x),
    row("sum(log(x))", "sum(log(x))", "x", {"x": (N,)}, None, "1 / x", lambda x: 1 / x,
        {"x": "positive"}),
    row("sum(sqrt(x))", "sum(sqrt(x))", "x", {"x": (N,)}, None, ("1 / (2 * sqrt(x))", "0.5 / sqrt(x)"),
        lambda x: 0.5 / np.sqrt(x), {"x": "positive"}),
    row("sum(x**3)", "sum(x ** 3)", "x", {"x": (N,)}, None, "3 * x ** 2", lambda x: 3 * x ** 2),
    row("sum(1/x)", "sum(1 / x)", "x", {"x": (N,)}, None, "-1 / x ** 2", lambda x: -1 / x ** 2,
        {"x": "positive"}),
    row("sum(softplus(x))", "sum(softplus(x))", "x", {"x": (N,)}, None, "sigmoid(x)",
        lambda x: _sigmoid(x)),
    row("sum(abs(x))", "sum(abs(x))", "x", {"x": (N,)}, None, "sign(x)", lambda x: np.sign(x)),
    # ∇ logsumexp(x) = softmax(x)
    row("logsumexp(x)", "logsumexp(x)", "x", {"x": (N,)}, None, "softmax(x)", lambda x: _softmax(x)),
    # xᵀ diag(a) x = Σ aᵢxᵢ²
    row("xT diag(a) x wrt x", "x.T @ diag(a) @ x", "x", {"x": (N,), "a": (N,)}, None,
        ("2 * a * x", "2 * diag(a) @ x"), lambda x, a: 2 * a * x),
    row("xT diag(a) x wrt a", "x.T @ diag(a) @ x", "a", {"x": (N,), "a": (N,)}, None,
        ("x * x", "x ** 2"), lambda x: x * x),

    # -- scalar variables and several variables -------------------------------------------------------
    row("α xTx wrt α", "α * x.T @ x", "α", {"α": (), "x": (N,)}, None, ("x.T @ x", "norm(x) ** 2"),
        lambda x: x @ x),
    row("α xTx wrt x", "α * x.T @ x", "x", {"α": (), "x": (N,)}, None, "2 * α * x",
        lambda α, x: 2 * α * x),
    row("α xTx wrt α,x", "α * x.T @ x", ["α", "x"], {"α": (), "x": (N,)}, None,
        {"α": ("x.T @ x", "norm(x) ** 2"), "x": "2 * α * x"}, lambda α, x: (x @ x, 2 * α * x)),
    row("sum(exp(αx)) wrt α", "sum(exp(α * x))", "α", {"α": (), "x": (N,)}, None,
        ("x.T @ exp(α * x)", "sum(x * exp(α * x))", "sum(exp(α * x) * x)"),
        lambda α, x: x @ np.exp(α * x)),
    row("xTAy wrt x,y,A", "x.T @ A @ y", ["x", "y", "A"], {"x": (N,), "A": (N, M), "y": (M,)}, None,
        {"x": "A @ y", "y": "A.T @ x", "A": "x @ y.T"},
        lambda x, A, y: (A @ y, A.T @ x, _outer(x, y))),
]


def _inv(X):
    return np.linalg.inv(X)


def _two_layer(W1, W2, x):
    h = np.tanh(W1 @ x)
    s = _sigmoid(W2 @ h)
    d2 = s * (1 - s)
    d1 = (W2.T @ d2) * (1 - h ** 2)
    return np.outer(d1, x), np.outer(d2, h)


# -- sampling -------------------------------------------------------------------------------------

def _sample(shapes: dict, assume: dict, domain: dict, rng) -> dict:
    """Arrays for the declared shapes: SPD / symmetric / positive where needed, else N(0, 1)."""
    out = {}
    for name, spec in shapes.items():
        shape = tuple(SIZES[d] for d in spec)
        props = assume.get(name, "")
        kind = domain.get(name) or ("spd" if "spd" in props else "symmetric" if "symmetric" in props else "")
        if kind == "spd":
            G = rng.normal(size=shape)
            a = G @ G.T + shape[0] * np.eye(shape[0])
        elif kind == "symmetric":
            G = rng.normal(size=shape)
            a = (G + G.T) / 2
        elif kind == "positive":
            a = rng.uniform(0.5, 2.0, size=shape)
        else:
            a = rng.normal(size=shape)
        out[name] = float(a) if shape == () else a
    return out


def _kw(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) else name


def _call(fn, arrays: dict):
    wanted = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in arrays.items() if k in wanted})


# -- the test -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, wrt, shapes, assume, expected, reference, domain", TABLE)
def test_identity(expr, wrt, shapes, assume, expected, reference, domain):
    d = matdiff.derive(expr, wrt, shapes=shapes, assume=assume or None)
    names = [w for w in wrt.replace(",", " ").split()] if isinstance(wrt, str) else list(wrt)

    # (1) the form: the textbook text, parsed with the same shapes and assumptions
    sym_shapes = {n: s.shape for n, s in d.symbols.items()}
    grads = d.gradient if len(names) > 1 else {names[0]: d.gradient}
    wants = expected if isinstance(expected, dict) else {names[0]: expected}
    form_errors = []
    for name in names:
        options = wants[name] if isinstance(wants[name], tuple) else (wants[name],)
        parsed = [matdiff.parse(t, shapes=sym_shapes, assume=assume or None) for t in options]
        if not any(grads[name] == p for p in parsed):
            form_errors.append(f"∇_{name}: produced {grads[name]}; expected "
                               + " or ".join(str(p) for p in parsed))

    # (2a) matdiff's own finite-difference check
    report = d.verify()

    # (2b) the emitted gradient against a hand-written reference, at a random domain point
    rng = np.random.default_rng(20240607)
    arrays = {_kw(n): a for n, a in _sample(shapes, assume, domain, rng).items()}
    got = d.gradient_function()(**arrays)
    want = _call(reference, arrays)
    if len(names) == 1:
        got, want = (got,), (want,)
    assert len(got) == len(names)
    value_errors = []
    for name, g, w in zip(names, got, want, strict=True):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-8):
            value_errors.append(f"∇_{name}: emitted gradient {g.round(6).tolist()} "
                                f"!= reference {w.round(6).tolist()}")

    # every problem of the row at once: a wrong form must not hide a wrong value
    problems = form_errors + ([] if report.ok else [str(report)]) + value_errors
    assert not problems, "\n".join(problems)


def test_table_size():
    assert len(TABLE) >= 45
