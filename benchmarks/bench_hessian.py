"""Speed of matdiff's emitted Hessians against jax.hessian (jit) and torch.autograd.functional.hessian.
python benchmarks/bench_hessian.py [--n 200 1000] [--blas-threads K] [--no-vectorize]"""

from __future__ import annotations

import argparse
import os
import time

from _common import header, ms

# (label, expression, wrt, how the inputs are made). The variable is a vector of length n in each.
CASES = [
    ("logistic loss", "sum(log(1 + exp(-y * (X @ w))))", "w", "X: 2n×n, y = ±1"),
    ("least squares", "norm(A @ x - b)**2", "x", "A: 2n×n"),
    ("xᵀAx + Σexp(x)", "x.T @ A @ x + sum(exp(x))", "x", "A: n×n"),
    ("logsumexp", "logsumexp(x)", "x", ""),
]


def inputs(label: str, n: int) -> tuple[dict, str]:
    """The NumPy inputs of a case (float64) and the name of its variable."""
    import numpy as np
    rng = np.random.default_rng(0)
    if label == "logistic loss":
        return dict(y=np.sign(rng.standard_normal(2 * n)), X=rng.standard_normal((2 * n, n)) / np.sqrt(n),
                    w=rng.standard_normal(n)), "w"
    if label == "least squares":
        return dict(A=rng.standard_normal((2 * n, n)) / np.sqrt(n), x=rng.standard_normal(n),
                    b=rng.standard_normal(2 * n)), "x"
    if label == "xᵀAx + Σexp(x)":
        return dict(x=rng.standard_normal(n) / np.sqrt(n), A=rng.standard_normal((n, n)) / np.sqrt(n)), "x"
    return dict(x=rng.standard_normal(n)), "x"


def scalar_function(label: str, lib, logsumexp):
    """f(variable, **constants), written once against a NumPy-like module (jax.numpy or torch)."""
    if label == "logistic loss":
        return lambda w, y, X: lib.sum(lib.log1p(lib.exp(-y * (X @ w))))
    if label == "least squares":
        return lambda x, A, b: lib.sum((A @ x - b) ** 2)
    if label == "xᵀAx + Σexp(x)":
        return lambda x, A: x @ (A @ x) + lib.sum(lib.exp(x))
    return lambda x: logsumexp(x)


# -- the peers: each gives a function of no arguments returning the n×n Hessian --------------------

def available() -> dict[str, str | None]:
    """Which peers can be imported: name → version, or None."""
    out: dict[str, str | None] = {}
    for name in ("jax", "torch"):
        try:
            module = __import__(name)
            out[name] = module.__version__
        except ImportError:
            out[name] = None
    return out


def jax_peer(label: str, args: dict, var: str):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    f = scalar_function(label, jnp, logsumexp)
    consts = {k: jnp.asarray(v) for k, v in args.items() if k != var}
    x = jnp.asarray(args[var])
    hess = jax.jit(jax.hessian(lambda v, c: f(v, **c)))

    def run():
        return hess(x, consts).block_until_ready()
    return run


def torch_peer(label: str, args: dict, var: str, vectorize: bool):
    import torch
    from torch.autograd.functional import hessian
    f = scalar_function(label, torch, lambda x: torch.logsumexp(x, 0))
    consts = {k: torch.from_numpy(v) if hasattr(v, "shape") else v for k, v in args.items() if k != var}
    x = torch.from_numpy(args[var])

    def run():
        return hessian(lambda v: f(v, **consts), x, vectorize=vectorize)
    return run


def best_times(fns, budget: float) -> list[float]:
    """The best per-call time of each callable: timings interleaved run by run (so a change in the
    machine's load hits all alike), each timing long enough (~10 ms of calls) to beat the clock's
    resolution, as many rounds (2 to 21) as fit the budget in seconds. The caller has run each
    callable once already (the agreement check), which is the warm-up."""
    once = []
    for fn in fns:
        start = time.perf_counter()
        fn()
        once.append(max(time.perf_counter() - start, 1e-7))
    numbers = [max(1, min(1000, int(0.01 / t))) for t in once]
    rounds = max(2, min(21, int(budget / sum(t * k for t, k in zip(once, numbers, strict=True)))))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, (fn, k) in enumerate(zip(fns, numbers, strict=True)):
            start = time.perf_counter()
            for _ in range(k):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / k)
    return best


def bench(n: int, peers: dict, vectorize: bool, budget: float) -> None:
    import numpy as np
    import matdiff

    print(f"n = {n}")
    print(f"{'case':16s} {'peer':26s} {'peer time':>11s} {'matdiff':>11s} {'peer/matdiff':>13s}")
    for label, text, wrt, _ in CASES:
        args, var = inputs(label, n)
        d = matdiff.derive(text, wrt)
        raw = d.hessian_function().raw
        ours = np.asarray(raw(**args))
        runs = []
        if peers["jax"]:
            runs.append(("jax.hessian, jit", jax_peer(label, args, var)))
        if peers["torch"]:
            runs.append(("torch", torch_peer(label, args, var, vectorize=False)))
            if vectorize:
                runs.append(("torch, vectorize=True", torch_peer(label, args, var, vectorize=True)))
        if not runs:
            (t_ours,) = best_times([lambda: raw(**args)], budget)
            print(f"{label:16s} {'(no peer installed)':26s} {'':11s} {ms(t_ours)}")
        for name, run in runs:
            theirs = np.asarray(run())
            scale = max(1.0, float(np.max(np.abs(theirs))))
            if theirs.shape != ours.shape or not np.allclose(ours, theirs, rtol=1e-7, atol=1e-9 * scale):
                raise SystemExit(f"{label}, n = {n}: matdiff's Hessian differs from {name}'s")
            fns = [run, lambda: raw(**args)]
            t_peer, t_ours = best_times(fns, budget)
            print(f"{label:16s} {name:26s} {ms(t_peer)} {ms(t_ours)} {t_peer / t_ours:12.1f}×")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000], help="sizes (default 200 1000)")
    parser.add_argument("--blas-threads", default="1",
                        help="BLAS, torch and XLA threads (default 1, steady on a shared machine; 'auto' leaves "
                             "each library's default)")
    parser.add_argument("--no-vectorize", action="store_true",
                        help="skip torch's vectorize=True variant (torch.func vmap over the rows)")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of timing per pair at most, roughly (default 3)")
    args = parser.parse_args()
    if args.blas_threads != "auto":   # before numpy, torch or jax are first imported
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = args.blas_threads
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                   f"intra_op_parallelism_threads={args.blas_threads}").strip()
    header("bench_hessian")
    peers = available()
    for name, version in peers.items():
        print(f"  {name} {version}" if version else
              f"  {name} is not installed: skipped (pip install {'jax jaxlib' if name == 'jax' else 'torch'})")
    if peers["torch"] and args.blas_threads != "auto":
        import torch
        torch.set_num_threads(int(args.blas_threads))
    print(f"threads: {args.blas_threads}. matdiff = d.hessian_function().raw (the emitted NumPy, no input checks);")
    print("float64 everywhere; each Hessian is checked against matdiff's before timing; best of 2 to 21")
    print("interleaved timings of ~10 ms each; the ratio is peer time / matdiff time (> 1: matdiff is faster).")
    print("jax is jit-compiled once before timing (compile time not counted).")
    for label, text, wrt, shapes in CASES:
        print(f"  {label:16s} {text:36s} wrt {wrt}   {shapes}")
    print()
    for n in args.n:
        bench(n, peers, not args.no_vectorize, args.budget)


if __name__ == "__main__":
    main()
