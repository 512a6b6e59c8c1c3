"""Batch grading: every sub-folder of SUBMISSIONS_DIR is one student's submission.

``python -m grader batch SUBMISSIONS_DIR --jobs N --csv grades.csv``: N submissions at a time (each
graded section by section, sandboxed, with one zygote shared by the whole batch), a progress bar,
one CSV row per student and the per-student JSON report kept in ``--reports DIR`` (default:
``<csv stem>_reports/`` next to the CSV). A section that takes longer than ``--timeout`` seconds is
stopped (its unfinished tests score 0, the row says why); a submission that cannot be graded at all
gets a row saying why; the batch goes on.

The CSV's columns: ``student``, ``score``, ``max_score``, one per section, ``status``, ``seconds``
and ``late_days``. ``status`` is ``ok`` or what went wrong, the most serious first, joined by ``; ``
when several apply: ``not graded: REASON`` (nothing could be graded), ``syntax error in FILE``,
``import error`` (a section module raised while being imported; ``import error in FILE``),
``timeout in EXERCISES`` (a call did not return in time or the section's time budget ran out),
``tampered: FILES`` (protected files the submission changed or added; a folder holding only
``exercises/`` changed none: files it does not have are not counted). ``late_days`` are started days after the
deadline (``--deadline ISO8601``, else ``deadline`` in ``[late]`` of ``grader/classroom/course.toml``;
empty without one), counted as the classroom merge counts them (``LatePolicy.days_late``) from the
submission's time: its last commit when the folder is a git repository, else the newest
modification time of its files.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
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


def batch(folder: Path, csv_path: Path, *, jobs: int = 2, seed: int = 0, secret_seed: bool = False,
          reports: Path | None = None, only=None, sandbox: bool = True, call_timeout: float | None = None,
          timeout: float = 900, hidden: bool = True, progress=None, deadline: str | None = None) -> list[dict]:  # fmt: skip
    from grader.classroom.ledger import parse_time
    from grader.grade import WARM_ENV, grade
    from grader.report.json_report import write_json

    folder, csv_path = Path(folder), Path(csv_path)
    reports = Path(reports) if reports else csv_path.with_name(csv_path.stem + "_reports")
    reports.mkdir(parents=True, exist_ok=True)
    due = parse_time(deadline) if deadline else course_deadline()
    subs = submissions(folder)
    zygote = None
    if sandbox:
        from grader.sandbox.pool import Zygote

        zygote = Zygote()
    runner = None
    if os.environ.get(WARM_ENV, "1") != "0":  # pytest, NumPy and torch imported once for the whole batch
        from grader.run import child_env
        from grader.warm import WarmRunner

        runner = WarmRunner(child_env())
    sections = [s.name for s in all_sections() if not only or s.name in only or s.module in only]

    def one(sub: Path) -> dict:
        start = time.monotonic()
        row = {"student": sub.name, "status": "ok"}
        try:
            result = grade(
                sub, jobs=1, seed=seed, only=only, sandbox=sandbox, call_timeout=call_timeout, zygote=zygote,
                hidden=hidden, section_timeout=timeout, runner=runner,
            )  # fmt: skip
            if secret_seed:  # the official seed: graded with it, never written into a report
                result.seed = None
            write_json(result, reports / f"{sub.name}.json")
            row.update(score=result.score, max_score=result.max_score)
            row.update({s.name: s.score for s in result.sections})
            row["status"] = status_of(result, sub)
        except Exception as e:  # noqa: BLE001 - one broken submission never stops the batch
            row.update(score=0, max_score="", status=f"not graded: {type(e).__name__}: {e}"[:300])
        row["seconds"] = round(time.monotonic() - start, 1)
        row["late_days"] = late_days(sub, due)
        return row

    rows = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, sub): sub for sub in subs}
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as e:  # noqa: BLE001
                    row = {"student": futures[future].name, "score": 0, "status": f"not graded: {e}"[:300]}
                rows.append(row)
                if progress:
                    progress(row)
    finally:
        if zygote is not None:
            zygote.close()
        if runner is not None:
            runner.close()
    rows.sort(key=lambda r: r["student"])
    fields = ["student", "score", "max_score", *sections, "status", "seconds", "late_days"]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: csv_cell(v) for k, v in row.items()} for row in rows])
    (reports / "_batch.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows
