"""A test run that is killed part-way still reports the tests it finished (``grader.run.read_records``
reads the results file and its progress lines), and a run that ends normally leaves one JSON list."""

import json
import os
import subprocess
import sys

from grader.run import read_records
from grader.sections import REPO

TESTS = """
import os, signal
import pytest

@pytest.mark.exercise("demo", points=1)
def test_a_passes():
    pass

@pytest.mark.exercise("demo", points=1)
def test_b_fails():
    assert False, "b is wrong"

@pytest.mark.exercise("demo", points=1)
def test_c_kills_the_run():
    if os.environ.get("DEMO_KILL") == "1":
        os.kill(os.getpid(), signal.SIGKILL)

@pytest.mark.exercise("demo", points=1)
def test_d_never_reached():
    pass
"""


def run_demo(tmp_path, kill: bool):
    (tmp_path / "test_demo.py").write_text(TESTS, encoding="utf-8")
    results = tmp_path / "results.json"
    env = {"PYTHONPATH": str(REPO), "PATH": "", "DEMO_KILL": "1" if kill else "0"}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-c", str(REPO / "grader" / "pytest.ini"),
         "--rootdir", str(tmp_path), f"--results-json={results}", str(tmp_path / "test_demo.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    return results


def test_killed_run_keeps_the_tests_it_finished(tmp_path):
    """Oracle: the order of the demo tests; the kill comes during the third."""
    results = run_demo(tmp_path, kill=True)
    status = {r["name"]: r["status"] for r in read_records(results)}
    assert status == {"test_a_passes": "passed", "test_b_fails": "failed", "test_c_kills_the_run": "not run",
                      "test_d_never_reached": "not run"}, status  # fmt: skip


def test_results_file_alone_would_lose_them(tmp_path):
    """The mutant reader: the results file without its progress lines knows nothing finished."""
    results = run_demo(tmp_path, kill=True)
    alone = {r["name"]: r["status"] for r in json.loads(results.read_text(encoding="utf-8"))}
    assert set(alone.values()) == {"not run"}


def test_finished_run_leaves_one_complete_list(tmp_path):
    results = run_demo(tmp_path, kill=False)
    assert not os.path.exists(f"{results}.progress")
    status = {r["name"]: r["status"] for r in json.loads(results.read_text(encoding="utf-8"))}
    assert status == {"test_a_passes": "passed", "test_b_fails": "failed", "test_c_kills_the_run": "passed",
                      "test_d_never_reached": "passed"}, status  # fmt: skip
    assert read_records(results) == json.loads(results.read_text(encoding="utf-8"))


def test_cut_off_progress_line_is_ignored(tmp_path):
    results = run_demo(tmp_path, kill=True)
    with open(f"{results}.progress", "a", encoding="utf-8") as f:
        f.write('{"nodeid": "test_demo.py::test_d_never_reached", "status": "pas')
    status = {r["name"]: r["status"] for r in read_records(results)}
    assert status["test_d_never_reached"] == "not run" and status["test_a_passes"] == "passed"
