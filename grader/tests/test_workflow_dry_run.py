"""Scripted dry runs of the workflows: the `run:` steps of each job executed in order, as GitHub
Actions would (GITHUB_ENV and GITHUB_OUTPUT carried between steps, GITHUB_STEP_SUMMARY collected,
artifacts handed from job to job), with no network: `sudo` and `gh` are replaced by small shims on
`PATH`; `gh` records every call and its payload.

* ``grade.yml`` (the student repository's workflow) on a released student repository: the public
  tests, the summary, the pull-request comment — and no secret anywhere in it.
* ``grade-class.yml`` (the instructor repository's workflow) end to end: students' repositories are
  bare repositories on disk (``file://``), the plan job records what it saw on the ``grading-log``
  branch, the matrix job clones and grades each shard for real (sandboxed, hidden tests, secret seed,
  §39 only), the merge job writes ``grades.csv`` and publishes each student's status and report
  through the recorder, whose calls are checked exactly."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import run_cli
from markdown_it import MarkdownIt

from grader.classroom import publish as publish_mod
from grader.sections import REPO, SOLUTIONS, all_sections

WORKFLOWS = REPO / ".github" / "workflows"
SEED = "271828"
APP_TOKEN, WORKFLOW_TOKEN, PRIVATE_KEY = "ghs_apptoken0123", "ghs_workflowtoken0123", "-----BEGIN key-----"
SECRETS = (APP_TOKEN, WORKFLOW_TOKEN, PRIVATE_KEY)

GH_SHIM = """#!{python}
import json, os, sys
args = sys.argv[1:]
body = None
if "--input" in args:
    body = open(args[args.index("--input") + 1], encoding="utf-8").read()
if "--body-file" in args:
    body = open(args[args.index("--body-file") + 1], encoding="utf-8").read()
