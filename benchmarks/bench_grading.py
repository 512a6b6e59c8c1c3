"""Benchmark: sandboxed vs. in-process grading of the reference solutions, and batch throughput.

    python benchmarks/bench_grading.py                 # both parts, all sections, 20 submissions
    python benchmarks/bench_grading.py --repeat 3      # median of 3 runs of each mode
    python benchmarks/bench_grading.py --submissions 6 --section sec39_attention_math

Part 1 runs ``python -m grader grade solutions`` with the sandbox (the default) and with
``--no-sandbox``, alternating, on the same machine in the same run, and prints both wall times and
their ratio (target ≤ 1.5). Part 2 copies the solutions into N submission folders and runs
``python -m grader batch`` with ``--jobs 2``, printing submissions per minute. Not a test: timings
depend on the machine and on what else runs on it (the load average is printed with the results).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"


def run(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"grader {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def grade_once(tmp: Path, sandbox: bool, sections: list[str]) -> float:
    out = tmp / ("sandboxed.json" if sandbox else "inprocess.json")
    extra = [] if sandbox else ["--no-sandbox"]
    for s in sections:
        extra += ["--section", s]
    seconds = run(["grade", str(SOLUTIONS), "--json", str(out), *extra])
    data = json.loads(out.read_text(encoding="utf-8"))
    if data["score"] != data["max_score"]:
        sys.exit(f"the reference did not get full marks ({'sandboxed' if sandbox else 'in-process'})")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode (the median is reported)")
    parser.add_argument("--submissions", type=int, default=20, help="submissions in the batch part (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--section", action="append", default=[], help="only these sections (repeatable)")
    parser.add_argument("--skip-grade", action="store_true", help="only the batch part")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        if not args.skip_grade:
            times = {True: [], False: []}
            for i in range(args.repeat):
                for sandbox in (True, False) if i % 2 == 0 else (False, True):
                    times[sandbox].append(grade_once(tmp, sandbox, args.section))
            sandboxed, inprocess = statistics.median(times[True]), statistics.median(times[False])
            print(
                f"grade solutions, sandboxed:  {sandboxed:7.1f} s   (runs: {', '.join(f'{t:.1f}' for t in times[True])})"
            )
            print(
                f"grade solutions, in-process: {inprocess:7.1f} s   (runs: {', '.join(f'{t:.1f}' for t in times[False])})"
            )
            print(f"ratio sandboxed / in-process: {sandboxed / inprocess:.2f}  (target <= 1.5)")
        if args.submissions:
            subs = tmp / "submissions"
            for i in range(args.submissions):
                shutil.copytree(
                    SOLUTIONS, subs / f"student{i:02d}", ignore=shutil.ignore_patterns("__pycache__", "*.ipynb")
                )
            extra = [x for s in args.section for x in ("--section", s)]
            seconds = run(["batch", str(subs), "--jobs", str(args.jobs), "--csv", str(tmp / "grades.csv"), *extra])
            print(
                f"batch: {args.submissions} submissions, --jobs {args.jobs}: {seconds:.1f} s = "
                f"{args.submissions / seconds * 60:.1f} submissions per minute"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
