"""One gradebook: ``python -m grader gradebook --nbgrader EXPORT.csv --batch grades.csv --out gradebook.csv``.

Joins, by student id, the module grade of every student (the batch CSV of ``python -m grader batch``:
``student``, ``score``, ``max_score``, … ``status``, ``late_days``) and the written answers of the
notebooks, graded by hand in nbgrader's formgrader (the CSV of ``nbgrader export --exporter
grader.nbgrader_plugins.WrittenExport``: one row per assignment and student, with ``written_score``,
``written_max_score`` and ``seconds_late``). nbgrader's own ``score`` column is not used: it adds the
autograded test cells, which score the same tests as the module grade, so they would count twice.

The late policy is the course's (``[late]`` of ``grader/classroom/course.toml``, the same
:class:`~grader.classroom.ledger.LatePolicy` as the class grading): a part handed in ``d`` started days
late counts ``× (1 − penalty_per_day · d)``, and nothing after ``cap_days``. The module part is late by
the batch CSV's ``late_days``, each notebook by its own ``seconds_late`` (nbgrader's timestamp against
its due date, extensions included). The penalty is computed here on the final written score (nbgrader's
late plugin, :class:`~grader.nbgrader_plugins.CourseLatePenalty`, applies the same rule, but at
autograde time, before the written answers have a grade).

Each output row: ``student``, ``module_score``, ``module_max``, ``late_days`` (module), one
``written_<assignment>`` column per assignment, ``written_score``, ``written_max``, ``written_late_days``
(the latest notebook), ``penalty``, ``total`` (= module + written − penalty), ``max_total``, ``status``
(the batch's), ``note``. A student found in one file only is kept (the missing part scores 0) and
flagged in ``note`` and on stderr.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grader.report.escape import csv_cell

BATCH_REQUIRED = ("student", "score", "max_score")
EXPORT_REQUIRED = ("assignment", "student_id", "written_score", "written_max_score", "seconds_late")
NBGRADER_STANDARD = ("assignment", "student_id", "raw_score", "late_submission_penalty", "score", "max_score")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class GradebookError(Exception):
    """An input that cannot be merged: missing file, wrong columns, a value that is not a number."""


def load_policy(config: Path | None = None):
    """The course's late policy (``course.toml``'s ``[late]``, or ``$COURSE_CLASS_CONFIG``)."""
    from grader.classroom.cli import _policy, load_config

    return _policy(load_config(config))


def late_days(policy, seconds_late: float) -> int:
    """Started days late, by the policy's own rule."""
    return policy.days_late(EPOCH + timedelta(seconds=float(seconds_late)), EPOCH)


def late_factor(policy, seconds_late: float) -> float:
    return policy.factor(late_days(policy, seconds_late))


@dataclass
class Student:
    student: str
    module_score: float = 0.0
    module_max: float | None = None
    late_days: int = 0
    status: str = ""
    written: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # assignment → score, max, s late
    notes: list[str] = field(default_factory=list)


def _read(path: Path, required: tuple[str, ...], what: str, hint: str) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise GradebookError(f"{path}: no such file ({what})")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            if what == "nbgrader export" and all(c in columns for c in NBGRADER_STANDARD):
                raise GradebookError(
                    f"{path}: nbgrader's standard export, whose score adds the autograded cells (the module grade, "
                    "already in the batch CSV) to the written answers; export the written part with "
                    "`nbgrader export --exporter grader.nbgrader_plugins.WrittenExport --to FILE`"
                )
            raise GradebookError(f"{path}: not a {what}: missing column(s) {', '.join(missing)} ({hint})")
        return list(reader)


def _number(value: str, path: Path, line: int, column: str, default: float | None = None) -> float:
    text = (value or "").strip().lstrip("'")  # csv_cell guards leading "-" with a quote
    if not text and default is not None:
        return default
    try:
        return float(text)
    except ValueError:
        raise GradebookError(f"{path}:{line}: {column} is not a number: {value!r}") from None


