"""Autograde time of all section notebooks for one submission, with real nbgrader.

    python benchmarks/bench_notebooks.py [--untouched] [--repeat N]

The submission is a copy of ``exercises/`` with the reference modules put in (a fully solved
submission: every test runs to the end, the slowest case). The course (``generate_assignment``,
the gradebook) is prepared first and not timed; the figure reported is the wall-clock time of
``autograde`` for every notebook of one student, then of ``generate_feedback``. With ``--jobs 2``
(default) the notebooks are split over two worker processes, each with its own nbgrader course
folder and gradebook (SQLite is not shared between processes); ``--jobs 1`` is nbgrader's plain
sequential run. Target: ≤ 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import notebooks as nbs  # noqa: E402
from grader.sections import EXERCISES, SOLUTIONS, Section  # noqa: E402


def _groups(sections: list[str], jobs: int) -> list[list[str]]:
    return [sections[i::jobs] for i in range(jobs) if sections[i::jobs]]


def _generate(args) -> float:
    root, sections = args
    t = time.perf_counter()
    course = nbs.Course(Path(root))
    for section in sections:
        course.generate(section)
    return time.perf_counter() - t


def _autograde(args) -> dict[str, float]:
    root, sub, sections, student, feedback = args
    course = nbs.Course(Path(root))
    times = {}
    for section in sections:
        t = time.perf_counter()
        if feedback:
            course.feedback(section, student)
        else:
            course.submit(section, Path(sub) / section, student)
            course.autograde(section, student)
        times[section] = time.perf_counter() - t
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--untouched", action="store_true", help="grade the untouched release instead")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    sections = nbs.notebook_sections()
    groups = _groups(sections, max(1, args.jobs))
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp, ProcessPoolExecutor(len(groups)) as pool:
        tmp = Path(tmp)
        sub = tmp / "submission"
        shutil.copytree(EXERCISES, sub, ignore=shutil.ignore_patterns("__pycache__"))
        if not args.untouched:
            for section in sections:
                module = Section(section).module_file(SOLUTIONS)
                shutil.copyfile(module, sub / section / module.name)
        roots = [str(tmp / f"course{i}") for i in range(len(groups))]
        t0 = time.perf_counter()
        list(pool.map(_generate, zip(roots, groups)))
        print(f"generate_assignment, {len(sections)} notebooks (not counted): {time.perf_counter() - t0:.1f} s")
        result = {}
        for feedback in (False, True):
            t0 = time.perf_counter()
            for times in pool.map(_autograde, [(r, str(sub), g, "student", feedback) for r, g in zip(roots, groups)]):
                for section, seconds in times.items():
                    print(f"  {'generate_feedback' if feedback else 'autograde'} {section}: {seconds:.1f} s")
            result[feedback] = time.perf_counter() - t0
        print(
            f"autograde of {len(sections)} notebooks for one submission: {result[False]:.1f} s wall clock "
            f"({len(groups)} worker(s), {os.cpu_count()} cores); feedback: {result[True]:.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
