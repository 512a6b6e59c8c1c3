"""nbgrader plugins of the course: the late policy of ``grader/classroom/course.toml`` and an export
that keeps the written answers apart from the autograded cells.

* :class:`CourseLatePenalty` — nbgrader's late-submission plugin applying the course's rule
  (``[late]``: ``penalty_per_day`` for every started day, nothing after ``cap_days``), the same
  :class:`grader.classroom.ledger.LatePolicy` the class grading uses. Enabled in ``nbgrader_config.py``
  by ``c.AssignLatePenalties.plugin_class = "grader.nbgrader_plugins.CourseLatePenalty"``.
* :class:`WrittenExport` — ``nbgrader export --exporter grader.nbgrader_plugins.WrittenExport
  --to export.csv``: nbgrader's CSV columns plus ``written_score`` / ``written_max_score`` (the
  manually graded answer cells only) and ``seconds_late`` (extensions included). nbgrader's own
  ``score`` adds the autograded test cells, which score exactly the module grade already in the batch
  CSV: ``python -m grader gradebook`` needs the written part alone.

This module imports nbgrader: only nbgrader loads it (by its dotted name).
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin, LateSubmissionPlugin

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]  # fmt: skip
WRITTEN_COLUMNS = ["written_score", "written_max_score", "seconds_late"]


class CourseLatePenalty(LateSubmissionPlugin):
    """Penalty = score × (1 − factor): ``factor`` of the course's late policy for the started days late."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        from grader.gradebook import late_factor, load_policy

        return score * (1.0 - late_factor(load_policy(), total_seconds_late))


def _written(gradebook: Gradebook, submission) -> tuple[float, float]:
    """(score, max) of the submission's manually graded answers: grade cells that are also solution cells
    (the autograded test cells are grade cells only)."""
    score = top = 0.0
    for nb in submission.notebooks:
        for grade in nb.grades:
            try:
                gradebook.find_solution_cell(grade.name, nb.name, submission.assignment.name)
            except MissingEntry:
                continue
            score += grade.score or 0.0
            top += grade.max_score or 0.0
    return score, top


class WrittenExport(ExportPlugin):
    """nbgrader's CSV export (one row per assignment and student) with the written part and the lateness."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades.csv"
        wanted_students = {str(s) for s in self.student}
        wanted_assignments = {str(a) for a in self.assignment}
        with open(dest, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=NBGRADER_COLUMNS + WRITTEN_COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if wanted_assignments and assignment.name not in wanted_assignments:
                    continue
                written_max = sum(
                    cell.max_score for nb in assignment.notebooks for cell in nb.grade_cells
                    if any(s.name == cell.name for s in nb.solution_cells)
                )  # fmt: skip
                for student in gradebook.students:
                    if wanted_students and student.id not in wanted_students:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate or "", "student_id": student.id,
                           "last_name": student.last_name or "", "first_name": student.first_name or "",
                           "email": student.email or "", "max_score": assignment.max_score}  # fmt: skip
                    try:
                        sub = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:  # nothing handed in: zero, as nbgrader's own export
                        row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0,
                                   written_score=0.0, written_max_score=written_max, seconds_late=0)  # fmt: skip
                    else:
                        penalty = sub.late_submission_penalty or 0.0
                        written, _ = _written(gradebook, sub)
                        row.update(timestamp=sub.timestamp or "", raw_score=sub.score, late_submission_penalty=penalty,
                                   score=max(0.0, sub.score - penalty), written_score=written,
                                   written_max_score=written_max, seconds_late=sub.total_seconds_late)  # fmt: skip
                    writer.writerow(row)
