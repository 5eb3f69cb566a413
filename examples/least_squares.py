"""Least squares by gradient descent, with the gradient of ‖Ax − b‖² derived and emitted by matdiff."""

import sys

import numpy as np

import matdiff


def main() -> int:
    # 1. Derive. A is m×n data, x the n unknowns, b the m observations.
    d = matdiff.derive("norm(A @ x - b)**2", wrt="x", shapes={"A": ("m", "n"), "x": ("n",), "b": ("m",)})
    print("f(x)   =", d.expr.to_unicode())
    print("DF|x[v] =", d.directional.to_unicode())
    print("∇f(x)  =", d.gradient.to_unicode(), "    NumPy:", d.gradient)
    report = d.verify()
    print(report)
    if not report.ok:
        return 1
    print("\nemitted code:\n" + d.to_numpy())

    # 2. Solve an overdetermined system by gradient descent with the generated gradient.
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 8))
    b = A @ rng.standard_normal(8) + 0.1 * rng.standard_normal(60)
    gradient = d.gradient_function()
    f = d.value_function()

    # ∇f is Lipschitz with constant L = 2‖A‖₂²: the step 1/L makes each step decrease f.
    step = 1.0 / (2 * np.linalg.norm(A, 2) ** 2)
    x = np.zeros(8)
    for it in range(151):
        g = gradient(A=A, x=x, b=b)
        if it % 25 == 0:
            print(f"iteration {it:3d}   f(x) = {f(A=A, x=x, b=b):14.10f}   ‖∇f(x)‖ = {np.linalg.norm(g):.2e}")
        x = x - step * g

    # 3. Compare with the direct solver.
    x_ls, *_ = np.linalg.lstsq(A, b, rcond=None)
    print("\ngradient descent:", np.array2string(x, precision=6))
    print("np.linalg.lstsq: ", np.array2string(x_ls, precision=6))
    print(f"max |difference| = {np.max(np.abs(x - x_ls)):.2e}")
    np.testing.assert_allclose(x, x_ls, rtol=1e-8, atol=1e-10)
    print("ok: gradient descent agrees with np.linalg.lstsq")
    return 0


if __name__ == "__main__":
    sys.exit(main())
