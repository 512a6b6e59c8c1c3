"""The plan of one class run: per student the commit to grade (and why), and the shards.

A job is one commit to grade: ``current`` (a scheduled run: the head it saw), ``on_time`` (the
deadline run: the head the log saw last before the deadline) or ``late`` (a newer head seen after the
deadline, within the late policy's cap). A job whose commit was already graded with the same seed mode
is not planned again: its stored row is reused by the merge.
"""

from __future__ import annotations

import math
from datetime import datetime

from grader.classroom.ledger import Event, LatePolicy, format_time, parse_time, resolve, timeline
from grader.classroom.roster import Student

MAX_SHARDS = 256  # GitHub's limit of jobs in one matrix


def shard_count(jobs: int, size: int) -> int:
    if size < 1:
        raise ValueError("shard size must be at least 1")
    return min(MAX_SHARDS, math.ceil(jobs / size))


def assign_shards(jobs: list[dict], size: int) -> int:
    """Cut ``jobs`` (in order) into contiguous shards as even as possible; sets each job's ``shard``."""
    n = shard_count(len(jobs), size)
    for i, job in enumerate(jobs):
        job["shard"] = i * n // len(jobs)
    return n


def _event(e: Event | None) -> dict | None:
    return None if e is None else {"sha": e.sha, "at": format_time(e.at), "source": e.source}


def graded_key(student: str, sha: str, seed: str, hidden: bool) -> tuple:
    return (student, sha, seed, bool(hidden))


def make_plan(students: list[Student], heads: dict[str, str | None], seen: list[dict], graded: list[dict], *,
              run: str, now: datetime, seed: str = "secret", hidden: bool = True, deadline: datetime | None = None,
              pushes: dict[str, list[dict]] | None = None, policy: LatePolicy | None = None, shard_size: int = 15,
              regrade: bool = False, branch: str = "main", errors: dict[str, str] | None = None,
              sections: list[str] | None = None, owner: str = "") -> dict:  # fmt: skip
    """``heads``: student → the head seen now (None: no commit); ``errors``: student → why it could not be read;
    ``sections``: grade only these (the sections assigned so far; None: all); ``owner``: the account the
    course app is installed on (empty: every repository of the roster)."""
    policy = policy or LatePolicy()
    done = {graded_key(g["student"], g["sha"], g["seed"], g.get("hidden", True)): g for g in graded}
    rows, jobs, reused = [], [], []
    for s in students:
        row = {**s.to_dict(), "on_time": None, "late": None, "days_late": 0, "note": "", "status": "planned"}
        if errors and s.student in errors:
            row["note"] = errors[s.student]
        if deadline is None:
            sha = heads.get(s.student)
            row["on_time"] = {"sha": sha, "at": format_time(now), "source": "log"} if sha else None
            wanted = [("current", row["on_time"])] if sha else []
        else:
            res = resolve(timeline(seen, s.student, (pushes or {}).get(s.student), branch), deadline, policy)
            row.update(on_time=_event(res.on_time), late=_event(res.late), days_late=res.days_late)
            row["note"] = "; ".join(filter(None, [row["note"], res.note]))
            wanted = [(k, row[k]) for k in ("on_time", "late") if row[k]]
        if not wanted:
            row["status"] = "no commit" if not (errors and s.student in errors) else "not reachable"
        for kind, ev in wanted:
            job = {"id": s.student if kind != "late" else f"{s.student}--late", "student": s.student,
                   "repository": s.repository, "sha": ev["sha"], "kind": kind}  # fmt: skip
            stored = done.get(graded_key(s.student, ev["sha"], seed, hidden))
            if stored and not regrade:
                reused.append({**job, "row": stored})
            else:
                jobs.append(job)
        rows.append(row)
    shards = assign_shards(jobs, shard_size) if jobs else 0
    return {
        "run": run,
        "created_at": format_time(now),
        "deadline": format_time(deadline) if deadline else None,
        "seed": seed,
        "hidden": hidden,
        "sections": sections,
        "owner": owner,
        "policy": {"penalty_per_day": policy.penalty_per_day, "cap_days": policy.cap_days},
        "students": rows,
        "jobs": jobs,
        "reused": reused,
        "shards": shards,
    }


def shard_jobs(plan: dict, shard: int) -> list[dict]:
    return [j for j in plan["jobs"] if j["shard"] == shard]


def installed(repository: str, owner: str) -> bool:
    """Whether the course app's token can reach ``repository``: it belongs to the account the app is
    installed on (``owner``; empty: every repository does). A fork elsewhere is public: it is cloned
    without a token, and nothing can be posted to it."""
    return not owner or repository.split("/", 1)[0].lower() == owner.lower()


def repository_names(repositories, owner: str = "") -> str:
    """The ``repositories`` input of the app-token action (its ``owner``'s repositories only): names without
    their owner, sorted, comma-separated; empty when none is the owner's."""
    return ",".join(sorted({r.split("/", 1)[1] for r in repositories if installed(r, owner)}))


def matrix(plan: dict) -> dict:
    """The ``strategy.matrix`` of the grading job: one entry per shard, with the repositories its token may read."""
    owner = plan.get("owner", "")
    return {"include": [{"shard": k, "repositories": repository_names((j["repository"] for j in shard_jobs(plan, k)),
                                                                      owner)}
                        for k in range(plan["shards"])]}  # fmt: skip


def deadline_of(text: str | None) -> datetime | None:
    if not (text and text.strip()):
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(f"deadline {text!r}: expected an ISO 8601 time such as 2026-12-20T23:59:00+09:00") from None
