"""Time of derive() + gradient over a table of identities, and the emitted gradients' speed against
hand-written NumPy at n = 1000.   python benchmarks/bench_derive.py [--full] [--n N] [--blas-threads K]"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import header, median_time, ms, paired_median_times

# (label, expression, wrt, assume): textbook identities (most are in the Matrix Cookbook) and the
# losses people actually differentiate. Shapes are inferred by convention.
CASES = [
    ("linear form", "a.T @ x", "x", None),
    ("quadratic form", "x.T @ A @ x", "x", None),
    ("quadratic form, A symmetric", "x.T @ A @ x", "x", {"A": "symmetric"}),
    ("quadratic form wrt A", "x.T @ A @ x", "A", None),
    ("bilinear form", "a.T @ X @ b", "X", None),
    ("bilinear form, Xᵀ", "a.T @ X.T @ b", "X", None),
    ("tr(AX)", "trace(A @ X)", "X", None),
    ("tr(XA)", "trace(X @ A)", "X", None),
    ("tr(AXB)", "trace(A @ X @ B)", "X", None),
    ("tr(AXᵀB)", "trace(A @ X.T @ B)", "X", None),
    ("tr(XᵀX)", "trace(X.T @ X)", "X", None),
    ("tr(X²)", "trace(X @ X)", "X", None),
    ("tr(XᵀAX)", "trace(X.T @ A @ X)", "X", None),
    ("tr(XAXᵀ)", "trace(X @ A @ X.T)", "X", None),
    ("tr(XᵀAXB)", "trace(X.T @ A @ X @ B)", "X", None),
    ("tr(X⁻¹)", "trace(inv(X))", "X", None),
    ("tr(AX⁻¹B)", "trace(A @ inv(X) @ B)", "X", None),
    ("aᵀX⁻¹b", "a.T @ inv(X) @ b", "X", None),
    ("log det X", "logdet(X)", "X", None),
    ("det X", "det(X)", "X", None),
    ("log det XᵀX", "logdet(X.T @ X)", "X", None),
    ("‖x‖²", "norm(x)**2", "x", None),
    ("‖x‖", "norm(x)", "x", None),
    ("least squares", "norm(A @ x - b)**2", "x", None),
    ("least squares wrt A", "norm(A @ x - b)**2", "A", None),
    ("matrix factorisation", "norm(X - A @ B)**2", "A, B", None),
    ("‖AXB − C‖²_F", "norm(A @ X @ B - C)**2", "X", None),
    ("ridge regression", "norm(X @ W - Y)**2 + lam * norm(W)**2", "W", None),
    ("lasso objective", "norm(X @ w - y)**2 + lam * sum(abs(w))", "w", None),
    ("Mahalanobis", "x.T @ inv(S) @ x", "x", {"S": "spd"}),
    ("Gaussian NLL wrt Σ", "0.5 * (x - m).T @ inv(S) @ (x - m) + 0.5 * logdet(S)", "S", {"S": "spd"}),
    ("Gaussian NLL wrt μ", "0.5 * (x - m).T @ inv(S) @ (x - m) + 0.5 * logdet(S)", "m", {"S": "spd"}),
    ("matrix Gaussian wrt M", "trace((X - M).T @ inv(S) @ (X - M))", "M", {"S": "spd"}),
    ("logistic regression", "sum(log(1 + exp(-y * (X @ w)))) + lam * norm(w)**2", "w", None),
    ("logistic, softplus", "sum(softplus(-y * (X @ w)))", "w", None),
    ("log-likelihood, σ", "sum(log(sigmoid(y * (X @ w))))", "w", None),
    ("softmax cross-entropy", "logsumexp(W @ x) - y.T @ W @ x", "W", None),
    ("softmax output", "y.T @ softmax(W @ x)", "W", None),
    ("sigmoid layer", "sum(sigmoid(W @ x + b))", "W, b", None),
    ("two-layer tanh net", "sum((W2 @ tanh(W1 @ x + b1) + b2 - y)**2)", "W1, b1, W2, b2", None),
    ("two-layer relu net", "sum((W2 @ relu(W1 @ x + b1) + b2 - y)**2)", "W1, b1, W2, b2", None),
    ("Σ exp(Ax)", "sum(exp(A @ x))", "x", None),
    ("Rayleigh quotient", "(x.T @ A @ x) / (x.T @ x)", "x", None),
    ("negative entropy", "sum(x * log(x))", "x", None),
]


def _show(gradient) -> str:
    if isinstance(gradient, dict):
        return "; ".join(f"{k}: {v}" for k, v in gradient.items())
    return str(gradient)


def derive_table(full: bool) -> None:
    import matdiff

    start = time.perf_counter()
    matdiff.derive("x.T @ A @ x", "x").gradient
    first = time.perf_counter() - start
    print(f"first derive() in this process: {ms(first)} (imports, builds the parser); then, per expression,")
    print("the median of 7 fresh derive(...).gradient calls (parse + jvp + transpose + simplify):\n")
    print(f"{'identity':28s} {'time':>11s}  {'verify':>14s}  gradient")
    times, failed = [], []
    for label, text, wrt, assume in CASES:
        t = median_time(lambda: matdiff.derive(text, wrt, assume=assume).gradient, repeat=7, warmup=1)
        times.append(t)
        d = matdiff.derive(text, wrt, assume=assume)
        report = d.verify()
        if not report.ok:
            failed.append(label)
        shown = _show(d.gradient)
        if not full and len(shown) > 90:
            shown = shown[:89] + "…"
        status = f"{'ok' if report.ok else 'FAILED'} {report.max_rel_error:.0e}"
        print(f"{label:28s} {ms(t)}  {status:>14s}  {shown}")
    print()
    print(f"{len(CASES)} expressions: median {ms(statistics.median(times)).strip()}, "
          f"mean {ms(statistics.mean(times)).strip()}, max {ms(max(times)).strip()}, "
          f"total {ms(sum(times)).strip()}")
    print(f"verify(): {len(CASES) - len(failed)} of {len(CASES)} ok"
          + (f"; failed: {', '.join(failed)}" if failed else ""))


# -- emitted code against hand-written NumPy ---------------------------------------------------------

def _sigmoid(z):
    import numpy as np
    return 0.5 * (1 + np.tanh(0.5 * z))   # overflow-free


def speed_cases(n: int):
    """(label, expression, wrt, inputs, hand-written gradient, what the hand version does)."""
    import numpy as np
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    x, b = rng.standard_normal(n), rng.standard_normal(n)
    X = rng.standard_normal((n, n)) / np.sqrt(n)
    y = np.sign(rng.standard_normal(n))
    S = X @ X.T + np.eye(n)
    W1, W2 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal((n, n)) / np.sqrt(n)
    b1, b2 = rng.standard_normal(n), rng.standard_normal(n)

    def mlp(W1, b1, W2, b2, x, y):
        h = np.tanh(W1 @ x + b1)
        r = 2 * (W2 @ h + b2 - y)
        g = (W2.T @ r) * (1 - h * h)
        return np.outer(g, x), g, np.outer(r, h), r

    return [
        ("xᵀAx", "x.T @ A @ x", "x", dict(x=x, A=A),
         lambda: A @ x + A.T @ x, "A @ x + A.T @ x"),
        ("least squares", "norm(A @ x - b)**2", "x", dict(A=A, x=x, b=b),
         lambda: 2 * (A.T @ (A @ x - b)), "2 * (A.T @ (A @ x - b))"),
        ("logistic regression", "sum(log(1 + exp(-y * (X @ w)))) + lam * norm(w)**2", "w",
         dict(y=y, X=X, w=x, lam=0.1),
         lambda: 0.2 * x - X.T @ (y * _sigmoid(-y * (X @ x))), "2·lam·w − Xᵀ(y ⊙ σ(−y ⊙ Xw))"),
        ("log det", "logdet(S)", "S", dict(S=S),
         lambda: np.linalg.inv(S).T, "np.linalg.inv(S).T"),
        ("two-layer tanh net", "sum((W2 @ tanh(W1 @ x + b1) + b2 - y)**2)", "W1, b1, W2, b2",
         dict(W1=W1, b1=b1, W2=W2, b2=b2, x=x, y=b),
         lambda: mlp(W1, b1, W2, b2, x, b), "forward once, backprop by hand"),
    ]


def _number(fn) -> int:
    """Calls per timing so that one timing takes about 20 ms."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, min(200, int(0.02 / max(once, 1e-7))))


