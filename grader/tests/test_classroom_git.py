"""Class grading against real git: bare repositories on disk stand in for the students' GitHub
repositories (cloned by ``file://`` URL). Students push between scheduled runs; one rewrites history
after the deadline with forged commit dates; the deadline run grades the commit the log saw."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

from grader.classroom import ledger, remote

DEADLINE = "2026-12-20T15:00:00Z"


def git(*args, cwd=None, env=None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class Student:
    """A student's clone and their "GitHub" repository (a bare repository under ``remotes/``)."""

    def __init__(self, root: Path, name: str):
        self.name, self.repository = name, f"course/ch6-{name}"
        self.bare = root / "remotes" / f"{self.repository}.git"
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "-b", "main", str(self.bare))
        self.work = root / "work" / name
        git("init", "--quiet", "-b", "main", str(self.work))

    def commit(self, text: str, date: str | None = None) -> str:
        (self.work / "answer.txt").write_text(text)
        git("add", "answer.txt", cwd=self.work)
        dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
        git("-c", "user.name=s", "-c", "user.email=s@x", "commit", "--quiet", "-m", text, cwd=self.work, env=dates)
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, force=False):
        git("push", "--quiet", *(["--force"] if force else []), str(self.bare), "main", cwd=self.work)


@pytest.fixture
def course(tmp_path):
    alice, bob = Student(tmp_path, "alice"), Student(tmp_path, "bob")
    (tmp_path / "roster.csv").write_text(f"student,repository\nalice,{alice.repository}\nbob,{bob.repository}\n")
    return tmp_path, alice, bob


def plan_run(root: Path, name: str, now: str, *extra: str) -> dict:
    proc = run_cli("class", "plan", "--roster", str(root / "roster.csv"), "--log", str(root / "log"), "--out",
                   str(root / name), "--git-base", f"file://{root}/remotes/", "--seed", "public", "--run", name,
                   "--now", now, *extra, env={"GITHUB_OUTPUT": str(root / f"{name}.out")})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / name / "plan.json").read_text())


def test_scheduled_runs_record_each_new_head_once_with_the_time_seen(course):
    root, alice, bob = course
    a1 = alice.commit("a1")
    alice.push()
    p1 = plan_run(root, "run1", "2026-12-20T10:00:00Z")
    assert [(j["student"], j["sha"]) for j in p1["jobs"]] == [("alice", a1)]
    assert [r["status"] for r in p1["students"]] == ["planned", "no commit"]  # bob has not pushed yet
    b1 = bob.commit("b1")
    bob.push()
    plan_run(root, "run2", "2026-12-20T10:30:00Z")
    a2 = alice.commit("a2")
    alice.push()
    plan_run(root, "run3", "2026-12-20T11:00:00Z")
    seen = [(r["student"], r["sha"], r["seen_at"]) for r in ledger.read_jsonl(root / "log" / "seen.jsonl")]
    assert seen == [("alice", a1, "2026-12-20T10:00:00Z"), ("bob", b1, "2026-12-20T10:30:00Z"),
                    ("alice", a2, "2026-12-20T11:00:00Z")]  # fmt: skip
    out = (root / "run3.out").read_text()
    assert "count=1" in out and '"shard":0' in out


def test_deadline_run_grades_the_commit_the_log_saw_not_the_forged_one(course, tmp_path):
    root, alice, _ = course
    alice.commit("draft")
    alice.push()
    plan_run(root, "run1", "2026-12-20T14:00:00Z")
    on_time = alice.commit("submitted")
    alice.push()
    plan_run(root, "run2", "2026-12-20T14:30:00Z")
    # after the deadline: alice rewrites history and dates a better answer before the deadline
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=alice.work)
    forged = alice.commit("better answer, backdated", date="2026-12-20T13:00:00Z")
    alice.push(force=True)
    deadline_plan = plan_run(root, "deadline", "2026-12-20T16:00:00Z", "--deadline", DEADLINE, "--no-push-times")
    jobs = {j["kind"]: j["sha"] for j in deadline_plan["jobs"] if j["student"] == "alice"}
    assert jobs == {"on_time": on_time, "late": forged}
    row = next(r for r in deadline_plan["students"] if r["student"] == "alice")
    assert row["days_late"] == 1 and row["on_time"]["at"] == "2026-12-20T14:30:00Z"
    # the forged commit's date claims it was there in time: a resolver trusting commit dates is fooled
    by_date = git("log", "-1", "--format=%H", f"--before={DEADLINE}", "main", cwd=alice.work)
    assert by_date == forged != jobs["on_time"]
    # the logged commit is no longer on the branch, yet it is what gets cloned (GitHub keeps it by id)
    dest = tmp_path / "subs"
    proc = run_cli("class", "fetch", str(root / "deadline" / "plan.json"), "--shard", "0", "--dest", str(dest),
                   "--git-base", f"file://{root}/remotes/")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (dest / "alice" / "answer.txt").read_text() == "submitted"
    assert (dest / "alice--late" / "answer.txt").read_text() == "better answer, backdated"
    assert not (dest / "alice" / ".git").exists()


