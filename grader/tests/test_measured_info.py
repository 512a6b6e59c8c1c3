"""A passing test can report what it measured (accuracy, seconds) with record_property("info", ...);
the results record keeps it as the test's message, and a failing test keeps its failure message."""

import json
import subprocess
import sys

from grader.sections import REPO

TESTS = """
import pytest

from grader.checks import CheckFailure

@pytest.mark.exercise("demo", points=1)
def test_measures(record_property):
    record_property("info", "accuracy 0.975")

@pytest.mark.exercise("demo", points=1)
def test_fails(record_property):
    record_property("info", "accuracy 0.1")
    raise CheckFailure("accuracy 0.1 < 0.8")  # a check's message is the grader's own text
"""


def test_info_of_passing_tests_is_recorded(tmp_path):
    (tmp_path / "test_demo.py").write_text(TESTS, encoding="utf-8")
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(tmp_path),
         f"--results-json={results}", str(tmp_path / "test_demo.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""},
    )  # fmt: skip
    records = {r["name"]: r for r in json.loads(results.read_text(encoding="utf-8"))}
    assert records["test_measures"]["status"] == "passed"
    assert records["test_measures"]["message"] == "accuracy 0.975"
    assert records["test_fails"]["status"] == "failed"
    assert records["test_fails"]["message"] == "accuracy 0.1 < 0.8"
