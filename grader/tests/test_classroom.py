"""Class grading without git or GitHub: roster parsing, shard planning, deadline resolution from the
grading log, the late policy, merging shards (one missing or failed: nobody is lost, a rerun fills
them in), the status and comment payloads, and the grading step's refusal to hold a token.
Grading itself is stubbed here (a fake ``batch``); ``test_workflow_dry_run.py`` grades for real."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import run_cli

from grader.classroom import ledger, plan, publish, roster, shard
from grader.classroom.merge import merge
from grader.classroom.roster import RosterError, Student
from grader.sections import REPO

NOW = ledger.parse_time("2026-12-20T12:00:00Z")
DEADLINE = ledger.parse_time("2026-12-20T23:59:00+09:00")  # 14:59 UTC


def students(n: int) -> list[Student]:
    return [Student(f"s{i:03d}", f"course/ch6-s{i:03d}") for i in range(n)]


def sha(i: int) -> str:
    return f"{i:040x}"


# ---------------------------------------------------------------- roster


def test_roster_csv_reads_students_repositories_and_feedback_prs(tmp_path):
    # oracle: the example roster committed beside the code, read back row by row
    path = tmp_path / "roster.csv"
    path.write_text("student,repository,feedback_pr\n# comment\nbob,org/ch6-bob,\nalice,org/ch6-alice,1\n")
    got = roster.read_roster_csv(path)
    assert got == [Student("alice", "org/ch6-alice", 1), Student("bob", "org/ch6-bob", None)]
    example = roster.read_roster_csv(Path(roster.__file__).with_name("roster.example.csv"))
    assert [s.student for s in example] == ["alice", "bob"]


@pytest.mark.parametrize(
    "line",
    ["../x,org/repo,", "alice,org/../repo,", "alice,--upload-pack=evil,", "alice,org/repo,-3", "alice,org/repo,x"],
)
def test_roster_refuses_names_that_could_become_paths_or_options(tmp_path, line):
    path = tmp_path / "roster.csv"
    path.write_text("student,repository,feedback_pr\n" + line + "\n")
    with pytest.raises(RosterError):
        roster.read_roster_csv(path)


def test_roster_refuses_a_student_listed_twice(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("student,repository\nalice,org/a\nalice,org/b\n")
    with pytest.raises(RosterError, match="twice"):
        roster.read_roster_csv(path)


def test_org_roster_takes_the_assignment_prefix_from_paginated_output():
    # oracle: GitHub Classroom's naming, <prefix>-<login>; `gh api --paginate` prints one array per page
    pages = json.dumps(
        [{"name": "ch6-alice", "full_name": "org/ch6-alice"}, {"name": "other", "full_name": "org/other"}]
    )
    pages += json.dumps([{"name": "ch6-bob", "full_name": "org/ch6-bob"}, {"name": "ch6", "full_name": "org/ch6"}])
    got = roster.roster_from_org(roster.parse_json_stream(pages), "ch6")
    assert got == [Student("alice", "org/ch6-alice"), Student("bob", "org/ch6-bob")]


def test_fork_roster_names_students_by_fork_owner():
    forks = [{"owner": {"login": "zed"}, "full_name": "zed/course"}, {"owner": {"login": "amy"}, "full_name": "amy/c"}]
    assert roster.roster_from_forks(forks) == [Student("amy", "amy/c"), Student("zed", "zed/course")]


def test_select_keeps_the_named_students_and_refuses_unknown_ones():
    class_ = students(5)
    assert [s.student for s in roster.select(class_, "s001, s003")] == ["s001", "s003"]
    assert roster.select(class_, "") == class_
    with pytest.raises(RosterError, match="nobody"):
        roster.select(class_, "nobody")


# ---------------------------------------------------------------- shard planning


@pytest.mark.parametrize("n", [0, 1, 37, 300])
def test_shards_cover_every_student_once_and_are_balanced(n):
    # oracle: the definition — ceil(n/size) shards, each at most `size`, sizes differ by at most one
    size = 15
    heads = {s.student: sha(i + 1) for i, s in enumerate(students(n))}
    p = plan.make_plan(students(n), heads, [], [], run="r1", now=NOW, shard_size=size)
    assert p["shards"] == math.ceil(n / size)
    assert sorted(j["student"] for j in p["jobs"]) == sorted(heads)
    sizes = [len(plan.shard_jobs(p, k)) for k in range(p["shards"])]
    assert sum(sizes) == n and all(0 < x <= size for x in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1
    assert [m["shard"] for m in plan.matrix(p)["include"]] == list(range(p["shards"]))


def test_matrix_scopes_each_shard_token_to_its_own_repositories():
    p = plan.make_plan(students(37), {s.student: sha(1) for s in students(37)}, [], [], run="r", now=NOW,
                       shard_size=15)  # fmt: skip
    for entry in plan.matrix(p)["include"]:
        names = entry["repositories"].split(",")
        assert names == sorted(j["repository"].split("/")[1] for j in plan.shard_jobs(p, entry["shard"]))


def test_shard_count_never_exceeds_githubs_matrix_limit():
    assert plan.shard_count(10_000, 1) == plan.MAX_SHARDS


def test_a_commit_graded_earlier_is_reused_not_planned_again():
    class_ = students(3)
    heads = {s.student: sha(i + 1) for i, s in enumerate(class_)}
    graded = [{"student": "s001", "sha": sha(2), "seed": "secret", "hidden": True, "score": 5, "max_score": 9}]
    p = plan.make_plan(class_, heads, [], graded, run="r2", now=NOW)
    assert [j["student"] for j in p["jobs"]] == ["s000", "s002"]
    assert [r["student"] for r in p["reused"]] == ["s001"]
    # the same commit with another seed mode, or --regrade, is graded again
    assert len(plan.make_plan(class_, heads, [], graded, run="r2", now=NOW, seed="public")["jobs"]) == 3
    assert len(plan.make_plan(class_, heads, [], graded, run="r2", now=NOW, regrade=True)["jobs"]) == 3


def test_a_student_without_commit_is_listed_not_planned():
    p = plan.make_plan(students(2), {"s000": sha(1), "s001": None}, [], [], run="r", now=NOW)
    assert [j["student"] for j in p["jobs"]] == ["s000"]
    assert [r["status"] for r in p["students"]] == ["planned", "no commit"]


# ---------------------------------------------------------------- the grading log and deadlines


def seen_at(student: str, sha_: str, t) -> dict:
    return {"student": student, "repository": "o/r", "sha": sha_, "seen_at": ledger.format_time(t), "run": "x"}


def test_new_sightings_record_only_changed_heads():
    seen = [seen_at("a", sha(1), NOW)]
    new = ledger.new_sightings(seen, {"a": ("o/a", sha(1)), "b": ("o/b", sha(2))}, NOW + timedelta(minutes=30), "r")
    assert [(r["student"], r["sha"]) for r in new] == [("b", sha(2))]
    new = ledger.new_sightings(seen, {"a": ("o/a", sha(3))}, NOW, "r")
    assert [(r["student"], r["sha"]) for r in new] == [("a", sha(3))]


def test_deadline_resolves_to_the_last_head_seen_before_it():
    # oracle: a timeline written by hand; the commit dates play no part
    d = DEADLINE
    seen = [seen_at("a", sha(1), d - timedelta(hours=5)), seen_at("a", sha(2), d - timedelta(minutes=20)),
            seen_at("a", sha(3), d + timedelta(minutes=10))]  # fmt: skip
    res = ledger.resolve(ledger.timeline(seen, "a"), d, ledger.LatePolicy(0.1, 3))
    assert res.on_time.sha == sha(2)
    assert res.late.sha == sha(3) and res.days_late == 1


def test_githubs_push_time_counts_a_push_between_two_runs():
    # the last run before the deadline saw sha 1; GitHub says sha 2 was pushed 5 minutes before the deadline
    d = DEADLINE
    seen = [seen_at("a", sha(1), d - timedelta(minutes=25)), seen_at("a", sha(2), d + timedelta(minutes=5))]
    pushes = [{"ref": "refs/heads/main", "after": sha(2), "timestamp": ledger.format_time(d - timedelta(minutes=5))}]
    res = ledger.resolve(ledger.timeline(seen, "a", pushes), d, ledger.LatePolicy())
    assert res.on_time.sha == sha(2) and res.late is None
    assert "GitHub reports a push" in res.note
    # a push to another branch says nothing about the graded branch
    other = [{**pushes[0], "ref": "refs/heads/experiment"}]
    assert ledger.resolve(ledger.timeline(seen, "a", other), d, ledger.LatePolicy()).on_time.sha == sha(1)


def test_commits_later_than_the_cap_are_not_graded():
    d = DEADLINE
    seen = [seen_at("a", sha(1), d - timedelta(hours=1)), seen_at("a", sha(2), d + timedelta(days=4))]
    res = ledger.resolve(ledger.timeline(seen, "a"), d, ledger.LatePolicy(0.1, 3))
    assert res.on_time.sha == sha(1) and res.late is None and "not graded" in res.note


@pytest.mark.parametrize(("hours", "days", "factor"), [(0.5, 1, 0.9), (24, 1, 0.9), (25, 2, 0.8), (72, 3, 0.7)])
def test_late_policy_counts_started_days(hours, days, factor):
    # oracle: penalty 0.1 per started day, cap 3 days, computed by hand
    policy = ledger.LatePolicy(0.1, 3)
    got = policy.days_late(DEADLINE + timedelta(hours=hours), DEADLINE)
    assert got == days and policy.factor(got) == pytest.approx(factor, rel=1e-12)
    assert policy.factor(4) == 0.0


def test_a_plan_at_the_deadline_lists_on_time_and_late_jobs():
    d = DEADLINE
    seen = [seen_at("s000", sha(1), d - timedelta(hours=2)), seen_at("s000", sha(2), d + timedelta(hours=2)),
            seen_at("s001", sha(3), d + timedelta(hours=30))]  # fmt: skip
    p = plan.make_plan(students(2), {}, seen, [], run="r", now=NOW, deadline=d, policy=ledger.LatePolicy(0.1, 3))
    assert [(j["id"], j["sha"], j["kind"]) for j in p["jobs"]] == [
        ("s000", sha(1), "on_time"), ("s000--late", sha(2), "late"), ("s001--late", sha(3), "late")]  # fmt: skip
    assert [r["days_late"] for r in p["students"]] == [1, 2]


# ---------------------------------------------------------------- grading a shard (stubbed batch) and merging


def fake_batch(scores: dict[str, float]):
    """Stands in for grader.batch.batch: writes the per-job JSON report and returns the rows."""

    def run(folder, csv_path, *, reports, **kwargs):
        rows = []
        for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
            score = scores[sub.name]
            rows.append({"student": sub.name, "score": score, "max_score": 10, "sec39_attention_math": score,
                         "status": "ok"})  # fmt: skip
            report = {"target": str(sub), "hidden_included": True, "seed": 4242, "sandboxed": True, "tampered": [],
                      "sections": [{"name": "sec39_attention_math", "problems": [], "seconds": 1.0, "exercises": [
                          {"name": "softmax", "tests": [
                              {"name": "t_core", "status": "passed", "score": score, "max_score": 10,
                               "message": "", "hidden": True}]}]}]}  # fmt: skip
            (Path(reports) / f"{sub.name}.json").write_text(json.dumps(report))
        return rows

    return run


def grade_all(p, tmp_path, scores, skip_shards=()):
    shards = tmp_path / "shards"
    for k in range(p["shards"]):
        if k in skip_shards:
            continue
        subs = tmp_path / f"subs-{k}"
        for j in plan.shard_jobs(p, k):
            (subs / j["id"]).mkdir(parents=True)
        shard.grade_shard(p, k, subs, shards / f"shard-{k}", batch_fn=fake_batch(scores))
    return shards


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_merge_with_a_missing_shard_lists_who_was_not_graded_and_a_rerun_fills_them_in(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    class_ = students(37)
    heads = {s.student: sha(i + 1) for i, s in enumerate(class_)}
    scores = {s.student: float(i % 11) for i, s in enumerate(class_)}
    p = plan.make_plan(class_, heads, [], [], run="r1", now=NOW, shard_size=15)
    lost = {j["student"] for j in plan.shard_jobs(p, 1)}
    table = merge(p, grade_all(p, tmp_path / "run1", scores, skip_shards={1}), tmp_path / "out1")
    rows = read_csv(tmp_path / "out1" / "grades.csv")
    assert set(rows) == set(heads) and len(table) == 37  # nobody is lost
    for name, row in rows.items():
        if name in lost:
            assert "not graded" in row["status"] and "shard 1" in row["status"] and row["final"] == ""
        else:
            assert float(row["final"]) == scores[name] and row["commit"] == heads[name]
    graded = ledger.read_jsonl(tmp_path / "out1" / "graded.jsonl")
    assert {g["student"] for g in graded} == set(heads) - lost
    # the rerun plans exactly the students the first run lost, and the merged CSV is complete
    p2 = plan.make_plan(class_, heads, [], graded, run="r2", now=NOW, shard_size=15)
    assert {j["student"] for j in p2["jobs"]} == lost
    merge(p2, grade_all(p2, tmp_path / "run2", scores), tmp_path / "out2")
    rows = read_csv(tmp_path / "out2" / "grades.csv")
    assert all(float(rows[n]["final"]) == scores[n] for n in heads)
    assert all("graded earlier" in rows[n]["status"] for n in set(heads) - lost)


def test_merge_ignores_a_shards_rows_for_commits_it_was_not_given(tmp_path, monkeypatch):
    # a failed or stale shard artifact must not put a grade on the wrong commit
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    p = plan.make_plan(students(2), {"s000": sha(1), "s001": sha(2)}, [], [], run="r", now=NOW)
    shards = grade_all(p, tmp_path, {"s000": 3.0, "s001": 4.0})
    rows_file = shards / "shard-0" / "rows.json"
    entries = json.loads(rows_file.read_text())
    entries[0]["sha"] = sha(99)
    rows_file.write_text(json.dumps(entries))
    merge(p, shards, tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert "not graded" in rows[entries[0]["student"]]["status"]


def test_merge_applies_the_late_policy_and_keeps_the_better_grade(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    d = DEADLINE
    seen = [seen_at("s000", sha(1), d - timedelta(hours=1)), seen_at("s000", sha(2), d + timedelta(hours=30)),
            seen_at("s001", sha(3), d - timedelta(hours=1)), seen_at("s001", sha(4), d + timedelta(hours=1))]  # fmt: skip
    p = plan.make_plan(students(2), {}, seen, [], run="r", now=NOW, deadline=d, policy=ledger.LatePolicy(0.1, 3))
    scores = {"s000": 4.0, "s000--late": 10.0, "s001": 9.0, "s001--late": 9.5}
    merge(p, grade_all(p, tmp_path, scores), tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "grades.csv")
    # oracle by hand: s000 late 2 days, 10 * 0.8 = 8 > 4; s001 late 1 day, 9.5 * 0.9 = 8.55 < 9
    assert float(rows["s000"]["final"]) == pytest.approx(8.0, rel=1e-12) and rows["s000"]["days_late"] == "2"
    assert rows["s000"]["late_factor"] == "0.8" and rows["s000"]["late_seen_at"] == seen[1]["seen_at"]
    assert float(rows["s001"]["final"]) == pytest.approx(9.0, rel=1e-12)
    lms = read_csv(tmp_path / "out" / "lms.csv")
    assert lms["s000"]["points"] == rows["s000"]["final"] and lms["s000"]["out_of"] == "10"


def test_grading_a_shard_keeps_the_secret_seed_out_of_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW)
    shards = grade_all(p, tmp_path, {"s000": 7.0})
    for f in (shards / "shard-0").rglob("*"):
        if f.is_file():
            assert "4242" not in f.read_text(encoding="utf-8"), f.name
    md = (shards / "shard-0" / "reports" / "s000.md").read_text(encoding="utf-8")
    assert "Grade: 7 / 10" in md or "採点結果 (grade): 7 / 10" in md  # --lang en / the default Japanese
    gradescope = json.loads((shards / "shard-0" / "reports" / "s000.gradescope.json").read_text(encoding="utf-8"))
    assert gradescope["score"] == 7.0


def test_grading_a_shard_in_secret_mode_needs_the_seed(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_GRADING_SEED", raising=False)
    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW)
    with pytest.raises(SystemExit, match="COURSE_GRADING_SEED"):
        grade_all(p, tmp_path, {"s000": 1.0})


@pytest.mark.parametrize("variable", ["GH_TOKEN", "GITHUB_TOKEN", "LOG_TOKEN"])
def test_the_grading_step_refuses_to_run_with_a_token(tmp_path, variable):
    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW, seed="public")
    (tmp_path / "plan.json").write_text(json.dumps(p))
    proc = run_cli("class", "grade", str(tmp_path / "plan.json"), "--shard", "0", "--submissions", str(tmp_path),
                   "--out", str(tmp_path / "out"), env={variable: "ghs_x"})  # fmt: skip
    assert proc.returncode == 2 and variable in proc.stderr and "ghs_x" not in proc.stderr + proc.stdout


# ---------------------------------------------------------------- payloads


def item(**kw):
    return {"student": "a", "repository": "org/ch6-a", "sha": sha(5), "score": 7.5, "max_score": 10, "status": "ok",
            "days_late": 0, "feedback_pr": None, **kw}  # fmt: skip


def test_status_payload_says_points_and_links_nowhere():
    assert publish.status_payload(item(), 0.1, 3) == {"state": "success", "context": "course/grade",
                                                      "description": "Points 7.5/10"}  # fmt: skip
    late = publish.status_payload(item(days_late=2, score=10), 0.1, 3)
    assert late["description"] == "Points 10/10 (late 2 days: counts x0.8)" and "target_url" not in late
    assert publish.status_payload(item(status="error: boom"), 0.1, 3)["state"] == "error"


def test_comment_body_carries_the_marker_and_is_capped():
    body = publish.comment_body(item(), "x" * 100_000, {"description": "Points 7.5/10"})
    assert body.startswith(publish.MARKER) and len(body) < 65536 and sha(5)[:12] in body


def test_only_comments_the_app_wrote_are_updated():
    # a student can write the marker too: only a Bot's comment counts as ours
    assert publish._ours({"user": {"type": "Bot"}, "body": publish.MARKER + "\nold"})
    assert not publish._ours({"user": {"type": "User"}, "body": publish.MARKER + "\nfake"})
    assert not publish._ours({"user": {"type": "Bot"}, "body": "something else"})


def test_publish_refuses_a_repository_or_commit_that_is_not_one():
    with pytest.raises(publish.RemoteError):
        publish.publish_one(item(repository="org/../x"), None, {"penalty_per_day": 0.1, "cap_days": 3}, Path("."))
    with pytest.raises(publish.RemoteError):
        publish.publish_one(item(sha="HEAD"), None, {"penalty_per_day": 0.1, "cap_days": 3}, Path("."))


def test_planning_and_merging_need_no_course_dependencies(tmp_path):
    # the plan and merge jobs install nothing: the class commands must run on the standard library alone
    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW, seed="public")
    (tmp_path / "plan.json").write_text(json.dumps(p))
    code = (
        "import sys\n"
        "for name in ('numpy', 'torch', 'rich', 'pytest', 'yaml'): sys.modules[name] = None\n"
        "from grader.cli import main\n"
        f"sys.exit(main(['class', 'merge', {str(tmp_path / 'plan.json')!r}, '--shards', {str(tmp_path)!r},"
        f" '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "not graded" in read_csv(tmp_path / "out" / "grades.csv")["s000"]["status"]


class FakeGh:
    """Stands in for gh_api: answers list calls from ``listings``, records every call."""

    def __init__(self, listings: dict[str, list]):
        self.listings, self.calls = listings, []

    def __call__(self, path, *, method="GET", payload=None, paginate=False, workdir=None):
        self.calls.append((method, path, payload))
        return json.dumps(self.listings.get(path, [])) if method == "GET" else "{}"


POLICY = {"penalty_per_day": 0.1, "cap_days": 3}


def test_publish_updates_the_apps_own_pr_comment_in_place(monkeypatch):
    # oracle: the comment list written by hand; a student's comment carrying the marker is left alone
    comments = [{"id": 11, "user": {"type": "Bot"}, "body": publish.MARKER + "\nold"},
                {"id": 12, "user": {"type": "User"}, "body": publish.MARKER + "\nforged"}]  # fmt: skip
    gh = FakeGh({"repos/org/ch6-a/issues/3/comments?per_page=100": comments})
    monkeypatch.setattr(publish, "gh_api", gh)
    publish.publish_one(item(feedback_pr=3), "report", POLICY, Path("."))
    assert [(m, p) for m, p, _ in gh.calls] == [("POST", f"repos/org/ch6-a/statuses/{sha(5)}"),
                                                ("GET", "repos/org/ch6-a/issues/3/comments?per_page=100"),
                                                ("PATCH", "repos/org/ch6-a/issues/comments/11")]  # fmt: skip
    assert gh.calls[-1][2]["body"].endswith("report")


def test_publish_opens_one_issue_and_then_edits_it(monkeypatch):
    listing = "repos/org/ch6-a/issues?state=all&per_page=100"
    forged = {"number": 1, "title": publish.ISSUE_TITLE, "user": {"type": "User"}, "body": publish.MARKER}
    gh = FakeGh({listing: [forged]})
    monkeypatch.setattr(publish, "gh_api", gh)
    publish.publish_one(item(), "report", POLICY, Path("."))
    assert gh.calls[-1][:2] == ("POST", "repos/org/ch6-a/issues") and gh.calls[-1][2]["title"] == publish.ISSUE_TITLE
    ours = {"number": 4, "title": publish.ISSUE_TITLE, "user": {"type": "Bot"}, "body": publish.MARKER + "\nold"}
    gh = FakeGh({listing: [forged, ours]})
    monkeypatch.setattr(publish, "gh_api", gh)
    publish.publish_one(item(), "report", POLICY, Path("."))
    assert gh.calls[-1][:2] == ("PATCH", "repos/org/ch6-a/issues/4")


def test_one_failed_publication_does_not_stop_the_others(monkeypatch, tmp_path):
    def gh(path, **kwargs):
        if "ch6-a/" in path:
            raise publish.RemoteError("HTTP 404")
        return "[]"

    monkeypatch.setattr(publish, "gh_api", gh)
    items = [item(), item(student="b", repository="org/ch6-b")]
    (tmp_path / "publish.json").write_text(json.dumps({"policy": POLICY, "run": "r", "items": items}))
    lines = []
    assert publish.publish(tmp_path / "publish.json", tmp_path, log=lines.append) == 1
    assert lines == ["a: not published: HTTP 404", "b: status, issue"]


# ---------------------------------------------------------------- bad input: one clear line, never a traceback


def class_cli_error(*args: str, cwd: Path) -> str:
    """Run ``python -m grader class ARGS``; it must fail with exit code 2 and one line on stderr."""
    proc = run_cli("class", *args, cwd=cwd)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith(f"class {args[0]}: "), lines
    return lines[0]


def plan_args(tmp_path: Path, roster_file: str, *extra: str) -> list[str]:
    return ["plan", "--roster", roster_file, "--log", str(tmp_path / "log"), "--out", str(tmp_path / "out"),
            "--git-base", f"file://{tmp_path}/remotes/", "--no-push-times", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a comment line before the bad row: the line number is the file's own
        ("student,repository\n# note\nalice,org/a,extra\n", "roster.csv:3: 3 fields, expected 2"),
        ("student,repository\nalice\n", "roster.csv:2: 1 field, expected 2"),
        ("name,repo\nalice,org/a\n", "the header must name the columns"),
        ("", "the header must name the columns"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
)
def test_a_malformed_roster_is_one_line_naming_the_file_and_line(tmp_path, text, expected):
    path = tmp_path / "roster.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert expected in class_cli_error(*plan_args(tmp_path, "roster.csv"), cwd=tmp_path)


def test_a_missing_roster_file_is_one_line(tmp_path):
    line = class_cli_error(*plan_args(tmp_path, "nope.csv"), cwd=tmp_path)
    assert line == "class plan: nope.csv: No such file or directory"


def test_a_bad_deadline_or_shard_size_is_one_line(tmp_path):
    (tmp_path / "roster.csv").write_text("student,repository\nalice,org/a\n")
    line = class_cli_error(*plan_args(tmp_path, "roster.csv", "--deadline", "tomorrow"), cwd=tmp_path)
    assert "deadline 'tomorrow': expected an ISO 8601 time" in line
    proc = run_cli("class", *plan_args(tmp_path, "roster.csv", "--shard-size", "0"), cwd=tmp_path)
    assert proc.returncode == 2 and "at least 1" in proc.stderr and "Traceback" not in proc.stderr


def test_an_empty_grading_log_is_an_empty_record_and_a_broken_one_names_its_line(tmp_path):
    (tmp_path / "roster.csv").write_text("student,repository\nalice,org/a\n")
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "seen.jsonl").write_text("")
    proc = run_cli("class", *plan_args(tmp_path, "roster.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1 student(s), 0 new commit(s) seen")
    (tmp_path / "log" / "seen.jsonl").write_text(
        '{"student": "a", "sha": "1", "seen_at": "2026-12-20T10:00:00Z"}\n{"stu'
    )
    assert "seen.jsonl:2: not a JSON record" in class_cli_error(*plan_args(tmp_path, "roster.csv"), cwd=tmp_path)
    (tmp_path / "log" / "seen.jsonl").write_text('{"student": "a"}\n')
    line = class_cli_error(*plan_args(tmp_path, "roster.csv"), cwd=tmp_path)
    assert "seen.jsonl:1: a record without seen_at, sha" in line


@pytest.mark.parametrize("command", ["fetch", "grade", "merge", "publish"])
def test_a_missing_or_empty_plan_is_one_line(tmp_path, command):
    rest = {"fetch": ["--shard", "0", "--dest", "d"], "grade": ["--shard", "0", "--submissions", "d", "--out", "o"],
            "merge": ["--shards", "s", "--out", "o"], "publish": []}[command]  # fmt: skip
    line = class_cli_error(command, "nope.json", *rest, cwd=tmp_path)
    assert line == f"class {command}: nope.json: No such file or directory"
    (tmp_path / "empty.json").write_text("")
    line = class_cli_error(command, "empty.json", *rest, cwd=tmp_path)
    assert "empty.json: not a" in line and "written by `class " in line


def test_a_remote_that_is_not_there_is_one_line(tmp_path):
    line = class_cli_error("log", "pull", "--remote", f"file://{tmp_path}/none.git", "--dir", "lg", cwd=tmp_path)
    assert "git fetch failed" in line


def test_a_seed_that_is_not_an_integer_is_refused_without_showing_it(tmp_path):
    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW)
    (tmp_path / "plan.json").write_text(json.dumps(p))
    (tmp_path / "subs" / "s000").mkdir(parents=True)
    proc = run_cli("class", "grade", "plan.json", "--shard", "0", "--submissions", "subs", "--out", "o", cwd=tmp_path,
                   env={"COURSE_GRADING_SEED": "hunter2"})  # fmt: skip
    assert proc.returncode != 0 and "integer" in proc.stderr and "hunter2" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_every_class_command_explains_its_arguments():
    from grader.cli import build_parser

    def subcommands(parser):
        (choices,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return choices

    for name, parser in subcommands(subcommands(build_parser())["class"]).items():
        bare = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._HelpAction)]
        assert bare == [], f"class {name}: {bare} have no help text"
        assert run_cli("class", name, "--help").returncode == 0


def test_reports_a_student_sees_name_hidden_tests_without_their_parameters(tmp_path, monkeypatch):
    # a hidden test's parametrize id is its inputs (pytest writes the values): the student's Markdown and
    # Gradescope reports number the cases instead; public ids and the instructor's JSON stay as they were
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    names = [("t_big[float64-1000.0]", True), ("t_big[float32-100.0]", True), ("t_pub[3-0.7]", False),
             ("t_plain", True)]  # fmt: skip

    def batch(folder, csv_path, *, reports, **kwargs):
        tests = [{"name": n, "status": "failed", "score": 0, "max_score": 1, "message": "m", "hidden": h}
                 for n, h in names]  # fmt: skip
        report = {"target": "s000", "hidden_included": True, "seed": 4242, "sandboxed": True, "tampered": [],
                  "sections": [{"name": "sec39_attention_math", "problems": [], "seconds": 1.0,
                                "exercises": [{"name": "softmax", "tests": tests}]}]}  # fmt: skip
        (Path(reports) / "s000.json").write_text(json.dumps(report))
        return [{"student": "s000", "score": 0, "max_score": 4, "status": "ok"}]

    p = plan.make_plan(students(1), {"s000": sha(1)}, [], [], run="r", now=NOW)
    (tmp_path / "subs" / "s000").mkdir(parents=True)
    shard.grade_shard(p, 0, tmp_path / "subs", tmp_path / "out", batch_fn=batch)
    reports = tmp_path / "out" / "reports"
    md = (reports / "s000.md").read_text(encoding="utf-8")
    gradescope = (reports / "s000.gradescope.json").read_text(encoding="utf-8")
    for shown in (md.replace("\\", ""), gradescope):  # the Markdown escapes its text: compare it unescaped
        assert "1000" not in shown and "float32" not in shown
        assert "t_big (case 1)" in shown and "t_big (case 2)" in shown and "t_pub[3-0.7]" in shown
    kept = json.loads((reports / "s000.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in kept["sections"][0]["exercises"][0]["tests"]] == [n for n, _ in names]


def test_a_shards_token_reads_only_the_repositories_of_the_apps_owner():
    # a fork roster's repositories belong to the students: the app installed on the course organisation
    # cannot reach them, and a name without its owner would point at the organisation's repository of that name
    class_ = [Student("amy", "amy/ch6"), Student("bob", "course/ch6-bob"), Student("zed", "zed/ch6")]
    heads = {s.student: sha(i + 1) for i, s in enumerate(class_)}
    p = plan.make_plan(class_, heads, [], [], run="r", now=NOW, shard_size=1, owner="Course")
    assert [m["repositories"] for m in plan.matrix(p)["include"]] == ["", "ch6-bob", ""]
    everyone = plan.make_plan(class_, heads, [], [], run="r", now=NOW, shard_size=3)
    assert plan.matrix(everyone)["include"][0]["repositories"] == "ch6,ch6-bob"


def test_publish_skips_repositories_outside_the_apps_owner(monkeypatch, tmp_path):
    gh = FakeGh({})
    monkeypatch.setattr(publish, "gh_api", gh)
    items = [item(student="amy", repository="amy/ch6"), item(student="bob", repository="org/ch6-bob")]
    (tmp_path / "publish.json").write_text(json.dumps({"policy": POLICY, "run": "r", "owner": "org", "items": items}))
    lines = []
    assert publish.publish(tmp_path / "publish.json", tmp_path, log=lines.append) == 0
    assert lines[0].startswith("amy: not published: amy/ch6 is outside org") and lines[1] == "bob: status, issue"
    assert not [c for c in gh.calls if "amy/" in c[1]]


def test_a_failed_shard_and_a_grading_error_are_not_graded_and_the_rerun_fills_them_in(tmp_path, monkeypatch):
    # shard 0's runner died writing its result (a cut-off rows.json); in shard 2 the grader could not grade one
    # submission (its row says "not graded"): neither may count as 0 points, and the rerun grades exactly them
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    class_ = students(37)
    heads = {s.student: sha(i + 1) for i, s in enumerate(class_)}
    scores = {s.student: float(i % 11) for i, s in enumerate(class_)}
    p = plan.make_plan(class_, heads, [], [], run="r1", now=NOW, shard_size=15)
    shards = grade_all(p, tmp_path / "run1", scores)
    rows_0 = shards / "shard-0" / "rows.json"
    rows_0.write_text(rows_0.read_text()[:200])
    rows_2 = shards / "shard-2" / "rows.json"
    entries = json.loads(rows_2.read_text())
    entries[0]["row"].update(status="not graded: the worker could not start", score=0)
    rows_2.write_text(json.dumps(entries))
    broken = {j["student"] for j in plan.shard_jobs(p, 0)} | {entries[0]["student"]}
    merge(p, shards, tmp_path / "out1")
    rows, lms = read_csv(tmp_path / "out1" / "grades.csv"), read_csv(tmp_path / "out1" / "lms.csv")
    assert {n for n, r in rows.items() if r["final"] == ""} == broken
    assert all(lms[n]["points"] == "" for n in broken)
    assert all("unreadable" in rows[n]["status"] for n in broken - {entries[0]["student"]})
    assert "could not start" in rows[entries[0]["student"]]["status"]
    graded = ledger.read_jsonl(tmp_path / "out1" / "graded.jsonl")
    p2 = plan.make_plan(class_, heads, [], graded, run="r2", now=NOW, shard_size=15)
    assert {j["student"] for j in p2["jobs"]} == broken
    merge(p2, grade_all(p2, tmp_path / "run2", scores), tmp_path / "out2")
    assert all(float(r["final"]) == scores[n] for n, r in read_csv(tmp_path / "out2" / "grades.csv").items())


def test_the_merge_summary_counts_the_grades_that_stay_in_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", "4242")
    class_ = [Student("amy", "amy/ch6"), Student("bob", "org/ch6-bob")]
    p = plan.make_plan(class_, {"amy": sha(1), "bob": sha(2)}, [], [], run="r", now=NOW, owner="org")
    shards = grade_all(p, tmp_path, {"amy": 3.0, "bob": 4.0})
    (tmp_path / "plan.json").write_text(json.dumps(p))
    out = tmp_path / "github_output"
    proc = run_cli("class", "merge", str(tmp_path / "plan.json"), "--shards", str(shards), "--out", str(tmp_path / "out"),
                   env={"GITHUB_OUTPUT": str(out)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 grade(s) of repositories outside org are in grades.csv only" in proc.stdout
    assert out.read_text() == "repositories=ch6-bob\n"  # the publishing token is asked for bob's repository only
