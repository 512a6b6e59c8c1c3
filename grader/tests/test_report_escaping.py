"""Nothing a submission writes reaches a report as markup, a command or a formula.

The attacker's text (an exception message of a public test, a file name, an import error, a folder
name) is put into every field of a result, and every report format is rendered: Markdown through a
real Markdown renderer (markdown-it-py, CommonMark + GFM tables, raw HTML enabled so that an
injection would show), the terminal table as a CI log, JUnit XML through an XML parser, CSV
through the csv module, Gradescope JSON."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt
from redteam.report_attacks import forged_log_lines
from rich.console import Console

from grader.report import escape
from grader.report.gradescope import render_gradescope
from grader.report.junit import render_junit
from grader.report.markdown import render_markdown
from grader.report.table import print_table
from grader.results import ExerciseResult, GradeResult, SectionResult, TestResult

ATTACK = (
    "boom\r\n# Heading\n::error file=x::forged\nPoints 331.5/331.5\n"
    "| a | b |\n|---|---|\n<img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[click](https://evil.example/x) ![i](https://evil.example/i.png) https://evil.example/bare www.evil.example "
    "@octocat #1 **bold** `code` \x1b[31mred\x1b[0m \u202eevil\u202c zero\u200bwidth <!-- c --> &amp; \\"
)


def hostile_result(attack: str = ATTACK) -> GradeResult:
    tests = [
        TestResult("test_public", "failed", 0, 1, "raised ValueError: " + attack),
        TestResult("test_hidden", "failed", 0, 1, "raised ValueError", hidden=True),
        TestResult("test_ok", "passed", 1, 1, attack),  # a measured note, also shown
    ]
    section = SectionResult("sec39_attention_math", [ExerciseResult("softmax", tests)], problems=[attack])
    return GradeResult('=HYPERLINK("https://evil.example")' + attack, [section], tampered=["added: " + attack])


def md_html(attack: str = ATTACK) -> str:
    return (
        MarkdownIt("commonmark", {"html": True, "linkify": False})
        .enable("table")
        .render(render_markdown(hostile_result(attack)))
    )


def tags(html: str) -> list[str]:
    return sorted(re.findall(r"<(/?[a-zA-Z][a-zA-Z0-9]*)", html))


# --- the base cleaner -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("a\r\nb", "a b"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("x\x00y\x7fz\x85", "xyz"),
        ("bidi\u202eevil\u202c", "bidievil"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("日本語 テスト", "日本語 テスト"),
    ],
)
def test_one_line_removes_controls_and_keeps_text(raw, clean):
    assert escape.one_line(raw) == clean


def test_one_line_caps_length():
    assert len(escape.one_line("x" * 1000, 50)) == 50


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_renders_no_tag_of_the_attacker():
    # oracle: the same report with harmless text has exactly the same HTML elements
    assert tags(md_html()) == tags(md_html("harmless words")), "submission text became markup"
    assert "<!--" not in md_html()


def test_markdown_keeps_the_grade_table_intact():
    md = render_markdown(hostile_result())
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    rows = [t for t in tokens if t.type == "tr_open"]
    cells_per_row = []
    count = 0
    for t in tokens:
        if t.type == "tr_open":
            count = 0
        elif t.type in ("td_open", "th_open"):
            count += 1
        elif t.type == "tr_close":
            cells_per_row.append(count)
    assert len(rows) == 3 and set(cells_per_row) == {4}  # header, softmax, section total


def test_markdown_breaks_mentions_references_and_autolinks():
    text = re.sub(r"<[^>]+>", "", md_html())
    for forged in ("@octocat", "#1", "https://", "www.evil"):
        assert forged not in text, f"{forged!r} would be linked by GitHub"
    assert "octocat" in text  # still readable


def test_markdown_has_one_points_line_and_no_heading_from_the_attacker():
    md = render_markdown(hostile_result())
    assert [line for line in md.splitlines() if "Points" in line and "331.5" not in line]
    assert sum(line.startswith("#") for line in md.splitlines()) == len(
        [line for line in md.splitlines() if line.startswith(("## 採点結果", "## 公開テスト", "## Grade", "### "))]
    )


# --- terminal / GitHub log --------------------------------------------------------------------


def test_no_log_line_starts_with_student_text():
    out = io.StringIO()
    print_table(hostile_result(), Console(file=out, width=80, force_terminal=False, color_system=None))
    lines = out.getvalue().splitlines()
    assert not forged_log_lines(out.getvalue()), "a workflow command, points line or markup could be forged"
    assert [line for line in lines if line.startswith("Points")] == ["Points 1/3"]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


@pytest.mark.parametrize(
    "line", ["::error::x", "  ::warning file=a::b", "##[error]x", "Points 331.5/331.5", "\t# Heading"]
)
def test_the_log_check_finds_a_forged_line(line):
    """The check above can fail: a log line that is the attacker's text, even indented."""
    assert forged_log_lines(f"Points 1/3\n{line}\n") == [line]


# --- JUnit, CSV, Gradescope -------------------------------------------------------------------


def test_junit_parses_and_holds_no_control_characters():
    xml = render_junit(hostile_result())
    root = ET.fromstring(xml.split("\n", 1)[1])
    failure = next(root.iter("failure"))
    assert "\x1b" not in failure.get("message") and "\r" not in failure.get("message")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_formula_cells_are_text(value):
    buf = io.StringIO()
    csv.writer(buf).writerow([escape.csv_cell(value)])
    cell = next(csv.reader(io.StringIO(buf.getvalue())))[0]
    assert cell.startswith("'")


def test_csv_plain_values_unchanged():
    assert escape.csv_cell("alice") == "alice" and escape.csv_cell(3.5) == 3.5


def test_gradescope_output_is_plain_text_on_one_line():
    data = render_gradescope(hostile_result())
    assert data["output_format"] == "text"
    for t in data["tests"]:
        assert t["output_format"] == "text" and "\n" not in t["output"] and "\x1b" not in t["output"]
