"""The official seed reaches every submission of a batch and no report (``$COURSE_GRADING_SEED``)."""

from __future__ import annotations

import json

import grader.grade
from grader import batch as batch_module
from grader import cli
from grader.run import RunOutcome
from grader.sections import all_sections


def test_batch_grades_with_the_secret_seed_and_reports_it_as_secret(tmp_path, monkeypatch):
    seen = []

    def fake_run_section(section, impl, **kwargs):
        seen.append((section.name, kwargs["seed"]))
        return RunOutcome([])

    monkeypatch.setattr(grader.grade, "run_section", fake_run_section)
    monkeypatch.setenv(grader.grade.WARM_ENV, "0")  # no section really runs: no warm runner either
    for student in ("alice", "bob"):
        (tmp_path / "subs" / student).mkdir(parents=True)
    out = tmp_path / "grades.csv"
    batch_module.batch(tmp_path / "subs", out, seed=987654321, secret_seed=True, sandbox=False)
    from grader.grade import hidden_available, section_parts

    runs = [s.name for s in all_sections() for _ in section_parts(s, hidden_available())]  # a part: a run
    assert sorted(seen) == sorted((name, 987654321) for name in runs for _ in range(2))
    for student in ("alice", "bob"):
        report = json.loads((tmp_path / "grades_reports" / f"{student}.json").read_text(encoding="utf-8"))
        assert report["seed"] == "secret"
    assert "987654321" not in out.read_text(encoding="utf-8")


def test_cli_batch_passes_the_environments_seed_as_secret(tmp_path, monkeypatch):
    got = {}
    monkeypatch.setattr(batch_module, "batch", lambda *a, **k: got.update(k) or [])
    monkeypatch.setenv("COURSE_GRADING_SEED", "424242")
    (tmp_path / "subs").mkdir()
    assert cli.main(["batch", str(tmp_path / "subs"), "--csv", str(tmp_path / "g.csv")]) == 0
    assert got["seed"] == 424242 and got["secret_seed"] is True
