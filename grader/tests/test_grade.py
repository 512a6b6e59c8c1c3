"""`python -m grader grade`: full marks for the reference, 0 for the skeleton, clear messages and a
grade for the other sections when one is broken, exit 0 unless grading itself failed."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import exercise_scores, grade_json, run_cli

from grader.sections import EXERCISES, SOLUTIONS, all_sections

SECTIONS = all_sections()
FIRST, LAST = SECTIONS[0], SECTIONS[-1]


@pytest.fixture(scope="module")
def solutions_grade(tmp_path_factory):
    return grade_json(SOLUTIONS, tmp_path_factory.mktemp("g") / "grade.json")


@pytest.fixture(scope="module")
def skeleton_grade(tmp_path_factory):
    return grade_json(EXERCISES, tmp_path_factory.mktemp("g") / "grade.json")


def test_reference_solutions_get_full_marks(solutions_grade):
    assert solutions_grade["hidden_included"] is True
    assert [s["name"] for s in solutions_grade["sections"]] == [s.name for s in SECTIONS]
    assert solutions_grade["max_score"] > 0
    assert solutions_grade["score"] == solutions_grade["max_score"], [
        (s["name"], e["name"], t["name"], t["message"])
        for s in solutions_grade["sections"]
        for e in s["exercises"]
        for t in e["tests"]
        if t["status"] != "passed"
    ]


def test_json_report_has_the_documented_fields(solutions_grade):
    section = solutions_grade["sections"][0]
    exercise = section["exercises"][0]
    test = exercise["tests"][0]
    assert {"score", "max_score", "sections"} <= solutions_grade.keys()
    assert {"name", "score", "max_score", "exercises"} <= section.keys()
    assert {"name", "score", "max_score", "tests"} <= exercise.keys()
    assert {"name", "score", "max_score", "status", "message"} <= test.keys()
    assert section["name"].startswith("sec") and exercise["name"].isidentifier()


def test_skeleton_scores_zero_with_not_implemented_messages(skeleton_grade):
    assert skeleton_grade["score"] == 0
    assert skeleton_grade["max_score"] > 0
    messages = [t["message"] for s in skeleton_grade["sections"] for e in s["exercises"] for t in e["tests"]]
    assert messages and all("not implemented yet" in m for m in messages), {
        m for m in messages if "not implemented" not in m
    }


def test_skeleton_grade_prints_table_and_exits_zero():
    proc = run_cli("grade", "--section", FIRST.name)
    assert proc.returncode == 0, proc.stderr
    assert FIRST.name in proc.stdout and "Points 0/" in proc.stdout


def test_missing_path_is_a_clear_error(tmp_path):
    proc = run_cli("grade", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr and "no such folder" in proc.stderr


def _copy_of_solutions(tmp_path):
    root = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, root, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    return root


def _two_sections(tmp_path, breaker):
    """Grade FIRST (broken by `breaker`) and LAST (intact) of a copy of the solutions."""
    root = _copy_of_solutions(tmp_path)
    breaker(root)
    data = grade_json(root, tmp_path / "g.json", "--section", FIRST.name, "--section", LAST.name)
    by_name = {s["name"]: s for s in data["sections"]}
    return by_name[FIRST.name], by_name[LAST.name]


def test_missing_section_folder_scores_zero_and_others_are_graded(tmp_path):
    broken, intact = _two_sections(tmp_path, lambda root: shutil.rmtree(root / FIRST.name))
    assert broken["score"] == 0 and broken["max_score"] > 0
    assert any("section folder missing" in p for p in broken["problems"])
    assert intact["score"] == intact["max_score"] > 0


def test_syntax_error_names_the_file_and_costs_only_its_section(tmp_path):
    def breaker(root):
        path = FIRST.module_file(root)
        path.write_text(path.read_text(encoding="utf-8") + "\ndef broken(:\n", encoding="utf-8")

    broken, intact = _two_sections(tmp_path, breaker)
    assert broken["score"] == 0
    assert any(f"{FIRST.module}.py" in p and "syntax error" in p for p in broken["problems"]), broken["problems"]
    message = broken["exercises"][0]["tests"][0]["message"]
    assert "syntax error" in message and f"{FIRST.module}.py" in message
    assert intact["score"] == intact["max_score"] > 0


def test_exception_at_import_names_the_file_and_costs_only_its_section(tmp_path):
    def breaker(root):
        path = FIRST.module_file(root)
        path.write_text("raise RuntimeError('boom at import')\n" + path.read_text(encoding="utf-8"), encoding="utf-8")

    broken, intact = _two_sections(tmp_path, breaker)
    assert broken["score"] == 0
    message = broken["exercises"][0]["tests"][0]["message"]
    assert "boom at import" in message and f"{FIRST.module}.py" in message
    assert intact["score"] == intact["max_score"] > 0


def test_one_broken_exercise_costs_only_that_exercise(tmp_path):
    # mutant through the CLI: the first exercise of the first section raises
    def breaker(root):
        path = FIRST.module_file(root)
        src = path.read_text(encoding="utf-8")
        path.write_text(
            src.replace("### BEGIN SOLUTION", "raise ZeroDivisionError('oops')\n    ### BEGIN SOLUTION", 1),
            encoding="utf-8",
        )

    broken, _ = _two_sections(tmp_path, breaker)
    scores = exercise_scores(broken)
    first = broken["exercises"][0]["name"]
    assert scores[first][0] == 0
    assert all(s == m for name, (s, m) in scores.items() if name != first)
    assert "ZeroDivisionError" in broken["exercises"][0]["tests"][0]["message"]


def test_public_only_grading_excludes_hidden_tests(tmp_path):
    data = grade_json(SOLUTIONS, tmp_path / "g.json", "--public-only", "--section", FIRST.name)
    tests = [t for e in data["sections"][0]["exercises"] for t in e["tests"]]
    assert data["hidden_included"] is False and tests and not any(t["hidden"] for t in tests)


def test_unknown_section_is_a_clear_error():
    proc = run_cli("grade", "--section", "sec99_nothing")
    assert proc.returncode == 2 and "sec99_nothing" in proc.stderr


def test_same_seed_same_grade(tmp_path):
    a = grade_json(SOLUTIONS, tmp_path / "a.json", "--seed", "7", "--section", FIRST.name)
    b = grade_json(SOLUTIONS, tmp_path / "b.json", "--seed", "7", "--section", FIRST.name)
    strip = lambda d: json.dumps([[t["status"] for e in s["exercises"] for t in e["tests"]] for s in d["sections"]])  # noqa: E731
    assert a["seed"] == 7 and strip(a) == strip(b)


def test_submission_text_never_reaches_hidden_test_messages(tmp_path):
    """The first exercise raises AssertionError(repr(its arguments)) with escapes and a second
    line: hidden tests show only the type, public tests one cleaned line (the grader's own checks
    raise CheckFailure, so a student's AssertionError is the student's text)."""

    def breaker(root):
        path = FIRST.module_file(root)
        src = path.read_text(encoding="utf-8")
        bad = 'raise AssertionError("\\x1b[31m" + repr(locals()) + "\\r\\nsecond line")'
        path.write_text(src.replace("### BEGIN SOLUTION", bad + "\n    ### BEGIN SOLUTION", 1), encoding="utf-8")

    root = _copy_of_solutions(tmp_path)
    breaker(root)
    data = grade_json(root, tmp_path / "g.json", "--section", FIRST.name)
    exercise = data["sections"][0]["exercises"][0]
    hidden = [t["message"] for t in exercise["tests"] if t["hidden"] and t["status"] != "passed"]
    public = [t["message"] for t in exercise["tests"] if not t["hidden"] and t["status"] != "passed"]
    assert hidden and public and exercise["score"] == 0
    assert set(hidden) == {"raised AssertionError"}, set(hidden)
    for message in public:
        assert message.startswith("raised AssertionError: {"), message
        assert "second line" not in message and "\x1b" not in message and "[31m" not in message
        assert len(message) <= len("raised AssertionError: ") + 200
