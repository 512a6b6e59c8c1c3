"""Who is graded: a committed roster CSV, the repositories of a Classroom organisation that carry the
assignment's prefix, or the forks of a public course repository.

Every student name becomes a folder name and every repository an API path, so both are checked
against strict patterns: a repository name chosen by a student can never become a path or an option.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$")


class RosterError(Exception):
    pass


@dataclass(frozen=True)
class Student:
    student: str
    repository: str  # "owner/name" on GitHub
    feedback_pr: int | None = None  # the Classroom feedback pull request, if any

    def to_dict(self) -> dict:
        return {"student": self.student, "repository": self.repository, "feedback_pr": self.feedback_pr}

    @classmethod
    def from_dict(cls, d: dict) -> Student:
        return cls(d["student"], d["repository"], d.get("feedback_pr"))


def _student(name: str, repository: str, feedback_pr=None, where: str = "") -> Student:
    name, repository = name.strip(), repository.strip()
    if not NAME.match(name) or name in (".", ".."):
        raise RosterError(f"{where}student {name!r}: use letters, digits, '_', '.' and '-' only")
    if not REPOSITORY.match(repository) or ".." in repository:
        raise RosterError(f"{where}repository {repository!r}: expected owner/name")
    pr = None
    if feedback_pr not in (None, ""):
        try:
            pr = int(str(feedback_pr).strip())
        except ValueError:
            raise RosterError(f"{where}feedback_pr {feedback_pr!r}: expected a pull-request number") from None
        if pr <= 0:
            raise RosterError(f"{where}feedback_pr {feedback_pr!r}: expected a pull-request number")
    return Student(name, repository, pr)


def _unique(students: list[Student]) -> list[Student]:
    seen: dict[str, Student] = {}
    for s in students:
        if s.student in seen:
            raise RosterError(f"student {s.student!r} appears twice in the roster")
        seen[s.student] = s
    return sorted(seen.values(), key=lambda s: s.student)


def read_roster_csv(path: Path) -> list[Student]:
    """``student,repository[,feedback_pr]`` with a header line; blank lines and ``#`` lines are skipped.
    Errors name the file's own line number, so that the instructor finds the row to fix."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text") from None
    kept = [
        (n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    reader = csv.reader([ln for _, ln in kept], strict=True)
    try:
        header = [f.strip() for f in next(reader, [])]
        if not {"student", "repository"} <= set(header):
            raise RosterError(f"{path}: the header must name the columns student,repository[,feedback_pr]")
        return _unique([_roster_row(header, fields, f"{path}:{kept[reader.line_num - 1][0]}: ") for fields in reader])
    except csv.Error as e:
        raise RosterError(f"{path}:{kept[reader.line_num - 1][0]}: {e}") from None


def _roster_row(header: list[str], fields: list[str], where: str) -> Student:
    if len(fields) != len(header):
        count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
        raise RosterError(f"{where}{count}, expected {len(header)} ({','.join(header)})")
    row = dict(zip(header, fields, strict=True))
    return _student(row["student"], row["repository"], row.get("feedback_pr"), where=where)


def parse_json_stream(text: str) -> list[dict]:
    """What ``gh api --paginate`` prints: one JSON array per page, back to back (or JSON lines)."""
    decoder, items, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return items
        value, i = decoder.raw_decode(text, i)
        items.extend(value if isinstance(value, list) else [value])


def roster_from_org(repos: list[dict], prefix: str) -> list[Student]:
    """GitHub Classroom names each student's repository ``<assignment prefix>-<login>``."""
    if not prefix:
        raise RosterError("an organisation roster needs the assignment's repository prefix")
    out = []
    for r in repos:
        name = r.get("name", "")
        if name.startswith(prefix + "-") and len(name) > len(prefix) + 1 and not r.get("is_template"):
            out.append(_student(name[len(prefix) + 1 :], r["full_name"]))
    return _unique(out)


def roster_from_forks(forks: list[dict]) -> list[Student]:
    """Each fork of the public course repository is one student, named by its owner."""
    return _unique([_student(r["owner"]["login"], r["full_name"]) for r in forks])


def select(students: list[Student], wanted: str) -> list[Student]:
    """``wanted``: comma- or space-separated student names; empty means everyone."""
    names = [n for n in re.split(r"[\s,]+", wanted or "") if n]
    if not names:
        return students
    unknown = sorted(set(names) - {s.student for s in students})
    if unknown:
        raise RosterError("not in the roster: " + ", ".join(unknown))
    return [s for s in students if s.student in names]
