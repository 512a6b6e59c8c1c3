"""Red team, reports: what a submission writes never reaches a report as hidden data, markup, a
workflow command, a forged points line or a spreadsheet formula (grader/tests/redteam/report_attacks.py).

One batch with the hidden tests (the leak is about hidden inputs) over three attacking
submissions and a control whose folder is named like a spreadsheet formula, then the Markdown and
terminal reports of ``grade`` for the injecting ones."""

from __future__ import annotations

import csv
import json
import re

import pytest
from helpers import run_cli
from markdown_it import MarkdownIt
from redteam import report_attacks

SECTION = report_attacks.SECTION


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redteam-reports")
    subs = folder / "submissions"
    subs.mkdir()
    names = [*report_attacks.REPORT_ATTACKS, report_attacks.FORMULA_FOLDER, report_attacks.MARKUP_FOLDER]
    for name in names:
        report_attacks.build(name, subs / name)
    out = folder / "grades.csv"
    proc = run_cli("batch", str(subs), "--csv", str(out), "--jobs", "2", "--call-timeout", "10",
                   "--section", SECTION.name, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    reports = {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.with_name("grades_reports").glob("*.json")
    }
    views = {}
    for name in ("inject_markup", "inject_at_import"):
        md = folder / f"{name}.md"
        grade = run_cli("grade", str(subs / name), "--section", SECTION.name, "--public-only", "--markdown", str(md))
        assert grade.returncode == 0, grade.stderr[-2000:]
        views[name] = {"md": md.read_text(encoding="utf-8"), "stdout": grade.stdout}
    return {"csv": out, "reports": reports, "views": views, "stdout": proc.stdout + proc.stderr}


def test_a_folder_named_with_markup_and_escapes_is_graded_and_shown_as_text(graded):
    with open(graded["csv"], encoding="utf-8") as f:
        students = [row["student"] for row in csv.DictReader(f)]
    assert "[bold]x [link=https:__evil.example]y red" in students, students  # one clean line, markup as text
    assert "\x1b" not in graded["stdout"]


def _tests(report, hidden):
    return [t for s in report["sections"] for e in s["exercises"] for t in e["tests"] if t["hidden"] == hidden]


def test_hidden_inputs_do_not_leak_through_the_submissions_exception(graded):
    report = graded["reports"]["leak_inputs"]
    hidden = _tests(report, hidden=True)
    assert hidden and all("LEAK" not in t["message"] and "array(" not in t["message"] for t in hidden)
    assert any("raised AssertionError" in t["message"] for t in hidden)


def test_public_tests_show_one_cleaned_line_of_the_submissions_message(graded):
    public = [t for t in _tests(graded["reports"]["leak_inputs"], hidden=False) if "LEAK" in t["message"]]
    assert public and all("\n" not in t["message"] and len(t["message"]) <= 320 for t in public)


def test_markdown_of_the_injection_renders_no_markup_of_the_attacker(graded):
    for name, view in graded["views"].items():
        html = MarkdownIt("commonmark", {"html": True}).enable("table").render(view["md"])
        for tag in ("<img", "<a ", "<h1", "<script"):
            assert tag not in html, f"{name}: {tag}"
        text = re.sub(r"<[^>]+>", "", html)
        assert "@octocat" not in text and "https://evil" not in text, name


def test_no_log_line_starts_with_the_attackers_text(graded):
    for name, view in graded["views"].items():
        lines = view["stdout"].splitlines()
        assert not report_attacks.forged_log_lines(view["stdout"]), name
        points = [line for line in lines if line.startswith("Points")]
        assert len(points) == 1 and "331.5" not in points[0], (name, points)
        assert "\x1b[31m" not in view["stdout"] and "\r" not in view["stdout"], name


def test_a_folder_named_like_a_formula_is_text_in_the_csv(graded):
    with open(graded["csv"], encoding="utf-8") as f:
        students = [row["student"] for row in csv.DictReader(f)]
    formula = [s for s in students if "HYPERLINK" in s]
    assert formula and all(s.startswith("'") for s in formula), students
