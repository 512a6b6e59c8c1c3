"""Autograde time of all section notebooks for one submission, with real nbgrader.

    python benchmarks/bench_notebooks.py [--untouched] [--repeat N]

The submission is a copy of ``exercises/`` with the reference modules put in (a fully solved
submission: every test runs to the end, the slowest case). The course (``generate_assignment``,
the gradebook) is prepared first and not timed; the figure reported is the wall-clock time of
``autograde`` for every notebook of one student, then of ``generate_feedback``. Target: ≤ 60 s on
2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import notebooks as nbs  # noqa: E402
from grader.sections import EXERCISES, SOLUTIONS, Section  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--untouched", action="store_true", help="grade the untouched release instead")
    parser.add_argument("--repeat", type=int, default=1, help="students graded one after the other")
    args = parser.parse_args(argv)
    sections = nbs.notebook_sections()
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        tmp = Path(tmp)
        sub = tmp / "submission"
        shutil.copytree(EXERCISES, sub, ignore=shutil.ignore_patterns("__pycache__"))
        if not args.untouched:
            for section in sections:
                module = Section(section).module_file(SOLUTIONS)
                shutil.copyfile(module, sub / section / module.name)
        course = nbs.Course(tmp / "course")
        t0 = time.perf_counter()
        for section in sections:
            course.generate(section)
        print(f"generate_assignment, {len(sections)} notebooks (not counted): {time.perf_counter() - t0:.1f} s")
        for r in range(args.repeat):
            student = f"student{r}"
            t0 = time.perf_counter()
            for section in sections:
                course.submit(section, sub / section, student)
                t = time.perf_counter()
                course.autograde(section, student)
                print(f"  autograde {section}: {time.perf_counter() - t:.1f} s")
            autograde_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for section in sections:
                course.feedback(section, student)
            feedback_s = time.perf_counter() - t0
            print(
                f"{student}: autograde of {len(sections)} notebooks {autograde_s:.1f} s, "
                f"feedback {feedback_s:.1f} s (cores: {os.cpu_count()})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
