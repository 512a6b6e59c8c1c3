"""Markdown report for a GitHub step summary or a pull-request comment (``--markdown FILE``)."""

from __future__ import annotations

import re
from pathlib import Path

from grader.report.escape import markdown_text
from grader.report.table import _pts, points_cell, points_line
from grader.results import GradeResult, protection_summary

MAX_FAILURES = 40  # per report: a comment must stay readable (and under GitHub's size limit)


def _cell(text: str) -> str:
    """Any dynamic text (it may come from the submission): literal, one line, capped."""
    return markdown_text(text)


def _name(text: str) -> str:
    """A section or exercise name: code when it is a plain identifier, else literal text."""
    return f"`{text}`" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,80}", text) else markdown_text(text)


def render_markdown(result: GradeResult) -> str:
    lines = [f"## Grade: {_pts(result.score)} / {_pts(result.max_score)}", ""]
    lines += ["| section | exercise | points | tests passed |", "|---|---|---:|---:|"]
    for s in result.sections:
        for e in s.exercises:
            lines.append(f"| {_name(s.name)} | {_name(e.name)} | {points_cell(e)} | {e.passed}/{e.total} |")
        lines.append(f"| **{_name(s.name)}** | **total** | **{_pts(s.score)}/{_pts(s.max_score)}** | |")
    lines.append("")
    problems = [(s.name, p) for s in result.sections for p in s.problems]
    if problems:
        lines += ["### Problems", ""] + [f"- **{_name(n)}**: {_cell(p)}" for n, p in problems] + [""]
    failures = [
        (s.name, e.name, t)
        for s in result.sections
        for e in s.exercises
        for t in e.tests
        if (t.status != "passed" or t.gated) and "not implemented yet" not in t.message
    ]
    if failures:
        lines += ["<details><summary>What failed and why</summary>", ""]
        for name, ex, t in failures[:MAX_FAILURES]:
            tag = " (hidden)" if t.hidden else ""
            lines.append(f"- {_name(name)} · {_name(ex)} · {_cell(t.name)}{tag}: {_cell(t.message)}")
        if len(failures) > MAX_FAILURES:
            lines.append(f"- … and {len(failures) - MAX_FAILURES} more")
        lines += ["", "</details>", ""]
    if result.tampered:
        lines += ["### Protected files changed", "",
                  "Graded with the course's own copies; these changes were ignored:", ""]  # fmt: skip
        lines += [f"- {_cell(t)}" for t in result.tampered] + [""]
    notes = []
    if not result.hidden_included:
        notes.append("Only the public tests were graded (the hidden tests are not available here).")
    if result.sandboxed:
        p = protection_summary(result)
        if p:
            notes.append(
                "Sandbox: separate uid " + ("yes" if p["separate_uid"] else "no")
                + f", network {p['network']}, grader files readable: " + ("yes" if p["grader_files_readable"] else "no")
                + ", limits " + ", ".join(f"{k}={v}" for k, v in p["limits"].items())
            )  # fmt: skip
    else:
        notes.append("Graded without the sandbox (trusted code only).")
    lines += [f"_{n}_" for n in notes] + ["", f"`{points_line(result)}`", ""]
    return "\n".join(lines)


def write_markdown(result: GradeResult, path: Path) -> None:
    Path(path).write_text(render_markdown(result), encoding="utf-8")
