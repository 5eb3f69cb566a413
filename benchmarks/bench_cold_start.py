"""Wall time of `python -m matdiff shapes "x.T @ A @ x"` in a fresh interpreter, against `python -c pass`."""

from __future__ import annotations

import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from _common import checkout_env, header

TARGET_MS = 400.0
RUNS = 5
COMMAND = [sys.executable, "-m", "matdiff", "shapes", "x.T @ A @ x"]
BASELINE = [sys.executable, "-c", "pass"]
PACKAGES = ("matdiff", "lark", "numpy", "sympy")


def wall_times(cmd: list[str], cwd: str, runs: int = RUNS) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=checkout_env(), check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def import_profile(cwd: str) -> tuple[dict[str, float | None], float]:
    """From one `python -X importtime` run of the command: for each package in PACKAGES the import time
    (s) of its outermost imports (None: not imported at all, at any depth), and the total of all
    top-level imports."""
    out = subprocess.run([sys.executable, "-X", "importtime"] + COMMAND[1:], cwd=cwd, env=checkout_env(),
                         check=True, capture_output=True, text=True).stderr
    entries = []   # (depth, module, cumulative seconds), children listed before their parent
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            entries.append((len(m.group(3)), m.group(4), int(m.group(2)) / 1e6))
    total = sum(cum for depth, _, cum in entries if depth == 1)
    found: dict[str, float | None] = {p: None for p in PACKAGES}
    ancestors: list[tuple[int, str]] = []
    for depth, name, cum in reversed(entries):   # reversed: a parent comes before its children
        while ancestors and ancestors[-1][0] >= depth:
            ancestors.pop()
        for p in PACKAGES:
            inside = lambda n: n == p or n.startswith(p + ".")  # noqa: E731
            if inside(name) and not any(inside(a) for _, a in ancestors):
                found[p] = (found[p] or 0.0) + cum
        ancestors.append((depth, name))
    return found, total


STAGES = """
import time
t0 = time.perf_counter()
import matdiff, matdiff.cli, matdiff.syntax
t1 = time.perf_counter()
import lark
t2 = time.perf_counter()
matdiff.syntax._parser()
t3 = time.perf_counter()
matdiff.read("x.T @ A @ x")
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def stages(cwd: str) -> list[float] | None:
    """Seconds for: import matdiff, import lark, build the parser, read the expression, in a fresh
    interpreter (uses a private function; None if it has moved)."""
    result = subprocess.run([sys.executable, "-c", STAGES], cwd=cwd, env=checkout_env(), capture_output=True,
                            text=True)
    if result.returncode != 0:
        return None
    return [float(t) for t in result.stdout.split()]


def main() -> None:
    header(f"bench_cold_start: `{shlex.join(['python'] + COMMAND[1:])}` in a fresh interpreter")
    with tempfile.TemporaryDirectory() as cwd:   # not the checkout: nothing is found by accident
        # One untimed run of each first, so the timed runs do not include writing .pyc files.
        wall_times(COMMAND, cwd, runs=1)
        wall_times(BASELINE, cwd, runs=1)
        cmd_t, base_t = [], []
        for _ in range(RUNS):    # interleaved, so a change in machine load hits both alike
            cmd_t += wall_times(COMMAND, cwd, runs=1)
            base_t += wall_times(BASELINE, cwd, runs=1)
        imports, total_imports = import_profile(cwd)
        stage_runs = [stages(cwd) for _ in range(RUNS)]

    cmd, base = statistics.median(cmd_t), statistics.median(base_t)
    print(f"matdiff shapes, median of {RUNS}   {cmd * 1e3:7.1f} ms   (runs: "
          f"{', '.join(f'{t * 1e3:.0f}' for t in cmd_t)}; min {min(cmd_t) * 1e3:.0f})   target < {TARGET_MS:.0f} ms: "
          f"{'met' if cmd * 1e3 < TARGET_MS else 'NOT met'}")
    print(f"python -c pass, median of {RUNS}   {base * 1e3:7.1f} ms   (runs: "
          f"{', '.join(f'{t * 1e3:.0f}' for t in base_t)}; min {min(base_t) * 1e3:.0f})")
    print(f"ratio                              {cmd / base:7.1f}×   (of the minima: {min(cmd_t) / min(base_t):.1f}×)")
    print(f"above the bare interpreter         {(cmd - base) * 1e3:7.1f} ms")
    print()
    print(f"imports (python -X importtime, one run): all top-level imports {total_imports * 1e3:.1f} ms")
    for name, t in imports.items():
        if t is not None:
            print(f"  {name:8s} {t * 1e3:7.1f} ms")
        else:
            print(f"  {name:8s} not imported" + ("  (as it should be: `shapes` needs only the parser)"
                                              if name in ("numpy", "sympy") else ""))
    if all(stage_runs):
        print()
        print(f"stages in a fresh interpreter (median of {RUNS}):")
        names = ["import matdiff (+ cli)", "import lark", "build the LALR parser", "read the expression"]
        for i, name in enumerate(names):
            print(f"  {name:24s} {statistics.median(r[i] for r in stage_runs) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
