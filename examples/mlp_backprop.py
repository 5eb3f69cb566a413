"""Backpropagation for a two-layer tanh network, derived by matdiff and used for per-sample SGD."""

import sys

import numpy as np

import matdiff

LOSS = "sum((W2 @ tanh(W1 @ x + b1) + b2 - y)**2)"
PARAMS = ["W1", "b1", "W2", "b2"]
# d inputs, h hidden units, o outputs; x and y are one sample (vectors are 1-D arrays).
SHAPES = {"x": ("d",), "W1": ("h", "d"), "b1": ("h",), "W2": ("o", "h"), "b2": ("o",), "y": ("o",)}


def main() -> int:
    d = matdiff.derive(LOSS, wrt=PARAMS, shapes=SHAPES)
    print("loss: ℓ =", d.expr.to_unicode())
    print("\nthe backprop equations (one gradient per parameter, each shaped like it):")
    for name, g in d.gradient.items():
        print(f"  ∂ℓ/∂{name} = {g.to_unicode()}")
    report = d.verify()
    print(report)
    if not report.ok:
        return 1
    # The emitted code computes the forward pass once and shares it (CSE): that is backprop.
    print("\nemitted code:\n" + d.to_numpy())

    # A small regression task: y = sin(2 x₁) · cos(x₂) on [−1, 1]², 2 → 16 → 1.
    rng = np.random.default_rng(0)
    n, d_in, hidden, d_out = 200, 2, 16, 1
    X = rng.uniform(-1, 1, (n, d_in))
    Y = (np.sin(2 * X[:, 0]) * np.cos(X[:, 1]))[:, None]
    params = {"W1": rng.standard_normal((hidden, d_in)) / np.sqrt(d_in), "b1": np.zeros(hidden),
              "W2": rng.standard_normal((d_out, hidden)) / np.sqrt(hidden), "b2": np.zeros(d_out)}

    loss = d.value_function()
    gradient = d.gradient_function()

    def mean_loss() -> float:
        return float(np.mean([loss(x=x, y=y, **params) for x, y in zip(X, Y)]))

    start = mean_loss()
    print(f"epoch   0   mean loss = {start:.5f}")
    rate = 0.05
    for epoch in range(1, 61):
        if epoch == 40:
            rate = 0.01
        for i in rng.permutation(n):
            grads = gradient(x=X[i], y=Y[i], **params)
            for name, g in zip(PARAMS, grads, strict=True):
                params[name] = params[name] - rate * g
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}   mean loss = {mean_loss():.5f}")

    end = mean_loss()
    print(f"\nmean loss fell by a factor of {start / end:.0f} ({start:.5f} → {end:.5f})")
    if not start / end > 100:
        sys.exit(f"FAILED: the loss fell only by a factor of {start / end:.1f}, expected more than 100")
    print("ok: the loss fell by more than a factor of 100")
    return 0


if __name__ == "__main__":
    sys.exit(main())
