"""``python -m grader nbgrader-collect REPOS``: students' repositories → nbgrader's ``submitted/`` layout.

nbgrader grades ``<course>/submitted/<student>/<assignment>/``; students hand in repositories (a
folder of clones, e.g. GitHub Classroom's ``gh classroom clone student-repos``, or plain folders
laid out like ``exercises/``). For every sub-folder of ``REPOS`` this copies each section folder
(``exercises/<section>/`` of a student repository, or ``<section>/`` of a bare folder) to
``<course>/submitted/<student>/<section>/``, and writes nbgrader's ``timestamp.txt`` from the
repository's last commit (what nbgrader's late-submission penalty reads). The student id is the
folder's name, without ``--prefix`` (Classroom names clones ``<assignment>-<login>``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")


@dataclass
class Collected:
    copied: list[tuple[str, str]] = field(default_factory=list)  # (student, section)
    missing: list[tuple[str, str]] = field(default_factory=list)  # section folder not in the submission
    skipped: list[str] = field(default_factory=list)  # folders that give no valid student id


def student_id(folder: Path, prefix: str = "") -> str | None:
    name = folder.name.removeprefix(prefix) if prefix else folder.name
    return name if STUDENT_ID.match(name) else None


def last_commit_time(repo: Path) -> str | None:
    """The repository's last commit time, as nbgrader writes ``timestamp.txt`` (UTC)."""
    if not (repo / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d %H:%M:%S.000000 UTC"],
        capture_output=True, text=True, timeout=60, check=False, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    text = proc.stdout.strip()
    return text if proc.returncode == 0 and text else None


def collect(repos: Path, course: Path, sections: list[str] | None = None, *, prefix: str = "") -> Collected:
    """Copy every submission of ``repos`` into ``course/submitted/`` (one sub-folder per student)."""
    from grader.batch import submissions
    from grader.notebooks import notebook_sections
    from grader.tamper import locate

    sections = sections or notebook_sections()
    out = Collected()
    for folder in submissions(Path(repos)):
        student = student_id(folder, prefix)
        if student is None:
            out.skipped.append(folder.name)
            continue
        root = locate(folder)[0]
        stamp = last_commit_time(folder)
        for section in sections:
            src, dst = root / section, Path(course) / "submitted" / student / section
            if not src.is_dir():
                out.missing.append((student, section))
                continue
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=IGNORE, symlinks=True)
            if stamp:
                (dst / "timestamp.txt").write_text(stamp + "\n", encoding="utf-8")
            out.copied.append((student, section))
    return out


def _main(args) -> int:
    import sys

    if not args.repos.is_dir():
        print(f"nbgrader-collect: {args.repos}: no such folder", file=sys.stderr)
        return 2
    found = collect(args.repos, args.course, args.section, prefix=args.prefix)
    students = sorted({s for s, _ in found.copied})
    print(f"collected {len(found.copied)} notebook folder(s) of {len(students)} student(s) into "
          f"{args.course / 'submitted'}")  # fmt: skip
    for student, section in found.missing:
        print(f"  {student}: no {section}/ in the submission")
    for name in found.skipped:
        print(f"  skipped {name!r}: not a valid student id (letters, digits, _ . @ -)")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "nbgrader-collect", help="copy a folder of student repositories into nbgrader's submitted/<student>/<section>/"
    )
    p.add_argument("repos", type=Path, help="folder with one student repository (or exercises-like folder) each")
    p.add_argument("--course", type=Path, default=Path("."), help="nbgrader course root (default: here)")
    p.add_argument("--section", action="append", help="only this section (repeatable; default: every notebook)")
    p.add_argument("--prefix", default="", help="strip this from folder names to get the student id")
    p.set_defaults(func=_main)
