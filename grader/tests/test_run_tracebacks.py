"""Failures are not formatted for nothing: pytest's default long traceback re-parses the source
file of every frame, about a quarter of a second per failed test, which made a skeleton grade
twice as slowly as the reference and a student's first ``pytest`` take seconds per section.

* A graded run (``grader.run.run_section``) has pytest report each failure in one line
  (``--tb=line``): the records carry the course's own message of each failure
  (``course_message``, written from the exception) and nobody reads the run's console output.
* A student's ``pytest``: the failures whose report the course's plugin replaces (not implemented
  yet; a public test's message and the student's line) are not formatted by pytest first.

A probe plugin, loaded into the run through its environment, writes what pytest made of every
failure and counts pytest's traceback formatting (``ExceptionInfo.getrepr``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from grader.run import run_section
from grader.sections import EXERCISES, REPO, Section

SECTION = Section("sec38_attention")  # small and numpy-only

PROBE = """
import json
import os

import pytest

OUT = os.environ["COURSE_TB_PROBE_OUT"]
FORMATTED = []
_getrepr = pytest.ExceptionInfo.getrepr


def _counted(self, *args, **kwargs):
    FORMATTED.append(type(self.value).__name__)
    return _getrepr(self, *args, **kwargs)


pytest.ExceptionInfo.getrepr = _counted


def pytest_runtest_logreport(report):
    if report.failed:
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps({"nodeid": report.nodeid, "text": report.longreprtext}) + "\\n")


def pytest_unconfigure(config):
    with open(OUT + ".formatted", "w", encoding="utf-8") as f:
        json.dump(FORMATTED, f)
"""


def raising_submission(root):
    """The skeleton of SECTION with every ``NotImplementedError`` turned into a ``ValueError``: the
    failures of its hidden tests keep pytest's own report (not the not-implemented line)."""
    folder = root / SECTION.name
    shutil.copytree(EXERCISES / SECTION.name, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    module = SECTION.module_file(root)
    source = module.read_text(encoding="utf-8")
    assert "raise NotImplementedError(" in source
    module.write_text(source.replace("raise NotImplementedError(", "raise ValueError("), encoding="utf-8")
    return root


def probe_env(tmp_path) -> dict[str, str]:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "course_tb_probe.py").write_text(PROBE, encoding="utf-8")
    return {
        "PYTEST_ADDOPTS": "-p course_tb_probe",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(probe)]),
        "COURSE_TB_PROBE_OUT": str(tmp_path / "failures.jsonl"),
    }


def probed(env) -> tuple[list[dict], list[str]]:
    """(pytest's text of each failed report, the exception types whose traceback pytest formatted)."""
    out = env["COURSE_TB_PROBE_OUT"]
    lines = open(out, encoding="utf-8").read().splitlines() if os.path.isfile(out) else []
    with open(out + ".formatted", encoding="utf-8") as f:
        return [json.loads(line) for line in lines], json.load(f)


def test_graded_run_reports_each_failure_in_one_line(tmp_path):
    env = probe_env(tmp_path)
    outcome = run_section(SECTION, str(raising_submission(tmp_path / "sub")), hidden=True, env=env)
    failures, _ = probed(env)
    failed = [r for r in outcome.records if r["status"] in ("failed", "error")]
    assert not outcome.problems and failed and len(failures) == len(failed)
    hidden = [f for f in failures if f["nodeid"].startswith("grader/hidden/")]
    assert hidden, "no hidden test failed: the probe would see only the course's own one-line messages"
    long = [f for f in failures if any(line.startswith(">") for line in f["text"].splitlines())]  # source shown
    assert not long, f"pytest formatted a traceback of {len(long)} failures, e.g. {long[0]['text'][:600]}"
    assert all(r["message"] for r in failed)  # the records keep the grader's message of each failure


@pytest.mark.parametrize("submission", ["skeleton", "raising"])
def test_students_pytest_formats_no_traceback_it_replaces(tmp_path, submission):
    env = probe_env(tmp_path)
    root = EXERCISES if submission == "skeleton" else raising_submission(tmp_path / "sub")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--impl={root}", str(SECTION.public_tests)],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    failures, formatted = probed(env)
    assert proc.returncode == 1 and failures, proc.stdout[-2000:]
    assert not formatted, f"pytest formatted {len(formatted)} tracebacks that the course's report replaces"
    expected = "not implemented yet" if submission == "skeleton" else "raised ValueError: bag_of_words"
    assert expected in proc.stdout and all(f["text"].strip() for f in failures), proc.stdout[-2000:]
