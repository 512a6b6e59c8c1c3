"""A student's first `pytest`: every public test of the untouched skeleton fails with a clear
"not implemented yet" message (no crash, no pass)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.sections import REPO, all_sections


@pytest.mark.parametrize("section", all_sections(), ids=lambda s: s.name)
def test_every_public_test_fails_as_not_implemented(section, tmp_path):
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--results-json={results}",
            str(section.public_tests),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "not implemented yet" in proc.stdout  # what the student reads in the terminal
    records = json.loads(results.read_text(encoding="utf-8"))
    assert records, "no public tests collected"
    passed = [r["name"] for r in records if r["status"] == "passed"]
    assert not passed, f"public tests that pass on the untouched skeleton: {passed}"
    unclear = [(r["name"], r["message"]) for r in records if "not implemented yet" not in r["message"]]
    assert not unclear, f"failures without the 'not implemented yet' message: {unclear[:3]}"
