"""The grading log: what the instructor's side saw, when, and what it graded.

Commit dates are written by whoever commits, so they prove nothing. The evidence a deadline rests on
is the instructor's own record: each run appends, per student, the head commit it saw and the time it
saw it (``seen.jsonl``), only when that head changed. GitHub's push times (the repository activity
API), fetched at the deadline, are a second server-side source: a push the log missed because it
fell between two scheduled runs still counts when GitHub says it happened before the deadline.

``graded.jsonl`` holds one row per graded (student, commit, seed mode): the next run skips those
commits, and the class CSV shows them. Both files are append-only JSON lines kept on the
``grading-log`` branch of the instructor repository (:func:`pull_log` / :func:`push_log`).
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grader.classroom.remote import RemoteError, git, git_env

SEEN = "seen.jsonl"
GRADED = "graded.jsonl"
SEEN_KEYS = ("student", "sha", "seen_at")
GRADED_KEYS = ("student", "sha", "seed")
BRANCH = "grading-log"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    t = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The records of a log file (none when it does not exist); a line that is not a JSON object with
    the ``required`` keys is an error naming the file and line (a log edited by hand, a cut-off write)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{n}: not a JSON record") from None
        missing = sorted(set(required) - set(record)) if isinstance(record, dict) else ["its fields"]
        if missing:
            raise ValueError(f"{path}:{n}: a record without {', '.join(missing)}")
        records.append(record)
    return records


def append_jsonl(path: Path, records: list[dict]) -> None:
    if not records:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def last_seen(seen: list[dict]) -> dict[str, dict]:
    """The latest record of each student."""
    out: dict[str, dict] = {}
    for r in sorted(seen, key=lambda r: parse_time(r["seen_at"])):
        out[r["student"]] = r
    return out


def new_sightings(seen: list[dict], heads: dict[str, tuple[str, str]], now: datetime, run: str) -> list[dict]:
    """Records for the heads that differ from what the log last saw (``heads``: student → (repository, sha))."""
    last = last_seen(seen)
    out = []
    for student, (repository, sha) in sorted(heads.items()):
        if sha and last.get(student, {}).get("sha") != sha:
            out.append({"student": student, "repository": repository, "sha": sha, "seen_at": format_time(now),
                        "run": run})  # fmt: skip
    return out


@dataclass(frozen=True)
class Event:
    """From ``at`` on, the student's branch pointed at ``sha`` (by ``source``: "log" or "push")."""

    at: datetime
    sha: str
    source: str


def timeline(seen: list[dict], student: str, pushes: list[dict] | None = None, branch: str = "main") -> list[Event]:
    events = [Event(parse_time(r["seen_at"]), r["sha"], "log") for r in seen if r["student"] == student]
    for p in pushes or []:
        if p.get("ref", f"refs/heads/{branch}") == f"refs/heads/{branch}" and p.get("after") and p.get("timestamp"):
            if set(p["after"]) != {"0"}:  # a deleted branch points nowhere
                events.append(Event(parse_time(p["timestamp"]), p["after"], "push"))
    return sorted(events, key=lambda e: (e.at, e.source == "log"))


def head_at(events: list[Event], t: datetime) -> Event | None:
    """The last event at or before ``t``: the head the instructor's side knows the branch had at ``t``."""
    before = [e for e in events if e.at <= t]
    return before[-1] if before else None


@dataclass(frozen=True)
class LatePolicy:
    penalty_per_day: float = 0.1
    cap_days: float = 3

    def days_late(self, at: datetime, deadline: datetime) -> int:
        return max(0, math.ceil((at - deadline).total_seconds() / 86400))

    def factor(self, days: int) -> float:
        return 0.0 if days > self.cap_days else max(0.0, 1.0 - self.penalty_per_day * days)


@dataclass(frozen=True)
class Resolution:
    """What to grade for one student at a deadline."""

    on_time: Event | None
    late: Event | None  # a newer head seen after the deadline, within the cap
    days_late: int
    note: str


def resolve(events: list[Event], deadline: datetime, policy: LatePolicy) -> Resolution:
    on_time = head_at(events, deadline)
    notes = []
    if on_time and on_time.source == "push":
        logged = head_at([e for e in events if e.source == "log"], deadline)
        notes.append(
            f"GitHub reports a push at {format_time(on_time.at)}, after the last run before the deadline saw "
            + (logged.sha[:12] if logged else "nothing")
        )
    limit = deadline + timedelta(days=policy.cap_days)
    final = head_at(events, limit)
    late, days = None, 0
    if final and (on_time is None or final.sha != on_time.sha) and final.at > deadline:
        # the late submission's time is when its head was first known, not a commit date
        first = min(e.at for e in events if e.sha == final.sha and e.at > deadline)
        late, days = Event(first, final.sha, final.source), policy.days_late(first, deadline)
    after = [e for e in events if e.at > limit and e.sha != (final.sha if final else None)]
    if after:
        notes.append(f"commits seen more than {policy.cap_days:g} days after the deadline are not graded")
    return Resolution(on_time, late, days, "; ".join(notes))


def pull_log(remote: str, folder: Path, token: str | None, base: str) -> None:
    """``folder`` gets the log files of the ``grading-log`` branch (empty when the branch does not exist yet)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = git_env(token, base)
    with tempfile.TemporaryDirectory() as tmp:
        git("init", "--quiet", cwd=tmp, env=env)
        try:
            git("fetch", "--quiet", "--depth", "1", remote, f"refs/heads/{BRANCH}", cwd=tmp, env=env)
        except RemoteError as e:
            if "couldn't find remote ref" in str(e) or "not our ref" in str(e):
                return
            raise
        for name in (SEEN, GRADED):
            try:
                (folder / name).write_text(git("show", f"FETCH_HEAD:{name}", cwd=tmp, env=env), encoding="utf-8")
            except RemoteError:
                pass


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] if path.is_file() else []


def push_log(remote: str, folder: Path, token: str | None, base: str, message: str, attempts: int = 3) -> None:
    """Add the records of ``folder`` to the ``grading-log`` branch: the union of both sides' lines, so a
    concurrent writer loses nothing."""
    env = git_env(token, base)
    env.update(GIT_AUTHOR_NAME="course grader", GIT_AUTHOR_EMAIL="grader@invalid",
               GIT_COMMITTER_NAME="course grader", GIT_COMMITTER_EMAIL="grader@invalid")  # fmt: skip
    for attempt in range(attempts):
        with tempfile.TemporaryDirectory() as tmp:
            git("init", "--quiet", "-b", BRANCH, cwd=tmp, env=env)
            try:
                git("fetch", "--quiet", remote, f"refs/heads/{BRANCH}", cwd=tmp, env=env)
                git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=tmp, env=env)
            except RemoteError as e:
                if "couldn't find remote ref" not in str(e):
                    raise
            changed = False
            for name in (SEEN, GRADED):
                theirs, ours = _lines(Path(tmp) / name), _lines(Path(folder) / name)
                known = set(theirs)
                merged = theirs + [ln for ln in ours if ln.strip() and ln not in known and not known.add(ln)]
                if merged != theirs:
                    (Path(tmp) / name).write_text("\n".join(merged) + "\n", encoding="utf-8")
                    changed = True
            if not changed:
                return
            git("add", "--all", cwd=tmp, env=env)
            git("commit", "--quiet", "-m", message, cwd=tmp, env=env)
            try:
                git("push", "--quiet", remote, f"HEAD:refs/heads/{BRANCH}", cwd=tmp, env=env)
                return
            except RemoteError:
                if attempt == attempts - 1:
                    raise
