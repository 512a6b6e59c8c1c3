"""The official seed reaches every submission of a batch and no report (``$COURSE_GRADING_SEED``)."""

from __future__ import annotations

import json

import grader.grade
from grader import batch as batch_module
from grader import cli
from grader.results import GradeResult


def test_batch_grades_with_the_secret_seed_and_reports_it_as_secret(tmp_path, monkeypatch):
    seen = []

    def fake_grade(root, **kwargs):
        seen.append(kwargs["seed"])
        return GradeResult(str(root), [], seed=kwargs["seed"])

    monkeypatch.setattr(grader.grade, "grade", fake_grade)
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    out = tmp_path / "grades.csv"
    batch_module.batch(tmp_path / "subs", out, seed=987654321, secret_seed=True, sandbox=False)
    assert seen == [987654321]
    report = json.loads((tmp_path / "grades_reports" / "alice.json").read_text(encoding="utf-8"))
    assert report["seed"] == "secret"
    assert "987654321" not in out.read_text(encoding="utf-8")


def test_cli_batch_passes_the_environments_seed_as_secret(tmp_path, monkeypatch):
    got = {}
    monkeypatch.setattr(batch_module, "batch", lambda *a, **k: got.update(k) or [])
    monkeypatch.setenv("COURSE_GRADING_SEED", "424242")
    (tmp_path / "subs").mkdir()
    assert cli.main(["batch", str(tmp_path / "subs"), "--csv", str(tmp_path / "g.csv")]) == 0
    assert got["seed"] == 424242 and got["secret_seed"] is True
