"""Batch grading: every sub-folder of SUBMISSIONS_DIR is one student's submission.

``python -m grader batch SUBMISSIONS_DIR --jobs N --csv grades.csv``: a progress bar (one step per
student), one CSV row per student and the per-student JSON report kept in ``--reports DIR``
(default: ``<csv stem>_reports/`` next to the CSV). Each submission is collected once (its folder,
changed protected files, syntax of its modules); then its sections are tasks on ONE pool of N
threads shared by the whole batch, sandboxed with one zygote and one warm runner for all: the
sections of all submissions interleave, the longest expected first (``grader/time_budget.json``), so
a hanging submission holds one thread per section in turn (not one thread for all its sections) and
no long section starts last. As soon as a submission's last section is judged, its report and row
are written. A section that takes longer than ``--timeout`` seconds is stopped (its unfinished
tests score 0, the row says why); a submission that cannot be graded at all gets a row saying why;
the batch goes on.

The CSV's columns: ``student``, ``score``, ``max_score``, one per section, ``status``, ``seconds``
and ``late_days``. ``seconds`` is the time of the submission's own steps (its collection and each of
its sections, summed), not the span of the interleaved batch. ``status`` is ``ok`` or what went
wrong, the most serious first, joined by ``; `` when several apply: ``not graded: REASON``
(nothing could be graded), ``syntax error in FILE``, ``import error`` (a section module raised
while being imported; ``import error in FILE``), ``timeout in EXERCISES`` (a call did not return
in time or the section's time budget ran out), ``tampered: FILES`` (protected files the submission
changed or added; a folder holding only ``exercises/`` changed none: files it does not have are
not counted). ``late_days`` are started days after the deadline (``--deadline ISO8601``, else
``deadline`` in ``[late]`` of ``grader/classroom/course.toml``; empty without one), counted as the
classroom merge counts them (``LatePolicy.days_late``) from the submission's time: its last commit
when the folder is a git repository, else the newest modification time of its files.
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from grader.report.escape import csv_cell
from grader.sections import all_sections


def submissions(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


# --- what the CSV says about a submission ----------------------------------------------------

TIMEOUT_MARKS = ("did not return within", "time budget used up", "did not finish within")
IMPORT_MARK = "error while importing"


def real_tampering(findings: list[str], submission: Path) -> list[str]:
    """The files a submission really changed or added: a protected file it does not have (a folder
    holding only ``exercises/``, a repository without some of the tests) is no change, since the
    grader uses its own copies."""
    return [f for f in findings if not f.startswith("deleted: ")]


def _module_of(section_name: str) -> str:
    from grader.sections import Section

    return f"{section_name}/{Section(section_name).module}.py"


def _file_of(text: str, root: str) -> str:
    path = text.split(":", 1)[0]
    return path[len(root) :].lstrip("/") if root and path.startswith(root) else Path(path).name


def status_of(result, submission: Path) -> str:
    """``ok`` or the problems of a graded submission, the most serious first (module docstring)."""
    problems = [p for s in result.sections for p in s.problems]
    if (
        problems
        and all("section folder missing" in p or "file missing" in p for p in problems)
        and len(problems) >= len(result.sections)
    ):
        return "not graded: no section module found (is this a folder laid out like exercises/?)"
    parts = []
    syntax = sorted({_file_of(p, result.target) for p in problems if "syntax error" in p or "cannot be compiled" in p})
    if syntax:
        parts.append("syntax error in " + ", ".join(syntax))
    messages = [(s, e, t) for s in result.sections for e in s.exercises for t in e.tests]
    imports = sorted({_module_of(s.name) for s, _, t in messages if IMPORT_MARK in t.message})
    if imports:
        parts.append("import error in " + ", ".join(imports))
    timed_out = [e.name for _, e, t in messages if any(m in t.message for m in TIMEOUT_MARKS)]
    timed_out += [s.name for s in result.sections if any("did not finish within" in p for p in s.problems)]
    if timed_out:
        parts.append("timeout in " + ", ".join(dict.fromkeys(timed_out)))
    tampered = real_tampering(result.tampered, submission)
    if tampered:
        parts.append("tampered: " + ", ".join(f.split(": ", 1)[-1] for f in tampered))
    return "; ".join(parts) or "ok"


def submitted_at(submission: Path) -> datetime | None:
    """The last commit's time of a git repository; else the newest modification time of its files."""
    submission = Path(submission)
    if (submission / ".git").exists():
        try:
            proc = subprocess.run(
                ["git", "-C", str(submission), "log", "-1", "--format=%cI"], capture_output=True, text=True,
                timeout=30, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if proc.returncode == 0 and proc.stdout.strip():
                return datetime.fromisoformat(proc.stdout.strip()).astimezone(UTC)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
    times = [p.lstat().st_mtime for p in submission.rglob("*") if ".git" not in p.parts and p.is_file()]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def course_deadline() -> datetime | None:
    """``deadline`` of ``[late]`` in ``grader/classroom/course.toml`` (None when it has none)."""
    import tomllib

    from grader.classroom.ledger import parse_time

    try:
        with open(Path(__file__).parent / "classroom" / "course.toml", "rb") as f:
            value = tomllib.load(f).get("late", {}).get("deadline")
    except (OSError, ValueError):
        return None
    return parse_time(value) if value else None


def late_days(submission: Path, deadline: datetime | None) -> int | str:
    from grader.classroom.ledger import LatePolicy

    at = submitted_at(submission) if deadline is not None else None
    return "" if at is None else LatePolicy().days_late(at, deadline)


def not_graded_row(student: str, error: Exception) -> dict:
    return {"student": student, "status": f"not graded: {type(error).__name__}: {error}"[:300], "score": 0,
            "max_score": ""}  # fmt: skip


def report_row(submission: Path, result, reports: Path, secret_seed: bool) -> dict:
    """Write the submission's JSON report; its CSV row's grade columns."""
    from grader.report.json_report import write_json

    if secret_seed:  # the official seed: graded with it, never written into a report
        result.seed = None
    write_json(result, reports / f"{submission.name}.json")
    row = {"student": submission.name, "status": status_of(result, submission)}
    row.update(score=result.score, max_score=result.max_score)
    row.update({s.name: s.score for s in result.sections})
    return row


def completed(row: dict, submission: Path, seconds: float, due: datetime | None) -> dict:
    """The row with what every submission's row says, graded or not: its seconds and late days."""
    row["seconds"] = round(seconds, 1)
    try:
        row["late_days"] = late_days(submission, due)
    except Exception as e:  # noqa: BLE001 - a submission of unknown time is flagged, not counted on time
        return not_graded_row(submission.name, e)
    return row


def batch(folder: Path, csv_path: Path, *, jobs: int = 2, seed: int = 0, secret_seed: bool = False,
          reports: Path | None = None, only=None, sandbox: bool = True, call_timeout: float | None = None,
          timeout: float = 900, hidden: bool = True, progress=None, deadline: str | None = None) -> list[dict]:  # fmt: skip
    from grader.classroom.ledger import parse_time
    from grader.grade import assemble, prepare, section_tasks, services
    from grader.schedule import run_longest_first

    folder, csv_path = Path(folder), Path(csv_path)
    reports = Path(reports) if reports else csv_path.with_name(csv_path.stem + "_reports")
    reports.mkdir(parents=True, exist_ok=True)
    due = parse_time(deadline) if deadline else course_deadline()
    sections = [s.name for s in all_sections() if not only or s.name in only or s.module in only]
    rows: list[dict] = []

    def add(row: dict, submission: Path, seconds: float) -> None:
        rows.append(completed(row, submission, seconds, due))
        if progress:
            progress(rows[-1])

    prepared = {}  # Submission → (its folder, seconds its collection took)

    def finish(sub, dones) -> None:  # the submission's last section is judged: its report and row
        submission, seconds = prepared[sub]
        try:
            row = report_row(submission, assemble(sub, dones), reports, secret_seed)
        except Exception as e:  # noqa: BLE001
            row = not_graded_row(submission.name, e)
        add(row, submission, seconds + sum(done.seconds for done in dones))

    for submission in submissions(folder):
        start = time.monotonic()
        try:
            sub = prepare(submission, only=only, hidden=hidden, seed=seed, sandbox=sandbox)
        except Exception as e:  # noqa: BLE001 - one broken submission never stops the batch
            add(not_graded_row(submission.name, e), submission, time.monotonic() - start)
        else:
            prepared[sub] = (submission, time.monotonic() - start)
            if not sub.section_jobs:  # no section to run: its row now
                finish(sub, [])

    # one pool for the sections of all submissions, the longest first; one zygote, one warm runner
    with services(sandbox=sandbox, call_timeout=call_timeout, section_timeout=timeout) as shared:
        tasks = [task for sub in prepared for task in section_tasks(sub, shared)]
        run_longest_first(tasks, jobs, on_group=finish)
    rows.sort(key=lambda r: r["student"])
    fields = ["student", "score", "max_score", *sections, "status", "seconds", "late_days"]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: csv_cell(v) for k, v in row.items()} for row in rows])
    (reports / "_batch.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows
