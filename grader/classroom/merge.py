"""Merge the shards of a run into the class's grades: every roster student gets one row, whatever
happened to their shard.

A job whose shard did not report (a failed or cancelled runner, a missing artifact) is listed as
"not graded" with the reason, and it is not written to the grading log, so the next run plans it
again: a rerun fills it in. A job its shard could not grade (a clone that failed, a row whose status
says "not graded" or "error") is treated the same: no final points (never a 0 that looks like a grade),
nothing recorded. Rows graded by an earlier run are reused as they were.

Writes into ``OUT``: ``grades.csv`` (the instructor's view: commits, times, score, late penalty,
final points, per-section points, status), ``lms.csv`` (student, points, out of — for an LMS
gradebook import), ``gradescope/<job>.json`` (Gradescope's ``results.json`` of each commit graded in
this run), ``graded.jsonl`` (this run's new grading-log records), ``publish.json`` (what
each student may be shown) and ``reports/<job>.md``.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from grader.classroom.ledger import format_time, parse_time
from grader.report.escape import csv_cell
from grader.sections import all_sections

NOT_GRADED = "not graded"


def _is_grade(row: dict) -> bool:
    return row.get("max_score") not in (None, "") and not str(row.get("status", "")).startswith(("error", "not graded"))


def load_shards(plan: dict, shards: Path) -> tuple[dict[str, dict], dict[int, str]]:
    """Job id → its graded entry, and shard → why it is missing (for the shards that did not report)."""
    done, missing = {}, {}
    for k in range(plan["shards"]):
        rows = Path(shards) / f"shard-{k}" / "rows.json"
        if not rows.is_file():
            missing[k] = f"shard {k} did not report"
            continue
        try:
            entries = json.loads(rows.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            missing[k] = f"shard {k} left an unreadable result"
            continue
        planned = {j["id"]: j for j in plan["jobs"] if j["shard"] == k}
        for e in entries:
            job = planned.get(e.get("id"))
            if job and e.get("sha") == job["sha"]:  # only what was planned, for the planned commit
                done[job["id"]] = e
    return done, missing


def merge(plan: dict, shards: Path, out: Path, *, now=None) -> list[dict]:
    out = Path(out)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    (out / "gradescope").mkdir(exist_ok=True)
    done, missing = load_shards(plan, shards)
    sections = [s.name for s in all_sections()]
    graded_at = format_time(now or parse_time(plan["created_at"]))
    # job id → (row, where it comes from)
    results: dict[str, tuple[dict, str]] = {r["id"]: (r["row"], f"graded earlier ({r['row'].get('run', '?')})")
                                            for r in plan["reused"]}  # fmt: skip
    records, publish = [], []
    for job in plan["jobs"]:
        entry = done.get(job["id"])
        if entry is None:
            reason = missing.get(job["shard"], f"shard {job['shard']} has no result for this student")
            results[job["id"]] = ({"status": f"{NOT_GRADED}: {reason}; rerun to fill in"}, "missing")
            continue
        row = dict(entry["row"])
        results[job["id"]] = (row, "graded")
        if not _is_grade(row):
            continue
        record = {"student": job["student"], "repository": job["repository"], "sha": job["sha"], "kind": job["kind"],
                  "seed": plan["seed"], "hidden": plan["hidden"], "score": row["score"], "max_score": row["max_score"],
                  "sections": {s: row[s] for s in sections if s in row}, "status": row.get("status", "ok"),
                  "graded_at": graded_at, "run": plan["run"]}  # fmt: skip
        records.append(record)
        report = Path(shards) / f"shard-{job['shard']}" / "reports" / f"{job['id']}.md"
        if report.is_file():
            shutil.copy(report, out / "reports" / report.name)
        gradescope = report.with_name(f"{job['id']}.gradescope.json")
        if gradescope.is_file():
            shutil.copy(gradescope, out / "gradescope" / f"{job['id']}.json")
        publish.append({**job, "score": row["score"], "max_score": row["max_score"], "status": row.get("status", "ok"),
                        "report": f"reports/{job['id']}.md" if report.is_file() else None})  # fmt: skip
    penalty, cap = plan["policy"]["penalty_per_day"], plan["policy"]["cap_days"]
    table = []
    for s in plan["students"]:
        kind_first = "current" if plan["deadline"] is None else "on_time"
        first = results.get(s["student"])
        late = results.get(f"{s['student']}--late")
        row = {"student": s["student"], "repository": s["repository"], "note": s["note"]}
        if s["on_time"]:
            row.update(commit=s["on_time"]["sha"], seen_at=s["on_time"]["at"])
        if s["late"]:
            row.update(late_commit=s["late"]["sha"], late_seen_at=s["late"]["at"], days_late=s["days_late"])
        statuses, finals, pending = [], [], False
        if first:
            r, origin = first
            row.update(score=r.get("score", ""), max_score=r.get("max_score", ""))
            row.update({sec: r["sections"][sec] for sec in sections if sec in r.get("sections", {})})
            row.update({sec: r[sec] for sec in sections if sec in r})
            statuses.append(_status(kind_first, r, origin))
            pending |= not _is_grade(r)
            if _is_grade(r):
                finals.append(float(r["score"]))
        if late:
            r, origin = late
            factor = 0.0 if s["days_late"] > cap else max(0.0, 1.0 - penalty * s["days_late"])
            row.update(late_score=r.get("score", ""), late_factor=round(factor, 4))
            statuses.append(_status("late", r, origin))
            pending |= not _is_grade(r)
            if _is_grade(r):
                finals.append(float(r["score"]) * factor)
                row.setdefault("max_score", r["max_score"])
        if not first and not late:
            statuses.append(s["status"])
        row["final"] = "" if pending else round(max(finals, default=0.0), 4)
        row["status"] = "; ".join(statuses)
        table.append(row)
    fields = ["student", "repository", "commit", "seen_at", "score", "max_score", "late_commit", "late_seen_at",
              "late_score", "days_late", "late_factor", "final", *sections, "status", "note"]  # fmt: skip
    _write_csv(out / "grades.csv", fields, table)
    _write_csv(out / "lms.csv", ["student", "points", "out_of"],
               [{"student": r["student"], "points": r["final"], "out_of": r.get("max_score", "")} for r in table])  # fmt: skip
    with open(out / "graded.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    policy = {"deadline": plan["deadline"], "penalty_per_day": penalty, "cap_days": cap}
    days = {s["student"]: s["days_late"] for s in plan["students"]}
    for p in publish:
        p["days_late"] = days.get(p["student"], 0) if p["kind"] == "late" else 0
    students = {s["student"]: s for s in plan["students"]}
    for p in publish:
        p["feedback_pr"] = students[p["student"]].get("feedback_pr")
    shown = {"policy": policy, "run": plan["run"], "owner": plan.get("owner", ""), "items": publish}
    (out / "publish.json").write_text(json.dumps(shown, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return table


def _status(kind: str, row: dict, origin: str) -> str:
    text = str(row.get("status", ""))
    if origin == "missing":
        return f"{kind}: {text}"
    return f"{kind}: {text or 'ok'}" + ("" if origin == "graded" else f" ({origin})")


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: csv_cell(v) if isinstance(v, str) else v for k, v in r.items()})
