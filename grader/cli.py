"""Command line: ``python -m grader grade [PATH]``, ``python -m grader batch DIR`` and
``python -m grader release``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.sections import EXERCISES


def _seed(args) -> tuple[int, bool]:
    """(seed, secret?): ``--seed`` is public; ``$COURSE_GRADING_SEED`` is the official, secret one."""
    from grader.sections import SEED_ENV

    if args.seed is not None:
        return args.seed, False
    value = os.environ.get(SEED_ENV, "")
    return (int(value), True) if value else (0, False)


def _grade(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.collect import GradingError, collect
    from grader.grade import UnsafeGrading, grade
    from grader.report.table import print_table
    from grader.tamper import locate

    # a log (not a terminal) gets the whole table: section and exercise names are never cut
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 160)
    seed, secret = _seed(args)
    try:
        n = len(collect(locate(args.path)[0] if args.path.exists() else args.path, args.section))
        with Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("", total=n)
            result = grade(
                args.path, jobs=args.jobs, seed=seed, hidden=not args.public_only, only=args.section,
                progress=lambda name: bar.update(task, advance=1, description=name),
                sandbox=not args.no_sandbox, call_timeout=args.call_timeout, trusted=args.trusted,
            )  # fmt: skip
    except UnsafeGrading as e:
        print(f"grade: refused: {e}", file=sys.stderr)
        return 3
    except GradingError as e:
        print(f"grade: {e}", file=sys.stderr)
        return 2
    if secret:
        result.seed = None
    print_table(result, console, verbose=args.verbose)
    write_reports(result, args)
    return 0


def write_reports(result, args) -> None:
    if args.json:
        from grader.report.json_report import write_json

        write_json(result, args.json)
    if args.markdown:
        from grader.report.markdown import write_markdown

        write_markdown(result, args.markdown)
    if args.junit:
        from grader.report.junit import write_junit

        write_junit(result, args.junit)
    if args.gradescope:
        from grader.report.gradescope import write_gradescope

        write_gradescope(result, args.gradescope)


def _batch(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.batch import batch, submissions

    if not args.folder.is_dir():
        print(f"batch: {args.folder}: no such folder", file=sys.stderr)
        return 2
    seed, secret = _seed(args)
    if _refuse_hidden(args, "batch"):
        return 3
    subs = submissions(args.folder)
    with Progress(
        TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=Console(stderr=True),
    ) as bar:  # fmt: skip
        task = bar.add_task("", total=len(subs))
        rows = batch(
            args.folder, args.csv, jobs=args.jobs, seed=seed, secret_seed=secret, reports=args.reports,
            only=args.section, sandbox=not args.no_sandbox, call_timeout=args.call_timeout, timeout=args.timeout,
            hidden=not args.public_only, deadline=args.deadline,
            progress=lambda row: bar.update(task, advance=1, description=f"{row['student']}: {row.get('score', 0):g}"),
        )  # fmt: skip
    failed = [r for r in rows if str(r.get("status", "")).startswith("not graded")]
    print(f"graded {len(rows)} submission(s) → {args.csv}" + (f"; {len(failed)} could not be graded" if failed else ""))
    return 0


def _refuse_hidden(args, command: str) -> bool:
    """Batch: refuse once, before any submission, when hidden grading would be unsafe here."""
    from grader.grade import TRUSTED_ENV, hidden_available, refusal, view_unavailable

    if args.trusted:
        os.environ[TRUSTED_ENV] = "1"  # read by every grade() of this batch
        return False
    if args.no_sandbox or args.public_only or not hidden_available():
        return False
    reason = view_unavailable()
    if reason:
        print(f"{command}: refused: {refusal(reason)}", file=sys.stderr)
    return bool(reason)


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
    from grader import suite_weights

    try:
        changed = release_exercises(check=args.check)
        if suite_weights.sync(check=args.check):
            changed.append(str(suite_weights.WEIGHTS_FILE.relative_to(Path(__file__).resolve().parent.parent)))
    except (ReleaseError, RuntimeError) as e:
        print(f"release: {e}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            print("exercises/ (or grader/suite_weights.json) differs from what `python -m grader release` generates:")
            print("\n".join(f"  {c}" for c in changed))
            return 1
        print("exercises/ is up to date")
        return 0
    print(f"wrote {len(changed)} file(s)" + "".join(f"\n  {c}" for c in changed))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the random test inputs (default: $COURSE_GRADING_SEED, kept out of reports, else 0)")  # fmt: skip
    p.add_argument("--section", action="append", help="grade only this section (repeatable)")
    p.add_argument("--public-only", action="store_true", help="grade with the public tests only")
    p.add_argument("--no-sandbox", action="store_true",
                   help="import the code into the test processes instead of sandboxed workers (trusted code only)")  # fmt: skip
    p.add_argument("--trusted", action="store_true",
                   help="run the hidden tests even where the sandbox cannot build its filesystem view "
                        "(no root and no user namespaces): only for code you trust")  # fmt: skip
    p.add_argument(
        "--call-timeout", type=float, default=None, help="seconds per call of a student function (default 60)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser(
        "grade", help="grade a folder laid out like exercises/ (or a student repository) and print the table"
    )
    g.add_argument("path", nargs="?", type=Path, default=EXERCISES, help="folder to grade (default: exercises/)")
    g.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    g.add_argument("--markdown", type=Path, help="also write a Markdown report (GitHub step summary / PR comment)")
    g.add_argument("--junit", type=Path, help="also write JUnit XML")
    g.add_argument("--gradescope", type=Path, help="also write Gradescope's results.json")
    g.add_argument("--jobs", type=int, default=2, help="sections graded at once (default 2)")
    g.add_argument("--verbose", action="store_true", help="also print the sandbox's limits (always in --json)")
    g.add_argument("--lang", choices=("ja", "en"), default=None,
                   help="language of the report and messages (default: English if $LC_ALL/$LANG starts with en, else Japanese)")  # fmt: skip
    _common(g)
    g.set_defaults(func=_grade)

    b = sub.add_parser("batch", help="grade every sub-folder of a folder (one submission each) into a CSV")
    b.add_argument("folder", type=Path, help="folder with one sub-folder per submission")
    b.add_argument("--csv", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    b.add_argument("--reports", type=Path, default=None, help="folder for the per-student JSON reports")
    b.add_argument("--jobs", type=int, default=2, help="sections run at once, longest first (default 2)")
    b.add_argument(
        "--timeout", type=float, default=900, help="seconds per section of a submission before it is stopped"
    )
    b.add_argument("--deadline", default=None, help="ISO 8601 deadline for the late_days column (default: course.toml)")
    _common(b)
    b.set_defaults(func=_batch)

    r = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    r.add_argument("--check", action="store_true", help="only report files that differ (exit 1 if any)")
    r.add_argument("--out", type=Path, help="write a complete student repository into this (new) folder")
    r.set_defaults(func=_release)

    from grader.classroom.cli import register
    from grader.integrations import register as register_integrations

    register(sub)
    register_integrations(sub)
    from grader.nbgrader_collect import register as register_nbgrader_collect

    register_nbgrader_collect(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "lang", None):
        from grader.messages import set_lang

        set_lang(args.lang)  # also for the test processes the grade starts
    return args.func(args)