def read_batch(path: Path, students: dict[str, Student], prefix: str = "") -> bool:
    """The batch CSV into ``students`` (``prefix`` removed from folder names that start with it, as
    ``nbgrader-collect --prefix`` does); returns whether it has a ``late_days`` column."""
    rows = _read(path, BATCH_REQUIRED, "batch CSV", "written by `python -m grader batch DIR --csv FILE`")
    for line, row in enumerate(rows, start=2):
        name = row["student"].strip()
        name = name[len(prefix) :] if prefix and name.startswith(prefix) and len(name) > len(prefix) else name
        if name in students:
            raise GradebookError(f"{path}:{line}: student {name!r} appears twice")
        s = students[name] = Student(name, status=row.get("status", "") or "")
        s.module_score = _number(row["score"], path, line, "score", default=0.0)
        top = _number(row["max_score"], path, line, "max_score", default=-1.0)
        s.module_max = top if top >= 0 else None  # not graded: no max of its own
        s.late_days = int(_number(row.get("late_days", ""), path, line, "late_days", default=0.0))
    return bool(rows) and "late_days" in rows[0]


def read_export(path: Path, students: dict[str, Student]) -> list[str]:
    """The nbgrader export into ``students``; returns the assignments in order of appearance."""
    rows = _read(path, EXPORT_REQUIRED, "nbgrader export", "written by `nbgrader export --exporter "
                 "grader.nbgrader_plugins.WrittenExport`")  # fmt: skip
    assignments: list[str] = []
    for line, row in enumerate(rows, start=2):
        name, assignment = row["student_id"].strip(), row["assignment"].strip()
        if assignment not in assignments:
            assignments.append(assignment)
        s = students.setdefault(name, Student(name))
        if assignment in s.written:
            raise GradebookError(f"{path}:{line}: {name!r} has two rows for {assignment!r}")
        s.written[assignment] = (
            _number(row["written_score"], path, line, "written_score", default=0.0),
            _number(row["written_max_score"], path, line, "written_max_score", default=0.0),
            _number(row["seconds_late"], path, line, "seconds_late", default=0.0),
        )
    return assignments


def merge(export: Path, batch: Path, out: Path, policy=None, prefix: str = "") -> tuple[list[dict], list[str]]:
    """Write the gradebook CSV; returns (rows, warnings)."""
    policy = policy or load_policy()
    students: dict[str, Student] = {}
    has_late = read_batch(batch, students, prefix)
    in_batch = set(students)
    assignments = read_export(export, students)
    warnings = [] if has_late or not in_batch else [f"{batch}: no late_days column: module grades count as on time"]
    known_max = max((s.module_max for s in students.values() if s.module_max is not None), default=0.0)
    written_max = {a: max((s.written[a][1] for s in students.values() if a in s.written), default=0.0)
                   for a in assignments}  # fmt: skip
    rows = []
    for s in sorted(students.values(), key=lambda s: s.student):
        if s.student not in in_batch:
            s.notes.append("not in the batch CSV: module 0")
        missing = [a for a in assignments if a not in s.written]
        if missing:
            s.notes.append(("not in the nbgrader export" if len(missing) == len(assignments) else
                            "no nbgrader row for " + ", ".join(missing)) + ": written 0")  # fmt: skip
        written = {a: s.written.get(a, (0.0, written_max[a], 0.0)) for a in assignments}
        penalty = s.module_score * (1 - policy.factor(s.late_days))
        penalty += sum(score * (1 - late_factor(policy, late)) for score, _, late in written.values())
        w_score = sum(v[0] for v in written.values())
        w_max = sum(written_max.values())
        m_max = s.module_max if s.module_max is not None else known_max
        row = {
            "student": s.student, "module_score": _r(s.module_score), "module_max": _r(m_max), "late_days": s.late_days,
            **{f"written_{a}": _r(v[0]) for a, v in written.items()},
            "written_score": _r(w_score), "written_max": _r(w_max),
            "written_late_days": max((late_days(policy, v[2]) for v in written.values()), default=0),
            "penalty": _r(penalty), "total": _r(s.module_score + w_score - penalty), "max_total": _r(m_max + w_max),
            "status": s.status, "note": "; ".join(s.notes),
        }  # fmt: skip
        rows.append(row)
        warnings += [f"{s.student}: {n}" for n in s.notes]
    fields = ["student", "module_score", "module_max", "late_days", *(f"written_{a}" for a in assignments),
              "written_score", "written_max", "written_late_days", "penalty", "total", "max_total", "status", "note"]  # fmt: skip
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows([{k: csv_cell(v) for k, v in row.items()} for row in rows])
    return rows, warnings


def _r(x: float) -> float:
    return round(float(x), 4)
