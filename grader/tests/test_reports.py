"""Every report format is a view of one result model; tamper report; the secret seed stays secret."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from helpers import run_cli
from markdown_it import MarkdownIt

from grader import tamper
from grader.report.gradescope import render_gradescope
from grader.report.junit import render_junit
from grader.report.markdown import render_markdown
from grader.report.table import points_line
from grader.results import ExerciseResult, GradeResult, SectionResult, TestResult
from grader.sections import REPO, SOLUTIONS, Section

SMALL = Section("sec38_attention")


@pytest.fixture(autouse=True)
def _japanese(monkeypatch):
    """The default language, whatever $LANG the machine running the tests has."""
    monkeypatch.setenv("COURSE_LANG", "ja")


def sample() -> GradeResult:
    tests = [
        TestResult("test_a", "passed", 2, 2),
        TestResult("test_b", "failed", 0, 1, "softmax(x) has shape (3,), expected (4,) | <b>\x01", hidden=True),
        TestResult("test_c", "not run", 0, 1, "not run: the test run stopped before this test"),
    ]
    section = SectionResult("sec39_attention_math", [ExerciseResult("softmax", tests)], problems=["boom"])
    return GradeResult("sub", [section], tampered=["modified: tests/test_sec39_attention_math.py"])


def test_points_line_and_markdown():
    result = sample()
    assert points_line(result) == "Points 2/4"
    md = render_markdown(result)
    assert "## 採点結果 (grade): 2 / 4" in md and "`softmax`" in md and "Points 2/4" in md
    assert "(hidden)" in md and "\\|" in md and "<b>" not in md  # table-safe, no HTML from messages
    text = MarkdownIt("commonmark").enable("table").render(md)
    assert "modified: tests/test_sec39_attention_math.py" in text and "boom" in md


def test_junit_is_valid_xml_with_counts():
    root = ET.fromstring(render_junit(sample()).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert root.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["test_a", "test_b", "test_c"]


def test_gradescope_format():
    data = render_gradescope(sample())
    assert data["score"] == 2 and data["max_score"] == 4 and len(data["tests"]) == 3
    hidden = [t for t in data["tests"] if t["visibility"] == "after_published"]
    assert len(hidden) == 1 and hidden[0]["status"] == "failed"
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= data["tests"][0].keys()
    json.dumps(data)


def test_gradescope_names_hidden_tests_by_case_number_not_by_their_inputs():
    # oracle: the parametrize ids written here; results.json is what a student reads on Gradescope
    tests = [
        TestResult("test_x[float64-1000.0]", "failed", 0, 1, "mismatch", hidden=True),
        TestResult("test_x[float32-0.5]", "passed", 1, 1, hidden=True),
        TestResult("test_y[shape0]", "passed", 1, 1),
    ]
    section = SectionResult("sec39_attention_math", [ExerciseResult("softmax", tests)])
    names = [t["name"] for t in render_gradescope(GradeResult("sub", [section]))["tests"]]
    assert names == [
        "sec39_attention_math · softmax · test_x (case 1)",
        "sec39_attention_math · softmax · test_x (case 2)",
        "sec39_attention_math · softmax · test_y[shape0]",
    ], "hidden test names must not carry their parametrize ids (the hidden inputs)"


def test_tamper_report_names_changed_and_added_files(tmp_path):
    repo = tmp_path / "student"
    shutil.copytree(SOLUTIONS, repo / "exercises", ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    shutil.copytree(REPO / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "tox.ini", repo / "tox.ini")
    (repo / "tests" / f"test_{SMALL.name}.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    (repo / "tox.ini").write_text("[tox]\n", encoding="utf-8")
    (repo / "exercises" / SMALL.name / "conftest.py").write_text("", encoding="utf-8")
    root, findings = tamper.locate(repo)
    assert root == repo / "exercises"
    assert f"modified: tests/test_{SMALL.name}.py" in findings and "modified: tox.ini" in findings
    assert any("conftest.py" in f for f in findings)
    assert tamper.locate(REPO / "exercises")[1] == []


def test_grade_writes_every_format_and_keeps_the_official_seed_secret(tmp_path):
    out = {k: tmp_path / f"r.{k}" for k in ("json", "md", "xml", "gs")}
    proc = run_cli(
        "grade", str(SOLUTIONS), "--section", SMALL.name, "--public-only", "--json", str(out["json"]),
        "--markdown", str(out["md"]), "--junit", str(out["xml"]), "--gradescope", str(out["gs"]),
        env={"COURSE_GRADING_SEED": "987654321"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out["json"].read_text(encoding="utf-8"))
    assert data["score"] == data["max_score"] > 0 and data["sandboxed"] is True
    assert data["seed"] == "secret"
    assert "Points" in proc.stdout and "Sandboxed" not in proc.stdout  # the limits: --verbose and the JSON
    assert data["protections"]["limits"]
    for path in out.values():
        assert "987654321" not in path.read_text(encoding="utf-8")
    assert json.loads(out["gs"].read_text(encoding="utf-8"))["score"] == data["score"]
    ET.fromstring(out["xml"].read_text(encoding="utf-8").split("\n", 1)[1])


def test_bonus_and_gated_tests_are_shown_as_such():
    gated = TestResult("test_edge", "passed", 0, 1, "基本テストがすべて通ってから加点", needs_core=True, gated=True)
    core = TestResult("test_core", "failed", 0, 1, "softmax(x): values differ")
    bonus = ExerciseResult("generate_with_kv_cache", [TestResult("test_same_ids", "passed", 0, 0)], budget=0)
    section = SectionResult("sec42_gpt", [ExerciseResult("softmax", [core, gated], budget=2), bonus])
    md = render_markdown(GradeResult("sub", [section]))
    assert "ボーナス (bonus, 0 点)" in md and "| 1/1 |" in md  # the bonus row: tests passed, no 0/0 points
    assert "| 0/2 |" in md  # a gated test did not count as passed


def public_only_sample() -> GradeResult:
    """softmax: budget 8, the public test's share 2 (hidden weight 3 of 4), passed."""
    ex = ExerciseResult("softmax", [TestResult("test_a", "passed", 2, 2)], budget=8, public_max=2)
    return GradeResult("sub", [SectionResult("sec39_attention_math", [ex])], hidden_included=False)


