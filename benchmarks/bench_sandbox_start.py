"""Worker start time with and without the filesystem view (and what exec'ing bwrap would cost).

    PYTHONPATH=. python benchmarks/bench_sandbox_start.py [--runs 10]

Prints, for a tiny section: the median time from asking for a worker to its first answer, with
the view + Landlock (the default), and with both switched off (the worker as before the view);
then the time of a fresh interpreter importing torch under ``bwrap`` (what one worker would cost
if each were a new bwrap process instead of a fork of the zygote), and the median time of one call.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.sandbox import pool
from grader.sandbox.pool import SandboxConfig, SandboxTarget
from grader.sections import Section

TOY = Section("sec96_bench")


def start_times(root: Path, runs: int, layers: bool) -> list[float]:
    fork = pool.Zygote.fork
    if not layers:
        pool.Zygote.fork = lambda self, c, fds, t: fork(
            self, {**c, "filesystem_view": False, "landlock": False}, fds, t
        )
    out = []
    try:
        for _ in range(runs):
            target = SandboxTarget(TOY, root, SandboxConfig())
            t0 = time.perf_counter()
            target.one()
            out.append(time.perf_counter() - t0)
            target.close()
    finally:
        pool.Zygote.fork = fork
    return out


def call_times(root: Path, runs: int) -> list[float]:
    target = SandboxTarget(TOY, root, SandboxConfig())
    target.one()
    out = []
    for _ in range(runs * 10):
        t0 = time.perf_counter()
        target.one()
        out.append(time.perf_counter() - t0)
    target.close()
    return out


def bwrap_torch(runs: int, plain: bool = False) -> list[float] | None:
    bwrap = shutil.which("bwrap")
    if not bwrap and not plain:
        return None
    cmd = [sys.executable, "-I", "-c", "import numpy, torch"]
    if not plain:
        cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-all",
               "--die-with-parent", *cmd]  # fmt: skip
    out = []
    for _ in range(max(1, runs // 3)):
        t0 = time.perf_counter()
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return None
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    (root / TOY.name).mkdir()
    (root / TOY.name / "bench.py").write_text("def one():\n    return 1\n", encoding="utf-8")
    start_times(root, 1, True)  # the zygote imports torch once
    with_view = start_times(root, args.runs, True)
    without = start_times(root, args.runs, False)
    calls = call_times(root, args.runs)
    ms = lambda xs: f"{1000 * statistics.median(xs):.1f} ms"  # noqa: E731
    print(f"worker start, view + Landlock : {ms(with_view)} (median of {args.runs})")
    print(f"worker start, neither         : {ms(without)}")
    print(f"one call (view active)        : {ms(calls)} (median of {len(calls)})")
    bw = bwrap_torch(args.runs)
    print("bwrap + fresh python + import torch: " + (ms(bw) if bw else "bwrap not usable here"))
    print(f"fresh python + import torch (no bwrap): {ms(bwrap_torch(args.runs, plain=True))}")
    pool.close_zygote()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