def speed_table(n: int) -> None:
    import numpy as np
    import matdiff

    print(f"emitted gradient against hand-written NumPy, n = {n} (all matrices n×n, vectors length n);")
    print("best of 21 interleaved timings each (on a shared machine the best run is the stable estimate of the")
    print("code's own cost; a median measures the machine's load). raw = the emitted function itself (gradient_function().raw);")
    print("checked = gradient_function() as users call it (converts and checks the input shapes first);")
    print("grad/value = the cheap-gradient ratio of the emitted gradient to the emitted value function.\n")
    print(f"{'case':22s} {'hand':>11s} {'emitted raw':>12s} {'checked':>11s} {'raw/hand':>9s} "
          f"{'checked/hand':>12s} {'grad/value':>10s}   hand-written version")
    for label, text, wrt, inputs, hand, what in speed_cases(n):
        d = matdiff.derive(text, wrt)
        checked = d.gradient_function()
        raw = checked.raw
        value = d.value_function().raw
        ours, theirs = raw(**inputs), hand()
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for o, t in zip(ours, theirs, strict=True):
            if not np.allclose(o, t, rtol=1e-7, atol=1e-9 * max(1.0, float(np.max(np.abs(t))))):
                raise SystemExit(f"{label}: the emitted gradient differs from the hand-written one")
        number = _number(hand)
        t_hand, t_raw, t_checked, t_value = paired_median_times(
            [hand, lambda: raw(**inputs), lambda: checked(**inputs), lambda: value(**inputs)],
            repeat=21, number=number, warmup=1, stat=min)
        print(f"{label:22s} {ms(t_hand)} {ms(t_raw):>12s} {ms(t_checked)} {t_raw / t_hand:8.2f}× "
              f"{t_checked / t_hand:11.2f}× {t_raw / t_value:9.2f}×   {what}")
        print(f"{'':22s} emitted: {' '.join(_body(d))}")


def _body(d) -> list[str]:
    """The emitted gradient function's statements, for the record."""
    src = d.to_numpy().split("def gradient", 1)[1]
    lines = [ln.strip() for ln in src.splitlines()[2:] if ln.strip()]
    return [ln + ";" for ln in lines[:-1]] + lines[-1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="print the gradients untruncated")
    parser.add_argument("--n", type=int, default=1000, help="the size for the speed comparison")
    parser.add_argument("--blas-threads", default="1",
                        help="BLAS threads (default 1: threaded BLAS on a busy machine makes a matrix-vector "
                             "product swing by 30×; 'auto' leaves the library's default)")
    args = parser.parse_args()
    if args.blas_threads != "auto":   # before numpy is first imported
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = args.blas_threads
    header("bench_derive")
    print(f"BLAS threads: {args.blas_threads}\n")
    derive_table(args.full)
    print()
    speed_table(args.n)


if __name__ == "__main__":
    main()