def _terminal(result, **kwargs) -> str:
    import io

    from rich.console import Console

    from grader.report.table import print_table

    out = io.StringIO()
    print_table(result, Console(file=out, width=160, force_terminal=False, color_system=None), **kwargs)
    return out.getvalue()


def test_public_only_points_say_public_share_of_the_budget_everywhere():
    """Oracle: by hand — public 2 / 2 of the official 8; the hidden tests grade the other 6."""
    result = public_only_sample()
    assert points_line(result) == "Points 2/2 (公開テストのみ (public tests only)、配点 (budget) 8)"
    text = _terminal(result)
    assert "2/2 (配点 8)" in text and "非公開テスト (hidden tests) が採点" in text and "残りの 6 点" in text
    assert text.rstrip().splitlines()[-1] == points_line(result)
    md = render_markdown(result)
    assert "2/2 (配点 8)" in md and "配点 (budget) 8 点のうち" in md and "残りの 6 点" in md
    data = result.to_dict()
    assert data["max_score"] == 2 and data["official_max_score"] == 8 and data["hidden_included"] is False
    assert data["sections"][0]["exercises"][0]["official_max_score"] == 8


def test_public_only_points_in_english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")
    result = public_only_sample()
    assert points_line(result) == "Points 2/2 (public tests only, of the official 8)"
    text = _terminal(result)
    assert "2/2 of 8" in text and "the hidden tests grade the remaining 6" in text and "points" in text
    assert "## Grade of the public tests: 2 / 2 of the official 8" in render_markdown(result)


def test_official_grade_shows_points_as_before():
    result = sample()
    text = _terminal(result)
    assert points_line(result) == "Points 2/4" and "配点" not in text and "hidden tests" not in text


def test_sandbox_limits_only_with_verbose():
    """The limits line is noise for a student: --verbose only (and always in the JSON)."""
    result = sample()
    result.sections[0].sandbox = {"protections": {"limits": {"cpu_s": 60}, "network": "none"}}
    assert "Sandboxed" not in _terminal(result)
    assert "Sandboxed" in _terminal(result, verbose=True) and "cpu_s=60" in _terminal(result, verbose=True)
    assert result.to_dict()["protections"]["limits"] == {"cpu_s": 60}


def test_bonus_rows_say_bonus_in_every_view(monkeypatch):
    bonus = ExerciseResult("generate_with_kv_cache", [TestResult("test_same_ids", "passed", 0, 0)], budget=0)
    result = GradeResult("sub", [SectionResult("sec42_gpt", [bonus])])
    assert "ボーナス (bonus, 0 点)" in _terminal(result) and "ボーナス (bonus, 0 点)" in render_markdown(result)
    row = next(line for line in _terminal(result).splitlines() if "generate_with_kv_cache" in line)
    assert "0/0" not in row and "1/1" in row  # its tests passed / total, no unexplained 0/0 points
    monkeypatch.setenv("COURSE_LANG", "en")
    assert "bonus (0 points)" in _terminal(result)