with open(os.environ["GH_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps({{"args": args, "body": body, "token": os.environ.get("GH_TOKEN", "")}}) + "\\n")
method = args[args.index("--method") + 1] if "--method" in args else "GET"
print("[]" if method == "GET" else "{{}}")
"""


def shims(tmp_path: Path, grade_env_log: Path, pythonpath: Path | None) -> Path:
    folder = tmp_path / "shims"
    folder.mkdir()
    files = {
        "sudo": '#!/bin/sh\nexec "$@"\n',
        "gh": GH_SHIM.format(python=sys.executable),
        # python: record the environment and arguments of `class grade`, then run this interpreter
        # with this checkout importable (a real runner has the checkout as its working directory)
        "python": f'#!/bin/sh\ncase "$*" in *"class grade"*) {{ env; echo "ARGS $*"; }} > "{grade_env_log}";; esac\n'
        + (f'PYTHONPATH="{pythonpath}" ' if pythonpath else "")
        + f'exec "{sys.executable}" "$@"\n',
    }
    for name, body in files.items():
        (folder / name).write_text(body)
        (folder / name).chmod(0o755)
    return folder


def expression(text: str, context: dict) -> str:
    """The subset of GitHub's expressions the workflows use: names, 'literals', true/false, `a || b`."""
    for part in (p.strip() for p in text.split("||")):
        if part.startswith("'") and part.endswith("'"):
            value = part[1:-1]
        elif part in ("true", "false"):
            value = part if part == "true" else ""
        else:
            assert re.fullmatch(r"[\w.-]+", part), f"unsupported expression {text!r}"
            value = str(context.get(part, ""))
        if value:
            return value
    return "false" if text.strip().endswith("false") else ""


def expand(text: str, context: dict) -> str:
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: expression(m.group(1), context), text)


def condition(text: str | None, context: dict) -> bool:
    """`if:` conditions of the form `X != ''` / `X != '0'` (other forms must be handled by the caller)."""
    if text is None or text.strip() == "always()":
        return True
    m = re.fullmatch(r"\s*([\w.-]+)\s*!=\s*'([^']*)'\s*", text)
    assert m, f"unsupported condition {text!r}"
    return str(context.get(m.group(1), "")) != m.group(2)


class Runner:
    """Runs jobs like a GitHub runner: a fresh workspace per job, `uses:` steps emulated where they matter."""

    def __init__(self, tmp_path: Path, env: dict, context: dict):
        self.tmp, self.env, self.context = tmp_path, env, context
        self.artifacts: dict[str, Path] = {}
        self.jobs = 0
        self.log: list[str] = []
        self.tokens: list[dict] = []  # the inputs of each app-token step that ran

    def run_job(self, job: dict, *, context: dict | None = None, workdir: Path | None = None, outputs_of=None) -> dict:
        self.jobs += 1
        ctx = {**self.context, **(context or {})}
        workdir = workdir or self.tmp / f"job{self.jobs}"
        workdir.mkdir(parents=True, exist_ok=True)
        temp = self.tmp / f"runner_temp{self.jobs}"
        temp.mkdir()
        github_env = workdir / ".github_env"
        github_env.touch()
        for step in job["steps"]:
            if "if" in step and not condition(step["if"], ctx):
                continue
            if "uses" in step:
                self.uses(step, workdir, ctx)
                continue
            output = self.tmp / f"output{self.jobs}"
            output.write_text("")
            step_env = {
                **self.env,
                "RUNNER_TEMP": str(temp),
                "GITHUB_ENV": str(github_env),
                "GITHUB_OUTPUT": str(output),
            }
            step_env.update({k: expand(str(v), ctx) for k, v in step.get("env", {}).items()})
            for line in github_env.read_text().splitlines():
                key, _, value = line.partition("=")
                step_env[key] = value
            script = expand(step["run"], ctx)
            proc = subprocess.run(["bash", "-e", "-c", script], cwd=workdir, env=step_env, capture_output=True,
                                  text=True, timeout=900)  # fmt: skip
            self.log.append(proc.stdout + proc.stderr)
            assert proc.returncode == 0, (
                f"step {step.get('name')!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
            if "id" in step:
                for line in output.read_text().splitlines():
                    key, _, value = line.partition("=")
                    ctx[f"steps.{step['id']}.outputs.{key}"] = value
        return {k: expand(v, ctx) for k, v in job.get("outputs", {}).items()}

    def uses(self, step: dict, workdir: Path, ctx: dict) -> None:
        action, with_ = step["uses"].split("@")[0], {k: expand(str(v), ctx) for k, v in step.get("with", {}).items()}
        if action == "actions/upload-artifact":
            self.artifacts[with_["name"]] = workdir / with_["path"]
        elif action == "actions/download-artifact":
            dest = workdir / with_["path"]
            if "name" in with_:
                shutil.copytree(self.artifacts[with_["name"]], dest, dirs_exist_ok=True)
            else:
                pattern = re.compile(with_["pattern"].replace("*", ".*"))
                for name, path in self.artifacts.items():
                    if pattern.fullmatch(name):
                        shutil.copytree(path, dest / name, dirs_exist_ok=True)
        elif action == "actions/create-github-app-token":
            assert with_["private-key"] == PRIVATE_KEY
            ctx[f"steps.{step['id']}.outputs.token"] = APP_TOKEN
            self.tokens.append(with_)
        elif action == "actions/checkout" and not (workdir / "requirements.txt").exists():
            shutil.copy(REPO / "requirements.txt", workdir / "requirements.txt")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    """A released student repository in which the student solved §39 only."""
    root = tmp_path_factory.mktemp("student") / "repo"
    proc = run_cli("release", "--out", str(root))
    assert proc.returncode == 0, proc.stderr
    section = next(s for s in all_sections() if s.name == "sec39_attention_math")
    shutil.copy(section.module_file(SOLUTIONS), section.module_file(root / "exercises"))
    return root


def base_env(tmp_path: Path, grade_env_log: Path, pythonpath: Path | None = None) -> dict:
    path = f"{shims(tmp_path, grade_env_log, pythonpath)}:{os.environ['PATH']}"
    keep = {k: os.environ[k] for k in ("LANG", "OMP_NUM_THREADS") if k in os.environ}
    return {**keep, "PATH": path, "HOME": str(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GH_LOG": str(tmp_path / "gh.log"), "GITHUB_SERVER_URL": "https://github.com"}  # fmt: skip


def gh_calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "gh.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# ---------------------------------------------------------------- the student's workflow


def test_student_workflow_holds_no_secret():
    text = (WORKFLOWS / "grade.yml").read_text(encoding="utf-8")
    assert "secrets." not in text and "COURSE_GRADER_TOKEN" not in text
    assert set(yaml.safe_load(text)[True]) == {"push", "pull_request"}  # never pull_request_target


def test_student_workflow_grades_the_public_tests_and_comments(submission, tmp_path):
    workflow = load("grade.yml")
    workdir = tmp_path / "work"
    shutil.copytree(submission, workdir)
    env = base_env(tmp_path, tmp_path / "unused")
    runner = Runner(tmp_path, env, {"github.ref": "refs/heads/main"})
    runner.run_job(workflow["jobs"]["grade"], workdir=workdir)
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "sec39_attention_math" in summary and "course/grade" in summary and "official grade" in summary
    grade = json.loads((workdir / "reports" / "grade.json").read_text(encoding="utf-8"))
    assert grade["hidden_included"] is False
    s39 = next(s for s in grade["sections"] if s["name"] == "sec39_attention_math")
    assert s39["score"] == s39["max_score"] > 0 and grade["score"] == s39["score"]
    assert re.search(r"Points \d+(\.\d+)?/\d+", "\n".join(runner.log))
    assert (workdir / "reports" / "junit.xml").is_file()
    # the comment job runs in a fresh workspace that only has the downloaded artifact
    ctx = {"github.token": "t", "github.repository": "student/repo", "github.event.pull_request.number": "7"}
    runner.run_job(workflow["jobs"]["comment"], context=ctx)
    (call,) = gh_calls(tmp_path)
    assert call["args"][:3] == ["pr", "comment", "7"]
    assert call["body"].startswith("<!-- public-grade -->") and "sec39_attention_math" in call["body"]


# ---------------------------------------------------------------- the class workflow


def push_repository(tree: Path, bare: Path) -> str:
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(bare)], check=True)
    work = bare.parent / (bare.name + ".work")
    shutil.copytree(tree, work)
    git = ["git", "-c", "user.name=s", "-c", "user.email=s@x"]
    for args in (["init", "--quiet", "-b", "main"], ["add", "-A"], ["commit", "--quiet", "-m", "work"],
                 ["push", "--quiet", str(bare), "main"]):  # fmt: skip
        subprocess.run([*git, *args], cwd=work, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


HOSTILE = "<img src=x onerror=alert(1)> @teacher [click](https://evil.example) ::error::x"
LEAK = " leakedinputs"


@pytest.fixture(scope="module")
def classroom(submission, tmp_path_factory):
    """Three students' repositories on "GitHub" (bare repositories) and the instructor's, with a roster:
    alice's and bob's in the course organisation, carol's a fork under her own account (public, where the
    course app is not installed)."""
    root = tmp_path_factory.mktemp("classroom")
    remotes = root / "remotes"
    heads = {"alice": push_repository(submission, remotes / "course" / "ch6-alice.git")}
    bob = root / "bob"
    shutil.copytree(submission, bob)
    section = next(s for s in all_sections() if s.name == "sec39_attention_math")
    module = section.module_file(bob / "exercises")
    shutil.copy(section.module_file(REPO / "exercises"), module)
    with open(module, "a", encoding="utf-8") as f:
        # bob's softmax fails with text that tries to be markup, and tries to carry its inputs out
        f.write(f"\n\ndef softmax(*args, **kwargs):\n    raise RuntimeError({HOSTILE!r} + {LEAK!r} + repr(args))\n")
    heads["bob"] = push_repository(bob, remotes / "course" / "ch6-bob.git")
    heads["carol"] = push_repository(submission, remotes / "carol" / "ch6-transformer.git")
    subprocess.run(["git", "init", "--quiet", "--bare", str(remotes / "teacher" / "ch6.git")], check=True)
    (root / "roster.csv").write_text(
        "student,repository,feedback_pr\nalice,course/ch6-alice,\nbob,course/ch6-bob,1\ncarol,carol/ch6-transformer,\n"
    )
    (root / "course.toml").write_text(
        (REPO / "grader" / "classroom" / "course.toml").read_text().replace("sections = []",
                                                                            'sections = ["sec39_attention_math"]')
    )  # fmt: skip
    return root, heads


def class_run(root: Path, tmp_path: Path):
    workflow = load("grade-class.yml")
    grade_env_log = tmp_path / "grade_env.log"
    env = base_env(tmp_path, grade_env_log, pythonpath=REPO)
    env.update(GITHUB_SERVER_URL=f"file://{root}/remotes", COURSE_CLASS_CONFIG=str(root / "course.toml"))
    context = {
        "github.server_url": f"file://{root}/remotes", "github.repository": "teacher/ch6", "github.token": WORKFLOW_TOKEN,
        "github.run_id": "101", "vars.COURSE_ROSTER": str(root / "roster.csv"), "vars.COURSE_ORG": "course",
        "vars.COURSE_APP_CLIENT_ID": "Iv1.course", "secrets.COURSE_APP_PRIVATE_KEY": PRIVATE_KEY,
        "secrets.COURSE_GRADING_SEED": SEED,
    }  # fmt: skip
    runner = Runner(tmp_path, env, context)
    jobs = workflow["jobs"]
    out = runner.run_job(jobs["plan"])
    assert condition(jobs["grade"]["if"], {"needs.plan.outputs.count": out["count"]}) == (out["count"] != "0")
    if out["count"] != "0":
        for entry in json.loads(out["matrix"])["include"]:
            ctx = {f"matrix.{k}": v for k, v in entry.items()}
            runner.run_job(jobs["grade"], context=ctx)
    runner.run_job(jobs["merge"])
    merged = next(p for p in runner.artifacts.items() if p[0] == "grades")[1]
    return runner, merged, grade_env_log


@pytest.fixture(scope="module")
def first_run(classroom, tmp_path_factory):
    root, heads = classroom
    tmp = tmp_path_factory.mktemp("run1")
    runner, merged, grade_env_log = class_run(root, tmp)
    return root, heads, tmp, runner, merged, grade_env_log


def grades(merged: Path) -> dict:
    with open(merged / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_class_run_grades_each_students_commit_with_the_hidden_tests(first_run):
    root, heads, tmp, runner, merged, _ = first_run
    rows = grades(merged)
    assert {n: r["commit"] for n, r in rows.items()} == heads
    # oracle: the reference solution scores full marks on §39, bob's raising softmax does not
    alice = json.loads(next((tmp).rglob("reports/alice.json")).read_text())
    assert alice["hidden_included"] is True and alice["seed"] == "secret"
    assert any(t["hidden"] for e in alice["sections"][0]["exercises"] for t in e["tests"])
    assert float(rows["alice"]["final"]) == alice["max_score"] > 0
    assert float(rows["bob"]["final"]) < float(rows["bob"]["max_score"])
    assert rows["carol"]["final"] == rows["alice"]["final"]  # her public fork is cloned without a token
    assert all(r["status"].startswith("current: ok") for r in rows.values())


def test_class_run_publishes_exactly_the_status_and_report_calls(first_run):
    root, heads, tmp, runner, merged, _ = first_run
    rows = grades(merged)
    calls = [c for c in gh_calls(tmp) if c["args"][3:] != ["installation/token"]]
    accept = ["-H", "Accept: application/vnd.github+json"]
    expected = [
        ["api", "--method", "POST", *accept, f"repos/course/ch6-alice/statuses/{heads['alice']}", "--input"],
        ["api", "--method", "GET", *accept, "--paginate", "repos/course/ch6-alice/issues?state=all&per_page=100"],
        ["api", "--method", "POST", *accept, "repos/course/ch6-alice/issues", "--input"],
        ["api", "--method", "POST", *accept, f"repos/course/ch6-bob/statuses/{heads['bob']}", "--input"],
        ["api", "--method", "GET", *accept, "--paginate", "repos/course/ch6-bob/issues/1/comments?per_page=100"],
        ["api", "--method", "POST", *accept, "repos/course/ch6-bob/issues/1/comments", "--input"],
    ]
    assert [c["args"][: len(e)] for c, e in zip(calls, expected, strict=True)] == expected
    for student, status_call, body_call in (("alice", calls[0], calls[2]), ("bob", calls[3], calls[5])):
        pts = f"Points {float(rows[student]['score']):g}/{float(rows[student]['max_score']):g}"
        assert json.loads(status_call["body"]) == {"state": "success", "context": "course/grade", "description": pts}
        body = json.loads(body_call["body"])["body"]
        assert body.startswith(publish_mod.MARKER) and pts in body and heads[student][:12] in body
        assert SEED not in body
        if student == "alice":
            assert json.loads(body_call["body"])["title"] == publish_mod.ISSUE_TITLE
    bob = json.loads(calls[5]["body"])["body"]
    # bob's exception text is shown literally (oracle: markdown-it renders it), never as HTML, a link,
    # a mention or a workflow command
    assert "onerror" in bob
    html = MarkdownIt("commonmark").enable("table").render(bob)
    assert "<img" not in html and "<a " not in html
    for raw in ("@teacher", "https://evil", "\n::error::"):
        assert raw not in bob, raw
    # a public test may show bob's own text (his inputs included: they are public); a hidden test shows
    # neither his text nor, through its name, its parameters
    failures = [line for line in bob.splitlines() if line.startswith("- ")]
    hidden = [line for line in failures if "(hidden)" in line]
    assert hidden and any(LEAK in line for line in failures if line not in hidden), bob
    assert not [line for line in hidden if LEAK in line or "onerror" in line or "\\[" in line], bob
    assert all(c["token"] == APP_TOKEN for c in gh_calls(tmp))
    # carol's fork is outside the organisation the app is installed on: her grade is in grades.csv only
    assert any("carol: not published: carol/ch6-transformer is outside course" in line for line in runner.log)


def test_class_run_scopes_tokens_and_keeps_them_out_of_the_grading_step(first_run):
    root, heads, tmp, runner, merged, grade_env_log = first_run
    text = grade_env_log.read_text()
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("ARGS "))
    assert env["COURSE_GRADING_SEED"] == SEED
    assert not {"GH_TOKEN", "GITHUB_TOKEN", "LOG_TOKEN", "GH_LOG"} & set(env)
    assert not any(s in text for s in SECRETS)
    # the clone token was revoked before grading; each shard's token reads only that shard's repositories
    revokes = [c for c in gh_calls(tmp) if c["args"][3:] == ["installation/token"]]
    assert len(revokes) == 1 and revokes[0]["args"][:3] == ["api", "--method", "DELETE"]
    grade_token = runner.tokens[1]
    assert grade_token["repositories"] == "ch6-alice,ch6-bob" and grade_token["permission-contents"] == "read"
    assert not any(k.startswith("permission-") and k != "permission-contents" for k in grade_token)
    publish_token = runner.tokens[2]
    assert {k for k in publish_token if k.startswith("permission-")} == {
        "permission-statuses", "permission-issues", "permission-pull-requests"}  # fmt: skip
    assert not any(s in "\n".join(runner.log) for s in SECRETS)


def test_class_run_keeps_its_record_on_the_grading_log_branch(first_run):
    root, heads, *_ = first_run
    git_dir = str(root / "remotes" / "teacher" / "ch6.git")

    def show(name: str) -> str:
        args = ["git", "--git-dir", git_dir, "show", f"grading-log:{name}"]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    seen = [json.loads(line) for line in show("seen.jsonl").splitlines()]
    assert {(r["student"], r["sha"]) for r in seen} == set(heads.items())
    graded = [json.loads(line) for line in show("graded.jsonl").splitlines()]
    assert {(r["student"], r["sha"], r["seed"]) for r in graded} == {(n, s, "secret") for n, s in heads.items()}
    assert SEED not in show("graded.jsonl")


def test_a_second_run_grades_nothing_new_and_publishes_nothing(first_run, tmp_path):
    root, heads, *_ = first_run
    runner, merged, _ = class_run(root, tmp_path)
    rows = grades(merged)
    assert all("graded earlier" in r["status"] for r in rows.values())
    assert gh_calls(tmp_path) == [] and len(runner.tokens) == 1  # only the plan's token


# ---------------------------------------------------------------- static properties of the class workflow


def grading_step_problems(workflow: dict) -> list[str]:
    """Why a step that grades student code could reach a credential (empty: it cannot)."""
    problems = []
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "class grade" not in step.get("run", ""):
                continue
            for key, value in step.get("env", {}).items():
                if "secrets." in str(value) and key != "COURSE_GRADING_SEED" or "token" in str(value).lower():
                    problems.append(f"{name}: {key} reaches the grading step")
            if "env -i" not in step["run"]:
                problems.append(f"{name}: the grader does not start from an empty environment")
    return problems


def test_the_class_grading_step_cannot_reach_a_credential():
    workflow = load("grade-class.yml")
    assert grading_step_problems(workflow) == []
    # mutant: the same workflow with the app token handed to the grading step is caught
    step = next(s for s in workflow["jobs"]["grade"]["steps"] if "class grade" in s.get("run", ""))
    step["env"]["GH_TOKEN"] = "${{ steps.app.outputs.token }}"
    assert grading_step_problems(workflow) == ["grade: GH_TOKEN reaches the grading step"]


@pytest.mark.parametrize("name", ["ci.yml", "grade.yml", "grade-class.yml"])
def test_workflows_keep_no_credentials_and_never_use_pull_request_target(name):
    workflow = load(name)
    assert "pull_request_target" not in workflow[True]
    assert workflow.get("permissions") in ({}, {"contents": "read"})
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_class_plan_at_a_deadline_asks_github_for_push_times(classroom, tmp_path):
    # the plan job alone, dispatched with a deadline: GitHub's push times are read for every student
    root, heads = classroom
    env = base_env(tmp_path, tmp_path / "unused", pythonpath=REPO)
    env.update(GITHUB_SERVER_URL=f"file://{root}/remotes", COURSE_CLASS_CONFIG=str(root / "course.toml"))
    context = {
        "github.server_url": f"file://{root}/remotes", "github.repository": "teacher/ch6", "github.token": WORKFLOW_TOKEN,
        "github.run_id": "202", "vars.COURSE_ROSTER": str(root / "roster.csv"), "vars.COURSE_ORG": "course",
        "secrets.COURSE_APP_PRIVATE_KEY": PRIVATE_KEY, "inputs.deadline": "2030-01-01T00:00:00Z",
        "inputs.seed": "public", "inputs.students": "bob",
    }  # fmt: skip
    runner = Runner(tmp_path, env, context)
    out = runner.run_job(load("grade-class.yml")["jobs"]["plan"])
    plan = json.loads((runner.artifacts["plan"] / "plan.json").read_text())
    assert plan["deadline"] == "2030-01-01T00:00:00Z" and plan["seed"] == "public"
    assert [(j["student"], j["sha"], j["kind"]) for j in plan["jobs"]] == [("bob", heads["bob"], "on_time")]
    assert out["count"] == "1"
    calls = gh_calls(tmp_path)
    assert [c["args"][-1] for c in calls] == [
        "repos/course/ch6-bob/activity?ref=refs/heads/main&activity_type=push&per_page=100"]  # fmt: skip
    assert all(c["token"] == APP_TOKEN for c in calls)
