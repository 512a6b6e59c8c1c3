"""A graded run (``grader.run.run_section``) has pytest report each failure in one line, no source.

The records carry the course's own message of each failure (``course_message``, written from the
exception), and nobody reads the run's console output; pytest's default long traceback, which
re-parses the source file of every frame, cost about a quarter of a second per failed test: a
skeleton took twice the reference's time to grade. A probe plugin, loaded into the graded run
through the run's environment, writes what pytest made of every failure.
"""

from __future__ import annotations

import json
import os
import shutil

from grader.run import run_section
from grader.sections import EXERCISES, REPO, Section

SECTION = Section("sec38_attention")  # small and numpy-only

PROBE = """
import json
import os


def pytest_runtest_logreport(report):
    if report.failed:
        with open(os.environ["COURSE_TB_PROBE_OUT"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"nodeid": report.nodeid, "text": report.longreprtext}) + "\\n")
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


def probed_run(tmp_path):
    """(the run's outcome, pytest's text of each failed report)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "course_tb_probe.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "failures.jsonl"
    env = {
        "PYTEST_ADDOPTS": "-p course_tb_probe",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(probe)]),
        "COURSE_TB_PROBE_OUT": str(out),
    }
    outcome = run_section(SECTION, str(raising_submission(tmp_path / "sub")), hidden=True, env=env)
    lines = out.read_text(encoding="utf-8").splitlines() if out.is_file() else []
    return outcome, [json.loads(line) for line in lines]


def test_graded_run_reports_each_failure_in_one_line(tmp_path):
    outcome, failures = probed_run(tmp_path)
    failed = [r for r in outcome.records if r["status"] in ("failed", "error")]
    assert not outcome.problems and failed and len(failures) == len(failed)
    hidden = [f for f in failures if f["nodeid"].startswith("grader/hidden/")]
    assert hidden, "no hidden test failed: the probe would see only the course's own one-line messages"
    long = [f for f in failures if any(line.startswith(">") for line in f["text"].splitlines())]  # source shown
    assert not long, f"pytest formatted a traceback of {len(long)} failures, e.g. {long[0]['text'][:600]}"
    assert all(r["message"] for r in failed)  # the records keep the grader's message of each failure
