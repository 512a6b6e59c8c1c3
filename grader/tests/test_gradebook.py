"""One gradebook: ``python -m grader gradebook`` merges nbgrader's export (the written answers) with
the batch CSV by student id and applies the course's late policy to each part.

The nbgrader half is real nbgrader: a §39 course is generated, one student hands in late (one
function solved, the written answer graded by hand), nbgrader's autograde applies
:class:`grader.nbgrader_plugins.CourseLatePenalty`, and ``nbgrader export`` writes the CSVs."""

from __future__ import annotations

import ast
import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import run_cli

from grader.classroom.ledger import LatePolicy
from grader.gradebook import GradebookError, late_days, load_policy, merge
from grader.sections import EXERCISES, SOLUTIONS, all_sections

# SQLAlchemy's SAWarning is a RuntimeWarning, which the suites turn into errors (pyproject.toml):
# nbgrader's own session handling emits it while autograding, as in `tox -e notebooks` (-W ignore).
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

SEC39 = "sec39_attention_math"
POLICY = LatePolicy(penalty_per_day=0.1, cap_days=3)
DUE = datetime(2026, 12, 20, 14, 59, tzinfo=UTC)
BATCH_HEADER = "student,score,max_score,sec39_attention_math,status,seconds,late_days\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def export_csv(path: Path, rows: list[tuple]) -> Path:
    """A WrittenExport CSV: (assignment, student, written score, written max, seconds late)."""
    head = "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,late_submission_penalty,"
    head += "score,max_score,written_score,written_max_score,seconds_late\n"
    body = "".join(f"{a},,,{s},,,,0,0,0,27,{w},{m},{late}\n" for a, s, w, m, late in rows)
    return write(path, head + body)


