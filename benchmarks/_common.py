"""Helpers shared by the benchmark scripts: run the checkout's matdiff, time a callable, print a line."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

# The benchmarks measure the checkout they live in, not whatever matdiff is installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def checkout_env() -> dict:
    """The environment for a subprocess that should import the checkout's matdiff."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def median_time(fn: Callable[[], object], *, repeat: int = 21, number: int = 1, warmup: int = 3) -> float:
    """Median over `repeat` runs of the mean wall time (seconds) of `number` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def paired_median_times(fns: list[Callable[[], object]], *, repeat: int = 21, number: int = 1,
                        warmup: int = 2, stat: Callable[[list[float]], float] = statistics.median) -> list[float]:
    """Like median_time for several callables, interleaved run by run, so that a change in machine
    load during the measurement affects all of them alike (the ratios stay meaningful). `stat=min`
    gives the best run instead of the median."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times, strict=True):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            ts.append((time.perf_counter() - start) / number)
    return [stat(ts) for ts in times]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


def header(title: str) -> None:
    import matdiff
    print(title)
    print(f"  matdiff {matdiff.__version__} from {Path(matdiff.__file__).parent}")
    print(f"  Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {_load()}")
    print()


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"
