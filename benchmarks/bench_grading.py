"""Benchmark: what a grade costs (CPU-seconds of every process involved, and wall time), old vs new.

    python benchmarks/bench_grading.py                  # everything, median of 3, 20 submissions
    python benchmarks/bench_grading.py --quick          # one section, 1 run, 2 submissions (a few minutes)
    python benchmarks/bench_grading.py --old e950762    # the older grader to compare with (a commit)
    python benchmarks/bench_grading.py --only call      # only part 4 (the per-call round trip)

Parts (each figure is printed with the load averages at the time it was taken; on a shared machine
the wall times and, less so, the CPU-seconds grow with the load):

1. **floor**: all public + hidden suites in one pytest process with the reference imported in-process
   (``--impl solutions``): the tests' own work (median of ``--repeat``, alternating with the grades);
2. **grades**: ``python -m grader grade SUBMISSION`` of the grader at ``--old`` (a git worktree in
   /tmp) and of this checkout, sandboxed, and this checkout's ``--no-sandbox``, alternating, median of
   ``--repeat``; each with its ratio to the floor, wall / CPU, and new / old;
3. **batch**: ``python -m grader batch`` on N copies of the submission, ``--jobs``; submissions per
   minute beside the ideal ``cores / CPU-seconds of one grade`` (and their ratio); then the same
   batch with one copy replaced by a hanging submission (every function sleeps just under the
   per-call limit): the wall time it adds, beside its sections' time budgets / jobs (``--no-hanging``
   skips it);
4. **per call**: the round trip of a proxy call (an ``(8, 16)`` float64 array in and out of a sandboxed
   worker) vs a plain pipe round trip of the same bytes between two processes, and vs the least a
   Python proxy does (a length head and the bytes made an array again, no check: ``framed_echo``)
   (``--only call``: only this part), alternating in blocks of 50, medians.

CPU-seconds are counted in a fresh cgroup (v1 ``cpuacct`` or v2 ``cpu.stat``) holding the whole
process tree: the grader, its pytest processes, the zygote and every worker (the zygote's workers
are never waited for by the grader, so ``getrusage(RUSAGE_CHILDREN)`` would miss them). Without a
writable cgroup (not root) the fallback is ``RUSAGE_CHILDREN``, and the output says so. The
submission is ``solutions/`` (copied without notebooks), graded by both graders. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
DEFAULT_OLD = "e950762"  # the grader before the warm runner (one pytest process per section)
CGROUP_V1 = Path("/sys/fs/cgroup/cpuacct")
CGROUP_V2 = Path("/sys/fs/cgroup/unified")


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- CPU of a process tree -----------------------------------------------------------------------


class Tree:
    """Run one command in its own cgroup; ``cpu`` = CPU-seconds of every process it started."""

    def __init__(self):
        self.kind = None
        for base, kind in ((CGROUP_V1, "cgroup v1 cpuacct"), (CGROUP_V2, "cgroup v2")):
            if base.is_dir() and os.access(base, os.W_OK):
                self.base, self.kind = base, kind
                break
        self.how = self.kind or "RUSAGE_CHILDREN (no writable cgroup: workers reaped by the zygote are missed)"

    def run(self, cmd: list[str], *, cwd: Path, env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
        group = None
        if self.kind:
            group = self.base / f"bench-grading-{os.getpid()}-{time.monotonic_ns()}"
            group.mkdir()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs = str(group / "cgroup.procs") if group else None

        def enter():  # in the child, before exec: everything it starts stays in the group
            if procs:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))

        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, preexec_fn=enter)
        wall = time.monotonic() - start
        if group:
            cpu = self._usage(group)
            for _ in range(50):  # the group empties once its last process is gone
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        else:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, proc

    def _usage(self, group: Path) -> float:
        if self.kind == "cgroup v1 cpuacct":
            return int((group / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6


TREE = Tree()


def grader_env(repo: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(repo)}


def checked(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


# --- the parts ----------------------------------------------------------------------------------


def floor(tmp: Path, sections: list[str]) -> tuple[float, float]:
    """All public + hidden suites in one pytest process, the reference imported in-process."""
    sys.path.insert(0, str(REPO))
    from grader.run import PLUGINS_OFF, child_env, suite_files
    from grader.sections import all_sections

    files = [str(f) for s in all_sections() if not sections or s.name in sections for f in suite_files(s, True)]
    cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(REPO),
           "-q", "--no-header", *PLUGINS_OFF, "--impl=solutions", "--seed=0", *files]  # as a graded run  # fmt: skip
    wall, cpu, proc = TREE.run(cmd, cwd=tmp, env={**child_env(), "COURSE_TIME_BUDGET_SUITES": "all"})
    checked(proc, "the in-process floor")
    return wall, cpu


def grade(repo: Path, submission: Path, out: Path, sections: list[str], sandbox: bool = True) -> tuple[float, float]:
    extra = [x for s in sections for x in ("--section", s)] + ([] if sandbox else ["--no-sandbox"])
    cmd = [sys.executable, "-m", "grader", "grade", str(submission), "--json", str(out), *extra]
    wall, cpu, proc = TREE.run(cmd, cwd=repo, env=grader_env(repo))
    checked(proc, f"grade with the grader of {repo}")
    data = json.loads(out.read_text(encoding="utf-8"))
    if data["score"] != data["max_score"]:
        print(f"  note: {repo} gave the submission {data['score']}/{data['max_score']}")
    return wall, cpu


def old_worktree(commit: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", commit], cwd=REPO, capture_output=True, text=True, check=True)
    sha = sha.stdout.strip()
    path = Path(tempfile.gettempdir()) / f"bench-grading-old-{sha[:12]}"
    if not (path / "grader").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=REPO, check=True,
                       capture_output=True)  # fmt: skip
    return path


def batch(
    submission: Path, tmp: Path, n: int, jobs: int, sections: list[str], hanging: bool = False
) -> tuple[float, float]:
    """(wall, CPU) of ``grader batch`` on ``n`` copies of the submission; with ``hanging``, the first
    copy is instead one whose every function sleeps just under the per-call limit (:func:`hanging_copy`)."""
    subs = tmp / ("submissions-hanging" if hanging else "submissions")
    for i in range(n):
        if hanging and i == 0:
            hanging_copy(subs / f"student{i:02d}")
        else:
            shutil.copytree(submission, subs / f"student{i:02d}")
    extra = [x for s in sections for x in ("--section", s)]
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--jobs", str(jobs), "--csv", str(tmp / "g.csv"), *extra]
    wall, cpu, proc = TREE.run(cmd, cwd=REPO, env=grader_env(REPO))
    checked(proc, "batch")
    return wall, cpu


def hanging_copy(dst: Path) -> Path:
    """The reference whose every function first sleeps 3 s less than the per-call limit: each of its
    sections runs until its time budget is used up (``benchmarks/bench_time_budget.py``'s copy)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_time_budget import slow_submission

    from grader.sandbox.pool import SandboxConfig

    return slow_submission(dst, SandboxConfig().call_timeout - 3, busy=False)


def hanging_allowance(sections: list[str], jobs: int) -> float:
    """What one hanging submission may add to a batch's wall time: the sum of its sections' time
    budgets (idle machine) divided by the number of jobs."""
    sys.path.insert(0, str(REPO))
    from grader.sandbox.pool import time_budget
    from grader.sections import Section, all_sections

    chosen = [Section(s) for s in sections] or all_sections()
    return sum(time_budget(section, "all")[0] for section in chosen) / jobs


BLOCK = 50  # round trips of one kind in a row (per-call part)


def pipe_echo(nbytes: int):
    """A forked process that reads ``nbytes`` from a pipe and writes them back; returns
    (round_trip(data), stop)."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the echo process: read nbytes, write them back
        os.close(down_w)
        os.close(up_r)
        while True:
            got = b""
            while len(got) < nbytes:
                chunk = os.read(down_r, nbytes - len(got))
                if not chunk:
                    os._exit(0)
                got += chunk
            os.write(up_w, got)
    os.close(down_r)
    os.close(up_w)

    def round_trip(data: bytes) -> bytes:
        os.write(down_w, data)
        got = b""
        while len(got) < len(data):
            got += os.read(up_r, len(data) - len(got))
        return got

    def stop() -> None:
        os.close(down_w)
        os.close(up_r)
        os.waitpid(pid, 0)

    return round_trip, stop


def framed_echo(shape: tuple, dtype: str):
    """The least a Python proxy does per call, without any check: a forked process reads a length
    head and the array's bytes, makes an array of them, calls ``echo`` and sends it back the same
    way. Returns (round_trip(array) -> array, stop)."""
    import numpy as np

    head = struct.Struct("<q")
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()

    def read_exact(fd: int, n: int) -> bytes:
        got = b""
        while len(got) < n:
            chunk = os.read(fd, n - len(got))
            if not chunk:
                raise EOFError
            got += chunk
        return got

    pid = os.fork()
    if pid == 0:
        os.close(down_w)
        os.close(up_r)
        echo = lambda x: x  # noqa: E731
        try:
            while True:
                (n,) = head.unpack(read_exact(down_r, head.size))
                x = np.frombuffer(read_exact(down_r, n), dtype=dtype).reshape(shape)
                y = echo(x)
                os.writev(up_w, [head.pack(y.nbytes), y.tobytes()])
        except EOFError:
            os._exit(0)
    os.close(down_r)
    os.close(up_w)

    def round_trip(x):
        os.writev(down_w, [head.pack(x.nbytes), x.tobytes()])
        (n,) = head.unpack(read_exact(up_r, head.size))
        return np.frombuffer(read_exact(up_r, n), dtype=dtype).reshape(shape)

    def stop() -> None:
        os.close(down_w)
        os.close(up_r)
        os.waitpid(pid, 0)

    return round_trip, stop


def round_trips(tmp: Path, n: int) -> tuple[float, float, float, float]:
    """(proxy, pipe, proxy CPU in this process, framed) median/mean seconds of one round trip of an
    (8, 16) float64 array; ``framed``: :func:`framed_echo`, the least any Python proxy does. The
    three alternate in blocks of ``BLOCK`` round trips: each runs in a loop of its own (none finds
    the caches cold from another), and a change of the machine's load during the run weighs on all
    alike."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from grader.sandbox.pool import SandboxTarget, close_zygote
    from grader.sections import Section

    section = Section("sec38_attention")
    root = tmp / "echo"
    (root / section.name).mkdir(parents=True)
    (root / section.name / f"{section.module}.py").write_text("def echo(x):\n    return x\n")
    x = np.random.default_rng(0).normal(size=(8, 16))
    pipe_round_trip, stop = pipe_echo(x.nbytes)  # forked first: they hold none of the worker's pipes
    framed_round_trip, stop_framed = framed_echo(x.shape, x.dtype.str)
    target = SandboxTarget(section, root)
    proxy, pipe, framed, cpu = [], [], [], 0.0
    try:
        echo = target.echo
        echo(x)  # started and warm
        for _ in range(0, n, BLOCK):
            start_cpu = time.process_time()
            for _ in range(BLOCK):
                start = time.perf_counter()
                y = echo(x)
                proxy.append(time.perf_counter() - start)
            cpu += time.process_time() - start_cpu
            for _ in range(BLOCK):
                start = time.perf_counter()
                z = np.frombuffer(pipe_round_trip(x.tobytes()), dtype=np.float64).reshape(8, 16)
                pipe.append(time.perf_counter() - start)
            for _ in range(BLOCK):
                start = time.perf_counter()
                f = framed_round_trip(x)
                framed.append(time.perf_counter() - start)
        assert np.array_equal(x, y) and np.array_equal(x, z) and np.array_equal(x, f)
    finally:
        target.close()
        close_zygote()
        stop_framed()  # first: that process holds copies of the pipe echo's ends (it was forked after it)
        stop()
    return statistics.median(proxy), statistics.median(pipe), cpu / len(proxy), statistics.median(framed)


def print_round_trips(tmp: Path, n: int) -> None:
    proxy, pipe, cpu, framed = round_trips(tmp, n)
    print(
        f"per call, (8, 16) float64 in and out: proxy {proxy * 1e6:.0f} us (grader process CPU {cpu * 1e6:.0f} us), "
        f"pipe {pipe * 1e6:.0f} us, ratio {proxy / pipe:.1f} (target <= 2); the least a Python proxy does "
        f"(length head, bytes, array, no check) {framed * 1e6:.0f} us = {framed / pipe:.1f} x the pipe   {load()}"
    )


def runs(values: list[tuple[float, float]]) -> str:
    return ", ".join(f"{w:.1f}/{c:.1f}" for w, c in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one section, 1 run, 2 submissions, 200 calls")
    parser.add_argument("--old", default=DEFAULT_OLD, help="commit of the grader to compare with ('' to skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each grade (the median is reported)")
    parser.add_argument("--submissions", type=int, default=20, help="submissions in the batch part (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--section", action="append", default=[], help="only these sections (repeatable)")
    parser.add_argument("--calls", type=int, default=2000, help="round trips in the per-call part")
    parser.add_argument("--only", choices=["call"], help="run only this part (call: part 4)")
    parser.add_argument("--no-hanging", dest="hanging", action="store_false",
                        help="skip the batch with one hanging submission (part 3)")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.submissions, args.calls, args.hanging = 1, 2, 200, False
        args.section = args.section or ["sec38_attention"]
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} CPUs; CPU counted by {TREE.how}; {load()}")
    if args.only == "call":
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
            print_round_trips(Path(tmp), args.calls)
        return 0
    print(f"sections: {', '.join(args.section) or 'all'}; median of {args.repeat}; wall/CPU in seconds")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        submission = tmp / "submission"
        shutil.copytree(SOLUTIONS, submission, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        graders = {"new": REPO}
        if args.old:
            graders["old"] = old_worktree(args.old)
        modes = [("floor", False), ("new", True), ("new", False)] + ([("old", True)] if "old" in graders else [])
        times: dict[tuple[str, bool], list[tuple[float, float]]] = {m: [] for m in modes}
        for i in range(args.repeat):  # the floor and the grades alternate: a drift of the machine weighs on all
            for mode in modes if i % 2 == 0 else modes[::-1]:
                name, sandbox = mode
                if name == "floor":
                    times[mode].append(floor(tmp, args.section))
                else:
                    times[mode].append(grade(graders[name], submission, tmp / "g.json", args.section, sandbox))
        med = {m: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for m, v in times.items()}
        f_wall, f_cpu = med.pop(("floor", False))
        print(
            f"floor (one pytest process, in-process reference): {f_wall:6.1f} s wall {f_cpu:6.1f} CPU-s"
            f"   (runs wall/CPU: {runs(times[('floor', False)])})"
        )
        labels = {("new", True): "grade, sandboxed (new)", ("new", False): "grade, in-process (new)",
                  ("old", True): f"grade, sandboxed (old {args.old})"}  # fmt: skip
        for mode, (wall, cpu) in med.items():
            print(
                f"{labels[mode]:<32} {wall:6.1f} s wall {cpu:6.1f} CPU-s   /floor CPU {cpu / f_cpu:4.2f}"
                f"   wall/CPU {wall / cpu:4.2f}   (runs wall/CPU: {runs(times[mode])})"
            )
        print(f"  {load()}")
        new_wall, new_cpu = med[("new", True)]
        if "old" in graders:
            old_wall, old_cpu = med[("old", True)]
            print(
                f"new / old: CPU {new_cpu / old_cpu:.2f} (target <= 0.5), wall {new_wall / old_wall:.2f} (target <= 0.5)"
            )
        print(f"sandboxed / floor CPU: {new_cpu / f_cpu:.2f} (target <= 1.25); wall / CPU {new_wall / new_cpu:.2f} "
              f"(target <= 0.6 on 2 cores)")  # fmt: skip
        if args.submissions:
            b_wall, b_cpu = batch(submission, tmp, args.submissions, args.jobs, args.section)
            rate = args.submissions / b_wall * 60
            ideal = cores / new_cpu * 60
            print(
                f"batch: {args.submissions} submissions, --jobs {args.jobs}: {b_wall:.1f} s wall {b_cpu:.1f} CPU-s = "
                f"{rate:.2f} submissions/min; ideal {cores} cores / {new_cpu:.1f} CPU-s = {ideal:.2f}/min; "
                f"ratio {rate / ideal:.2f} (target >= 0.85)   {load()}"
            )
            if args.hanging:
                h_wall, h_cpu = batch(submission, tmp, args.submissions, args.jobs, args.section, hanging=True)
                allowed = hanging_allowance(args.section, args.jobs)
                print(
                    f"batch with one hanging submission in place of a copy: {h_wall:.1f} s wall {h_cpu:.1f} CPU-s; "
                    f"{h_wall - b_wall:+.1f} s against the batch above, allowed {allowed:.1f} s (its sections' time "
                    f"budgets / {args.jobs} jobs)   {load()}"
                )
        print_round_trips(tmp, args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
