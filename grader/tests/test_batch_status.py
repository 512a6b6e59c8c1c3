"""The batch CSV tells the truth: per student score, max, status, seconds and late days.

One real batch (public tests of §38, sandboxed, ``--jobs 2``) of five submissions, each made to show
one status: an untouched copy of the reference holding only ``exercises/`` (``ok``: files it does
not have are no tampering), a syntax error, a module that raises at import, a function that hangs
(``timeout in``) and a repository that changed a public test (``tampered:``). Late days come from
the last commit of a git repository or, for a plain folder, the newest file time.

The sections of all submissions share one pool, the longest first (seen with a fake section run):
one row per submission once its last section is judged, and a submission that cannot be
collected, or a section the grader fails on, still gets its row."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader import batch as batch_module
from grader.sections import PUBLIC_TESTS, SOLUTIONS, all_sections

SECTION = "sec38_attention"
MODULE = f"{SECTION}/attention.py"


def reference_copy(dst):
    shutil.copytree(SOLUTIONS / SECTION, dst / SECTION, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))


def edit(root, old: str, new: str) -> None:
    path = root / MODULE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    subs = tmp_path_factory.mktemp("subs")
    reference_copy(subs / "a_ok" / "exercises")  # only exercises/: what a student hands in
    reference_copy(subs / "b_syntax")
    edit(subs / "b_syntax", "def softmax(", "def softmax((")
    reference_copy(subs / "c_import")
    (subs / "c_import" / MODULE).write_text(
        (subs / "c_import" / MODULE).read_text(encoding="utf-8") + "\nraise RuntimeError('broken at import')\n"
    )
    reference_copy(subs / "d_hang")
    edit(
        subs / "d_hang",
        "def bag_of_words(ids, E, pad_id=0):\n",
        "def bag_of_words(ids, E, pad_id=0):\n    while True:\n        pass\n",
    )
    repo = subs / "e_tampered"
    reference_copy(repo / "exercises")
    (repo / "tests").mkdir()
    shutil.copy(PUBLIC_TESTS / f"test_{SECTION}.py", repo / "tests" / f"test_{SECTION}.py")
    with open(repo / "tests" / f"test_{SECTION}.py", "a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    batch_module.batch(subs, out, jobs=2, only=[SECTION], hidden=False, call_timeout=2)
    with open(out, encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_columns(rows):
    assert list(rows["a_ok"]) == ["student", "score", "max_score", SECTION, "status", "seconds", "late_days"]
    assert all(float(r["seconds"]) > 0 for r in rows.values())


def test_untouched_exercises_folder_is_ok_not_tampered(rows):
    row = rows["a_ok"]
    assert row["status"] == "ok" and float(row["score"]) == float(row["max_score"]) > 0


def test_syntax_error_names_the_file(rows):
    assert rows["b_syntax"]["status"] == f"syntax error in {MODULE}"
    assert float(rows["b_syntax"]["score"]) == 0


def test_import_error(rows):
    assert rows["c_import"]["status"] == f"import error in {MODULE}"
    assert float(rows["c_import"]["score"]) == 0


def test_hanging_function_shows_timeout_in_its_exercise(rows):
    status = rows["d_hang"]["status"]
    assert status.startswith("timeout in ") and "bag_of_words" in status.removeprefix("timeout in ").split(", ")


def test_changed_public_test_is_tampered(rows):
    assert rows["e_tampered"]["status"] == f"tampered: tests/test_{SECTION}.py"


def test_missing_protected_files_are_no_tampering(tmp_path):
    findings = ["deleted: tests/test_sec38_attention.py", "added: exercises/conftest.py (ignored)"]
    assert batch_module.real_tampering(findings, tmp_path) == ["added: exercises/conftest.py (ignored)"]


def test_nothing_to_grade_is_not_graded(tmp_path):
    out = tmp_path / "g.csv"
    (tmp_path / "subs" / "empty").mkdir(parents=True)
    (rows,) = batch_module.batch(tmp_path / "subs", out, only=[SECTION], hidden=False, sandbox=False)
    assert rows["status"].startswith("not graded: ")


def test_late_days_from_the_last_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "f.txt").write_text("x")
    when = "2026-05-03T10:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "s",
           "GIT_AUTHOR_EMAIL": "s@example.org", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.org"}  # fmt: skip
    for cmd in (["init", "-q"], ["add", "f.txt"], ["commit", "-qm", "work"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
    deadline = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # 1 day 22 hours before: 2 started days
    assert batch_module.submitted_at(repo) == datetime(2026, 5, 3, 10, 0, tzinfo=UTC)
    assert batch_module.late_days(repo, deadline) == 2
    assert batch_module.late_days(repo, datetime(2026, 5, 4, tzinfo=UTC)) == 0
    assert batch_module.late_days(repo, None) == ""


def test_late_days_of_a_plain_folder_from_its_newest_file(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    stamp = datetime(2026, 5, 2, 13, 0, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "f.txt", (stamp, stamp))
    deadline = datetime(2026, 5, 2, 12, 0, tzinfo=UTC) - timedelta(days=1)
    assert batch_module.late_days(tmp_path, deadline) == 2


# --- one pool for the sections of all submissions (no section really runs: run_section is faked) ---


@pytest.fixture
def fake_runs(monkeypatch):
    """Every section "runs" instantly with no record; the (section, student) pairs in starting order."""
    import grader.grade
    from grader.run import RunOutcome

    calls = []

    def fake_run_section(section, impl, **kwargs):
        calls.append((section.name, Path(impl).name))
        if Path(impl).name == "c_grader_bug" and section.name == SECTION:
            raise RuntimeError("grader bug")
        return RunOutcome([])

    monkeypatch.setattr(grader.grade, "run_section", fake_run_section)
    monkeypatch.setenv(grader.grade.WARM_ENV, "0")  # nothing runs: no warm runner either
    return calls


def fake_batch(tmp_path, students, **kwargs):
    for student in students:
        (tmp_path / "subs" / student).mkdir(parents=True)
    seen = []
    rows = batch_module.batch(tmp_path / "subs", tmp_path / "g.csv", sandbox=False, progress=seen.append, **kwargs)
    return {row["student"]: row for row in rows}, seen


def _runs() -> list[tuple[float, str]]:
    """(expected seconds, section) of each run of one submission's grade, in the given order: one
    per section, two for a section graded in parts (``grader.grade.section_parts``)."""
    from grader.grade import hidden_available, section_parts

    return [(part.cost, s.name) for s in all_sections() for part in section_parts(s, hidden_available())]


def test_sections_of_all_submissions_interleave_longest_first(tmp_path, fake_runs):
    from grader.grade import measured_seconds

    fake_batch(tmp_path, ["a", "b", "c"], jobs=1)
    longest = sorted(_runs(), key=lambda run: -run[0])  # stable: ties keep the chapter's order
    assert fake_runs == [(name, student) for _, name in longest for student in "abc"]
    assert longest[0][0] > longest[-1][0] > 0
    every = [measured_seconds(s)["all"] for s in all_sections()]
    assert max(every) > min(every)


def test_one_row_per_submission_when_its_last_section_is_judged(tmp_path, fake_runs):
    rows, seen = fake_batch(tmp_path, ["a", "b"], jobs=2)
    assert sorted(row["student"] for row in seen) == ["a", "b"]  # the progress bar counts students
    assert len(fake_runs) == 2 * len(_runs())
    assert all((tmp_path / "g_reports" / f"{s}.json").is_file() for s in "ab")


def test_a_grader_failure_in_one_section_leaves_the_others_graded(tmp_path, fake_runs):
    rows, seen = fake_batch(tmp_path, ["a", "c_grader_bug"], jobs=2)
    assert rows["c_grader_bug"]["status"] == "not graded: RuntimeError: grader bug"
    assert not rows["a"]["status"].startswith("not graded: Runtime")
    assert len(fake_runs) == 2 * len(_runs()) and len(seen) == 2


def test_a_submission_that_cannot_be_collected_still_gets_its_row(tmp_path, fake_runs, monkeypatch):
    import grader.grade
    from grader.collect import GradingError

    collect = grader.grade.collect

    def failing_collect(root, only=None):
        if root.name == "b_unreadable":
            raise GradingError(f"{root}: cannot be read")
        return collect(root, only)

    monkeypatch.setattr(grader.grade, "collect", failing_collect)
    rows, seen = fake_batch(tmp_path, ["a", "b_unreadable"], only=[SECTION])
    assert rows["b_unreadable"]["status"].startswith("not graded: GradingError: ")
    assert {"seconds", "late_days"} <= rows["b_unreadable"].keys()
    assert fake_runs == [(SECTION, "a")] and len(seen) == 2
