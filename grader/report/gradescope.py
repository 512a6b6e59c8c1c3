"""Gradescope ``results.json`` (``--gradescope FILE``): score, max_score, one entry per test.

Gradescope's autograder format: ``{"score", "max_score", "output", "visibility", "tests": [{"name",
"score", "max_score", "status", "output", "visibility"}]}``; ``status`` is ``passed``/``failed``.
Hidden tests are shown ``after_published`` (their messages never contain inputs or expected values,
and their names are case numbers, not the parametrize ids that hold the inputs:
:func:`grader.results.shown_names`); public tests ``visible``.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.messages import t as msg
from grader.report.escape import one_line
from grader.report.table import points_line, public_only_line
from grader.results import GradeResult, shown_names


def render_gradescope(result: GradeResult) -> dict:
    tests = []
    for s in result.sections:
        for e in s.exercises:
            names = shown_names([(t.name, t.hidden) for t in e.tests])
            for t, name in zip(e.tests, names):
                tests.append({
                    "name": one_line(f"{s.name} · {e.name} · {name}"),
                    "score": t.score,
                    "max_score": t.max_score,
                    "status": "passed" if t.status == "passed" else "failed",
                    "output": one_line(t.message),
                    "output_format": "text",
                    "visibility": "after_published" if t.hidden else "visible",
                })  # fmt: skip
    output = [points_line(result)] + ([public_only_line(result)] if result.public_only else [])
    output += [f"{s.name}: {one_line(p)}" for s in result.sections for p in s.problems]
    if result.tampered:
        output.append(msg("summary.tampered") + " " + "; ".join(one_line(t) for t in result.tampered))
    return {
        "score": result.score,
        "max_score": result.max_score,
        "output": "\n".join(output),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_gradescope(result: GradeResult, path: Path) -> None:
    Path(path).write_text(json.dumps(render_gradescope(result), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