def test_a_commit_that_cannot_be_cloned_is_reported_not_fatal(course, tmp_path):
    root, alice, _ = course
    alice.commit("a")
    alice.push()
    p = plan_run(root, "run1", "2026-12-20T10:00:00Z")
    p["jobs"][0]["sha"] = "f" * 40
    (root / "bad.json").write_text(json.dumps(p))
    proc = run_cli("class", "fetch", str(root / "bad.json"), "--shard", "0", "--dest", str(tmp_path / "subs"),
                   "--git-base", f"file://{root}/remotes/")  # fmt: skip
    assert proc.returncode == 0 and "could not be cloned" in proc.stdout
    errors = json.loads((tmp_path / "subs" / "_fetch_errors.json").read_text())
    assert list(errors) == ["alice"] and "could not clone" in errors["alice"]


def test_grading_log_branch_round_trip_and_concurrent_writers_lose_nothing(tmp_path):
    instructor = tmp_path / "instructor.git"
    git("init", "--quiet", "--bare", str(instructor))
    url = f"file://{instructor}"
    first = tmp_path / "first"
    ledger.pull_log(url, first, None, url)  # no grading-log branch yet: an empty log
    assert not (first / "seen.jsonl").exists()
    ledger.append_jsonl(first / "seen.jsonl", [{"student": "a", "sha": "1" * 40, "seen_at": "t1"}])
    ledger.push_log(url, first, None, url, "run 1")
    # a second writer that pulled before the first pushed adds its own line: the branch keeps both
    second = tmp_path / "second"
    ledger.append_jsonl(second / "seen.jsonl", [{"student": "b", "sha": "2" * 40, "seen_at": "t2"}])
    ledger.push_log(url, second, None, url, "run 2")
    third = tmp_path / "third"
    ledger.pull_log(url, third, None, url)
    assert [r["student"] for r in ledger.read_jsonl(third / "seen.jsonl")] == ["a", "b"]
    assert git("--git-dir", str(instructor), "rev-list", "--count", "grading-log") == "2"


def test_a_token_reaches_git_only_as_an_https_header_in_the_environment(monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_COUNT", "7")  # the caller's own git config variables never leak through
    env = remote.git_env("ghs_secret", "https://github.com/")
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert (
        env["GIT_CONFIG_VALUE_0"].startswith("AUTHORIZATION: basic ") and "ghs_secret" not in env["GIT_CONFIG_VALUE_0"]
    )
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert "GIT_CONFIG_KEY_0" not in remote.git_env("ghs_secret", "file:///tmp/")
    assert remote.repo_url("https://github.com/", "org/r") == "https://github.com/org/r.git"


def test_deadline_run_takes_githubs_push_time_for_a_push_between_two_runs(course, tmp_path):
    # the last scheduled run before the deadline saw "draft"; "final" was pushed 10 minutes before the
    # deadline and first seen by the deadline run. GitHub's push time (the activity API, answered here by a
    # stand-in `gh`) shows it was there in time.
    root, alice, _ = course
    alice.commit("draft")
    alice.push()
    plan_run(root, "run1", "2026-12-20T14:30:00Z")
    final = alice.commit("final")
    alice.push()
    activity = [
        {"ref": "refs/heads/main", "after": final, "timestamp": "2026-12-20T14:50:00Z", "activity_type": "push"}
    ]
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "gh").write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/gh.log"\n'
        f"case \"$*\" in *ch6-alice/activity*) echo '{json.dumps(activity)}';; *) echo '[]';; esac\n"
    )
    (shim / "gh").chmod(0o755)
    proc = run_cli("class", "plan", "--roster", str(root / "roster.csv"), "--log", str(root / "log"), "--out",
                   str(root / "deadline"), "--git-base", f"file://{root}/remotes/", "--seed", "public", "--now",
                   "2026-12-20T15:30:00Z", "--deadline", DEADLINE,
                   env={"PATH": f"{shim}:{os.environ['PATH']}"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    p = json.loads((root / "deadline" / "plan.json").read_text())
    assert [(j["kind"], j["sha"]) for j in p["jobs"] if j["student"] == "alice"] == [("on_time", final)]
    row = next(r for r in p["students"] if r["student"] == "alice")
    assert row["on_time"]["source"] == "push" and "GitHub reports a push" in row["note"]
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert any("repos/course/ch6-alice/activity?ref=refs/heads/main&activity_type=push" in c for c in calls)
