"""Command line: ``python -m grader grade [PATH]`` and ``python -m grader release``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.sections import EXERCISES


def _grade(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.collect import GradingError, collect
    from grader.grade import grade
    from grader.pytest_plugin import SEED_ENV
    from grader.report.json_report import write_json
    from grader.report.table import print_table

    console = Console(stderr=False)
    seed = args.seed if args.seed is not None else int(os.environ.get(SEED_ENV, "0") or 0)
    try:
        n = len(collect(args.path, args.section))
        with Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("", total=n)
            result = grade(
                args.path, jobs=args.jobs, seed=seed, hidden=not args.public_only, only=args.section,
                progress=lambda name: bar.update(task, advance=1, description=name),
            )  # fmt: skip
    except GradingError as e:
        print(f"grade: {e}", file=sys.stderr)
        return 2
    print_table(result, console)
    if args.json:
        write_json(result, args.json)
    return 0


def _release(args) -> int:
    from grader.release import ReleaseError, release_exercises

    if args.out:
        from grader.student_repo import StudentRepoError, write_student_repo

        try:
            files = write_student_repo(args.out)
        except (StudentRepoError, ReleaseError) as e:
            print(f"release: {e}", file=sys.stderr)
            return 2
        print(f"wrote the student repository to {args.out} ({len(files)} files)")
        return 0

    try:
        changed = release_exercises(check=args.check)
    except ReleaseError as e:
        print(f"release: {e}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            print("exercises/ differs from what `python -m grader release` generates:")
            print("\n".join(f"  {c}" for c in changed))
            return 1
        print("exercises/ is up to date")
        return 0
    print(f"wrote {len(changed)} file(s) in exercises/" + "".join(f"\n  {c}" for c in changed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade a folder laid out like exercises/ and print the table")
    g.add_argument("path", nargs="?", type=Path, default=EXERCISES, help="folder to grade (default: exercises/)")
    g.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    g.add_argument("--jobs", type=int, default=2, help="sections graded at once (default 2)")
    g.add_argument("--seed", type=int, default=None, help="seed of the random test inputs")
    g.add_argument("--public-only", action="store_true", help="grade with the public tests only")
    g.add_argument("--section", action="append", help="grade only this section (repeatable)")
    g.set_defaults(func=_grade)

    r = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    r.add_argument("--check", action="store_true", help="only report files that differ (exit 1 if any)")
    r.add_argument("--out", type=Path, help="write a complete student repository into this (new) folder")
    r.set_defaults(func=_release)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
