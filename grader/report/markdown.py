"""Markdown report for a GitHub step summary or a pull-request comment (``--markdown FILE``)."""

from __future__ import annotations

import re
from pathlib import Path

from grader.messages import t
from grader.report.escape import markdown_text
from grader.report.table import _pts, _share, points_cell, points_line, public_only_line, score_text
from grader.results import GradeResult

MAX_FAILURES = 40  # per report: a comment must stay readable (and under GitHub's size limit)


def _cell(text: str) -> str:
    """Any dynamic text (it may come from the submission): literal, one line, capped."""
    return markdown_text(text)


def _name(text: str) -> str:
    """A section or exercise name: code when it is a plain identifier, else literal text."""
    return f"`{text}`" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,80}", text) else markdown_text(text)


def render_markdown(result: GradeResult) -> str:
    if result.public_only:
        score, max_score, budget = _share(result.score), _share(result.max_score), _pts(result.official_max)
        lines = [t("md.grade_public", score=score, max=max_score, budget=budget), ""]
    else:
        lines = [t("md.grade", score=_pts(result.score), max=_pts(result.max_score)), ""]
    points_head = t("col.public_points") if result.public_only else t("col.points")
    lines += [
        f"| {t('col.section')} | {t('col.exercise')} | {points_head} | {t('col.passed')} |",
        "|---|---|---:|---:|",
    ]
    for s in result.sections:
        for e in s.exercises:
            lines.append(f"| {_name(s.name)} | {_name(e.name)} | {points_cell(e)} | {e.passed}/{e.total} |")
        total = score_text(s.score, s.max_score, s.official_max)
        lines.append(f"| **{_name(s.name)}** | **{t('row.total')}** | **{total}** | |")
    lines.append("")
    problems = [(s.name, p) for s in result.sections for p in s.problems]
    if problems:
        lines += [t("md.problems"), ""] + [f"- **{_name(n)}**: {_cell(p)}" for n, p in problems] + [""]
    failures = [
        (s.name, e.name, test)
        for s in result.sections
        for e in s.exercises
        for test in e.tests
        if (test.status != "passed" or test.gated) and "not implemented yet" not in test.message
    ]
    if failures:
        lines += [f"<details><summary>{t('md.failures')}</summary>", ""]
        for name, ex, test in failures[:MAX_FAILURES]:
            tag = t("tag.hidden") if test.hidden else ""
            lines.append(f"- {_name(name)} · {_name(ex)} · {_cell(test.name)}{tag}: {_cell(test.message)}")
        if len(failures) > MAX_FAILURES:
            lines.append(f"- {t('md.more', n=len(failures) - MAX_FAILURES)}")
        lines += ["", "</details>", ""]
    if result.tampered:
        lines += [t("md.tampered"), "", t("md.tampered_note"), ""]
        lines += [f"- {_cell(name)}" for name in result.tampered] + [""]
    notes = []
    if result.public_only:
        notes.append(public_only_line(result))
    if not result.sandboxed:
        notes.append(t("summary.no_sandbox"))
    lines += [f"_{n}_" for n in notes] + ["", f"`{points_line(result)}`", ""]
    return "\n".join(lines)


def write_markdown(result: GradeResult, path: Path) -> None:
    Path(path).write_text(render_markdown(result), encoding="utf-8")
