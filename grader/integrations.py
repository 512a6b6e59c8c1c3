"""Commands that connect the grade with other tools: ``gradebook`` (nbgrader export + batch CSV),
``gradescope-zip`` (Gradescope's autograder) and ``classroom-result`` (GitHub Classroom's reporter)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _gradebook(args) -> int:
    from grader.gradebook import GradebookError, load_policy, merge

    try:
        rows, warnings = merge(args.nbgrader, args.batch, args.out, load_policy(args.config), args.prefix)
    except GradebookError as e:
        print(f"gradebook: {e}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"gradebook: warning: {w}", file=sys.stderr)
    print(f"wrote {len(rows)} student(s) → {args.out}" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gradebook", help="merge nbgrader's export (written answers) with the batch CSV by student")
    g.add_argument("--nbgrader", type=Path, required=True,
                   help="CSV of `nbgrader export --exporter grader.nbgrader_plugins.WrittenExport --to FILE`")  # fmt: skip
    g.add_argument("--batch", type=Path, required=True, help="CSV of `python -m grader batch DIR --csv FILE`")
    g.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="CSV to write (default gradebook.csv)")
    g.add_argument("--prefix", default="",
                   help="batch folder names start with this (e.g. ch6- for ch6-<student>): removed to get the student id")  # fmt: skip
    g.add_argument("--config", type=Path, default=None,
                   help="course settings with the [late] policy (default: grader/classroom/course.toml)")  # fmt: skip
    g.set_defaults(func=_gradebook)

    z = sub.add_parser(
        "gradescope-zip", help="build Gradescope's autograder zip (setup.sh, run_autograder, hidden tests)"
    )
    z.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write (default autograder.zip)")
    z.add_argument("--section", action="append", help="grade only this section (repeatable; default: all)")
    z.add_argument("--seed", type=int, default=0,
                   help="seed of the random test inputs (kept in the zip; $COURSE_GRADING_SEED on Gradescope wins)")  # fmt: skip
    z.add_argument("--trusted", action="store_true",
                   help="grade even where the container cannot build the sandbox's filesystem view")  # fmt: skip
    z.set_defaults(func=_gradescope_zip)

    c = sub.add_parser("classroom-result",
                       help="GitHub Classroom's reporter format: the step output `result` from a grade report")  # fmt: skip
    c.add_argument("report", type=Path, help="the grade's JSON report (`python -m grader grade --json FILE`)")
    c.add_argument("--name", default="result", help="name of the step output (default result)")
    c.set_defaults(func=_classroom_result)


def _gradescope_zip(args) -> int:
    from grader.gradescope_zip import build_zip

    try:
        n = build_zip(args.out, sections=args.section, seed=args.seed, trusted=args.trusted)
    except ValueError as e:
        print(f"gradescope-zip: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({n} files): upload it as the assignment's autograder on Gradescope")
    return 0


def _classroom_result(args) -> int:
    import json
    import os

    from grader.report.classroom import encode

    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        value = encode(report)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"classroom-result: {args.report}: not a grade report ({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{args.name}={value}\n")
    else:
        print(value)
    return 0
