"""Commands that connect the grade with other tools: ``gradebook`` (nbgrader export + batch CSV),
``gradescope-zip`` (Gradescope's autograder) and ``classroom-result`` (GitHub Classroom's reporter)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _gradebook(args) -> int:
    from grader.gradebook import GradebookError, load_policy, merge

    try:
        rows, warnings = merge(args.nbgrader, args.batch, args.out, load_policy(args.config))
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
    g.add_argument("--config", type=Path, default=None,
                   help="course settings with the [late] policy (default: grader/classroom/course.toml)")  # fmt: skip
    g.set_defaults(func=_gradebook)