def read_rows(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


# ---------------------------------------------------------------- the merge, on hand-made CSVs


def test_total_is_module_plus_written_minus_each_parts_own_late_penalty(tmp_path):
    """Oracle: LatePolicy.factor by hand — module 20 two days late (×0.8), written 3 on time and 2
    one second late (one started day, ×0.9): penalty 20·0.2 + 2·0.1 = 4.2, total 25 − 4.2."""
    batch = write(tmp_path / "b.csv", BATCH_HEADER + "ann,20,24,20,ok,3.1,2\n")
    export = export_csv(tmp_path / "e.csv", [("sec39", "ann", 3, 3, 0), ("sec40", "ann", 2, 3, 1)])
    rows, warnings = merge(export, batch, tmp_path / "g.csv", POLICY)
    (row,) = rows
    assert warnings == []
    assert (row["module_score"], row["written_score"], row["written_max"]) == (20, 5, 6)
    assert (row["late_days"], row["written_late_days"]) == (2, 1), "late days: started days count"
    assert row["penalty"] == pytest.approx(4.2, rel=1e-12), "penalty: each part by its own lateness"
    assert row["total"] == pytest.approx(20.8, rel=1e-12) and row["max_total"] == 30
    assert read_rows(tmp_path / "g.csv")["ann"]["written_sec40"] == "2.0"


def test_beyond_the_cap_a_part_counts_nothing(tmp_path):
    """Oracle: the policy gives factor 0 after cap_days (3): a module 4 days late scores 0."""
    batch = write(tmp_path / "b.csv", BATCH_HEADER + "ann,20,24,20,ok,3.1,4\n")
    export = export_csv(tmp_path / "e.csv", [("sec39", "ann", 3, 3, 0)])
    (row,), _ = merge(export, batch, tmp_path / "g.csv", POLICY)
    assert row["penalty"] == 20 and row["total"] == 3


def test_late_days_follow_the_policy_rule():
    """Oracle: LatePolicy.days_late (started days): 0 s → 0, 1 s → 1, exactly one day → 1, a day and 1 s → 2."""
    assert [late_days(POLICY, s) for s in (0, 1, 86400, 86401)] == [0, 1, 1, 2]


def test_a_student_in_one_file_only_is_kept_and_flagged(tmp_path):
    """Oracle: the inputs — bob has no notebook row, cy no module grade; both stay, with a note."""
    batch = write(tmp_path / "b.csv", BATCH_HEADER + "ann,20,24,20,ok,3,0\nbob,10,24,10,ok,3,0\n")
    export = export_csv(tmp_path / "e.csv", [("sec39", "ann", 3, 3, 0), ("sec39", "cy", 2, 3, 0)])
    rows, warnings = merge(export, batch, tmp_path / "g.csv", POLICY)
    by = {r["student"]: r for r in rows}
    assert set(by) == {"ann", "bob", "cy"}
    assert "not in the nbgrader export" in by["bob"]["note"] and by["bob"]["total"] == 10
    assert "not in the batch CSV" in by["cy"]["note"] and by["cy"]["total"] == 2 and by["cy"]["module_max"] == 24
    assert by["ann"]["note"] == ""
    assert any(w.startswith("bob:") for w in warnings) and any(w.startswith("cy:") for w in warnings)


def test_prefix_of_the_batch_folders_is_removed_to_match_nbgrader_ids(tmp_path):
    """Oracle: the inputs — batch folder ch6-ann is nbgrader's student ann (as nbgrader-collect --prefix names her)."""
    batch = write(tmp_path / "b.csv", BATCH_HEADER + "ch6-ann,20,24,20,ok,3,0\n")
    export = export_csv(tmp_path / "e.csv", [("sec39", "ann", 3, 3, 0)])
    (row,), warnings = merge(export, batch, tmp_path / "g.csv", POLICY, prefix="ch6-")
    assert row["student"] == "ann" and row["total"] == 23 and warnings == []


def test_missing_file_and_wrong_columns_are_clear_errors(tmp_path):
    """Oracle: the message names the file and what is wrong with it."""
    good = export_csv(tmp_path / "e.csv", [("sec39", "ann", 3, 3, 0)])
    with pytest.raises(GradebookError, match=r"nope\.csv: no such file"):
        merge(good, tmp_path / "nope.csv", tmp_path / "g.csv", POLICY)
    wrong = write(tmp_path / "w.csv", "name,points\nann,3\n")
    with pytest.raises(GradebookError, match="missing column.*student, score, max_score"):
        merge(good, wrong, tmp_path / "g.csv", POLICY)
    with pytest.raises(GradebookError, match="missing column.*written_score"):
        merge(wrong, write(tmp_path / "b.csv", BATCH_HEADER), tmp_path / "g.csv", POLICY)
    bad = write(tmp_path / "b2.csv", BATCH_HEADER + "ann,lots,24,20,ok,3,0\n")
    with pytest.raises(GradebookError, match=r"b2\.csv:2: score is not a number"):
        merge(good, bad, tmp_path / "g.csv", POLICY)


def test_the_command_reports_errors_and_warnings(tmp_path):
    """Oracle: the command line — exit 2 and one line for a missing file; a flagged student is a warning."""
    batch = write(tmp_path / "b.csv", BATCH_HEADER + "ann,20,24,20,ok,3,0\n")
    proc = run_cli("gradebook", "--nbgrader", str(tmp_path / "x.csv"), "--batch", str(batch), "--out", "g.csv",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "x.csv: no such file" in proc.stderr
    export = export_csv(tmp_path / "e.csv", [("sec39", "zed", 3, 3, 0)])
    proc = run_cli("gradebook", "--nbgrader", str(export), "--batch", str(batch), "--out", "g.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: ann: not in the nbgrader export" in proc.stderr and "warning: zed" in proc.stderr
    assert set(read_rows(tmp_path / "g.csv")) == {"ann", "zed"}


def test_the_batch_csv_has_the_columns_the_gradebook_reads(tmp_path):
    """Oracle: the header grader.batch writes (an empty class: no grading needed)."""
    from grader.batch import batch

    (tmp_path / "class").mkdir()
    batch(tmp_path / "class", tmp_path / "grades.csv", sandbox=False)
    header = (tmp_path / "grades.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"student", "score", "max_score", "late_days"} <= set(header)


# ---------------------------------------------------------------- real nbgrader


def solve_one(folder: Path, name: str) -> None:
    """The released §39 module in ``folder`` with the reference ``name`` appended (it replaces the stub)."""
    section = next(s for s in all_sections() if s.name == SEC39)
    source = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    module = folder / section.module_file(SOLUTIONS).name
    module.write_text(module.read_text(encoding="utf-8") + "\n\n" + ast.get_source_segment(source, node) + "\n")


def nbgrader_export(*args: str) -> None:
    """``nbgrader export ARGS`` in this process (nbgrader's own app: the same flags as its command line)."""
    from nbgrader.apps import ExportApp

    app = ExportApp()
    app.initialize(list(args))
    app.start()
    ExportApp.clear_instance()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """§39 in an nbgrader course: ann hands in 1 day 2 hours late (softmax solved, written answer
    graded 2 of 3 by hand), bob is enrolled and hands in nothing."""
    from nbgrader.api import Gradebook

    from grader import notebooks as nbs

    root = tmp_path_factory.mktemp("gradebook")
    c = nbs.Course(root / "course")  # nbgrader_config.py: the late plugin is the course's
    c.generate(SEC39)
    db = f"sqlite:///{c.root / 'gradebook.db'}"
    with Gradebook(db) as gb:
        gb.update_or_create_assignment(SEC39, duedate=DUE.replace(tzinfo=None))
        gb.add_student("ann")
        gb.add_student("bob")
    sub = root / "ann"
    shutil.copytree(EXERCISES / SEC39, sub, ignore=shutil.ignore_patterns("__pycache__"))
    solve_one(sub, "softmax")  # one test cell scores, the others fail at once (a quick autograde)
    handed_in = DUE + timedelta(days=1, hours=2)
    write(sub / "timestamp.txt", handed_in.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    c.submit(SEC39, sub, "ann")
    c.autograde(SEC39, "ann")
    with Gradebook(db) as gb:
        grade = gb.find_grade("answer_scaling", SEC39, SEC39, "ann")
        grade.manual_score = 2.0
        gb.db.commit()
        nb = gb.find_submission_notebook(SEC39, SEC39, "ann")
        autograded = {"score": nb.score, "penalty": nb.late_submission_penalty}
    out = root / "out"
    out.mkdir()
    nbgrader_export(f"--CourseDirectory.db_url={db}", "--exporter", "grader.nbgrader_plugins.WrittenExport",
                    "--to", str(out / "written.csv"))  # fmt: skip
    nbgrader_export(f"--CourseDirectory.db_url={db}", "--to", str(out / "standard.csv"))
    return {"out": out, "autograded": autograded}


def test_nbgrader_applies_the_course_late_policy(course):
    """Oracle: LatePolicy by hand — 1 day 2 h late is 2 started days: penalty = (1 − factor(2)) × the
    notebook's score when autograded (softmax solved: its test cell scores)."""
    score, penalty = course["autograded"]["score"] - 2.0, course["autograded"]["penalty"]
    assert score > 0, "the solved softmax should score in its test cell"
    policy = load_policy()
    factor = policy.factor(2)
    assert factor < 1, "course.toml's late policy gives no penalty for 2 days: the check would be vacuous"
    assert penalty == pytest.approx(score * (1 - factor), rel=1e-9), (
        "nbgrader's late penalty is not the course's rule: does nbgrader_config.py set "
        "c.AssignLatePenalties.plugin_class to grader.nbgrader_plugins.CourseLatePenalty?"
    )


def test_nbgrader_export_gives_the_written_part_and_the_lateness(course):
    """Oracle: the manual grade given (2 of 3) and the hand-in time (1 day 2 h = 93600 s late)."""
    with open(course["out"] / "written.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert float(rows["ann"]["written_score"]) == 2.0 and float(rows["ann"]["written_max_score"]) == 3.0
    assert float(rows["ann"]["seconds_late"]) == pytest.approx(93600, abs=1e-6)
    assert float(rows["bob"]["written_score"]) == 0.0 and float(rows["bob"]["seconds_late"]) == 0


def test_gradebook_merges_the_real_export(course, tmp_path):
    """Oracle: the policy by hand — ann: module 20 on time, written 2 two days late (×0.8): total 21.6."""
    out = course["out"]
    batch = write(tmp_path / "grades.csv", BATCH_HEADER + "ann,20,24,20,ok,3,0\nbob,5,24,5,ok,3,0\n")
    proc = run_cli("gradebook", "--nbgrader", str(out / "written.csv"), "--batch", str(batch),
                   "--out", str(tmp_path / "gradebook.csv"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(tmp_path / "gradebook.csv")
    policy = load_policy()
    assert float(rows["ann"]["written_late_days"]) == 2
    assert float(rows["ann"]["total"]) == pytest.approx(20 + 2 * policy.factor(2), rel=1e-9)
    assert float(rows["bob"]["total"]) == 5 and float(rows["ann"]["max_total"]) == 27


def test_gradebook_refuses_nbgrader_standard_export(course, tmp_path):
    """Oracle: nbgrader's own columns — its score double-counts the autograded cells: refused, saying what to run."""
    batch = write(tmp_path / "grades.csv", BATCH_HEADER + "ann,20,24,20,ok,3,0\n")
    proc = run_cli("gradebook", "--nbgrader", str(course["out"] / "standard.csv"), "--batch", str(batch))
    assert proc.returncode == 2 and "--exporter grader.nbgrader_plugins.WrittenExport" in proc.stderr
