"""L2-regularised logistic regression trained by gradient descent on a gradient derived by matdiff."""

import sys

import numpy as np

import matdiff

# Labels y ∈ {−1, +1}; `lam` is a scalar by convention (spelled-out Greek names are scalars:
# lam, lambda, alpha, mu, …). softplus(z) is the overflow-free spelling of log(1 + exp(z)).
LOSS = "sum(log(1 + exp(-y * (X @ w)))) + lam * norm(w)**2"


def predict(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.where(X @ w >= 0, 1.0, -1.0)


def main() -> int:
    d = matdiff.derive(LOSS, wrt="w")
    print("read as:", d.reading.read_as)
    print("shapes: ", ", ".join(f"{name}: {s.shape}" for name, s in d.symbols.items()))
    print("∇_w f =", d.gradient)
    report = d.verify()
    print(report)
    if not report.ok:
        return 1
    print("\nemitted code:\n" + d.to_numpy())

    # Synthetic, nearly separable data: labels from a hidden linear rule plus a little noise.
    rng = np.random.default_rng(0)
    n, m = 400, 5
    w_true = rng.standard_normal(m)
    w_true /= np.linalg.norm(w_true)   # so the margins X @ w_true are N(0, 1) and the noise is 10 % of that

    def sample(count: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.standard_normal((count, m))
        return X, np.sign(X @ w_true + 0.1 * rng.standard_normal(count))

    X, y = sample(n)
    X_test, y_test = sample(1000)
    lam = 1e-2

    loss = d.value_function()
    gradient = d.gradient_function()
    # ∇f is Lipschitz with L ≤ ‖X‖₂²/4 + 2·lam (σ' ≤ 1/4): the step 1/L decreases the loss.
    step = 1.0 / (np.linalg.norm(X, 2) ** 2 / 4 + 2 * lam)
    w = np.zeros(m)
    history = []
    for it in range(301):
        history.append(loss(y=y, X=X, w=w, lam=lam))
        if it % 50 == 0:
            accuracy = np.mean(predict(X, w) == y)
            print(f"iteration {it:3d}   loss = {history[-1]:10.4f}   training accuracy = {accuracy:.3f}")
        w = w - step * gradient(y=y, X=X, w=w, lam=lam)

    accuracy = np.mean(predict(X, w) == y)
    test_accuracy = np.mean(predict(X_test, w) == y_test)
    cosine = w @ w_true / (np.linalg.norm(w) * np.linalg.norm(w_true))
    print(f"\nfinal loss {history[-1]:.4f} (from {history[0]:.4f}), accuracy {accuracy:.3f} "
          f"(held-out {test_accuracy:.3f}), "
          f"cos(w, w_true) = {cosine:.3f}")
    if not all(b <= a + 1e-12 for a, b in zip(history, history[1:])):
        sys.exit("FAILED: the loss did not decrease monotonically")
    if not (accuracy > 0.9 and test_accuracy > 0.9):
        sys.exit(f"FAILED: accuracy {accuracy:.3f} (held-out {test_accuracy:.3f}) is not above 0.9")
    print("ok: the loss decreased at every step and the accuracy (training and held-out) is above 0.9")
    return 0


if __name__ == "__main__":
    sys.exit(main())
