"""A scripted dry run of .github/workflows/grade.yml: the `run:` steps of its jobs are executed in
order, as GitHub Actions would (GITHUB_ENV carried between steps, GITHUB_STEP_SUMMARY collected), on a
released student repository with a sample submission. `sudo`, `git clone` and `gh` are replaced by
small shims (no network): `git clone` copies this instructor repository, `gh` records the comment."""

from __future__ import annotations

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

from grader.sections import REPO, SOLUTIONS, all_sections

WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"

SHIMS = {
    "sudo": '#!/bin/sh\nexec "$@"\n',
    # `git -c ... clone --quiet --depth 1 URL DEST`: copy the instructor repository instead
    "git": '#!/bin/sh\nfor a; do dest="$a"; done\nmkdir -p "$dest"\n'
    'cd "$INSTRUCTOR_REPO" && /usr/bin/git ls-files -z | xargs -0 tar -c | tar -x -C "$dest"\n',
    "gh": '#!/bin/sh\necho "$@" >> "$GH_LOG"\nwhile [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$GH_LOG.body"; shift; done\n',
}


def expand(text: str, context: dict) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: str(context.get(m.group(1), "")), text)


def run_job(job: dict, workdir: Path, env: dict, context: dict, opt: Path) -> str:
    """Run every `run:` step of a job; returns the combined log."""
    github_env = workdir / "github_env"
    github_env.touch()
    log = []
    for step in job["steps"]:
        if "run" not in step:
            continue
        step_env = {**env, **{k: expand(str(v), context) for k, v in step.get("env", {}).items()}}
        for line in github_env.read_text().splitlines():
            key, _, value = line.partition("=")
            step_env[key] = value
        script = expand(step["run"], context).replace("/opt/course-grader", str(opt))
        proc = subprocess.run(
            ["bash", "-e", "-c", script], cwd=workdir, env=step_env, capture_output=True, text=True, timeout=900
        )
        log.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, (
            f"step {step.get('name', script[:40])!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return "\n".join(log)


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    """A released student repository in which the student solved §39 only."""
    root = tmp_path_factory.mktemp("student") / "repo"
    proc = run_cli("release", "--out", str(root))
    assert proc.returncode == 0, proc.stderr
    section = next(s for s in all_sections() if s.name == "sec39_attention_math")
    shutil.copy(section.module_file(SOLUTIONS), section.module_file(root / "exercises"))
    return root


def dry_run(workflow, submission, tmp_path, token: str):
    shims = tmp_path / "shims"
    shims.mkdir()
    for name, body in SHIMS.items():
        (shims / name).write_text(body)
        (shims / name).chmod(0o755)
    (shims / "python").symlink_to(sys.executable)
    workdir = tmp_path / "work"
    shutil.copytree(submission, workdir)
    env = {
        "PATH": f"{shims}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GITHUB_ENV": str(workdir / "github_env"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(workdir),
        "INSTRUCTOR_REPO": str(REPO),
        "GH_LOG": str(tmp_path / "gh.log"),
    }
    context = {
        "secrets.COURSE_GRADER_TOKEN": token,
        "vars.COURSE_GRADER_REPO": "teacher/ch6-instructor" if token else "",
    }
    log = run_job(workflow["jobs"]["grade"], workdir, env, context, tmp_path / "opt")
    # the comment job runs in a fresh workspace that only has the downloaded artifact
    comment_dir = tmp_path / "comment"
    shutil.copytree(workdir / "reports", comment_dir / "reports")
    context.update({"github.token": "t", "github.repository": "student/repo", "github.event.pull_request.number": "7"})
    run_job(workflow["jobs"]["comment"], comment_dir, env, context, tmp_path / "opt")
    return workdir, log


def test_workflow_public_mode_without_secret(workflow, submission, tmp_path):
    workdir, log = dry_run(workflow, submission, tmp_path, token="")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "only the public tests are graded" in log
    assert "sec39_attention_math" in summary
    grade = json.loads((workdir / "reports" / "grade.json").read_text(encoding="utf-8"))
    assert grade["hidden_included"] is False
    s39 = next(s for s in grade["sections"] if s["name"] == "sec39_attention_math")
    assert s39["score"] == s39["max_score"] > 0 and grade["score"] == s39["score"]
    assert re.search(r"Points \d+(\.\d+)?/\d+", log)
    assert (workdir / "reports" / "junit.xml").is_file()
    body = Path(str(tmp_path / "gh.log") + ".body").read_text(encoding="utf-8")
    assert body.startswith("<!-- course-grade -->") and "sec39_attention_math" in body
    assert "pr comment 7" in (tmp_path / "gh.log").read_text()


def test_workflow_hidden_mode_with_secret(workflow, submission, tmp_path):
    workdir, log = dry_run(workflow, submission, tmp_path, token="secret-token")
    grade = json.loads((workdir / "reports" / "grade.json").read_text(encoding="utf-8"))
    assert grade["hidden_included"] is True
    s39 = next(s for s in grade["sections"] if s["name"] == "sec39_attention_math")
    assert s39["score"] == s39["max_score"] and any(t["hidden"] for e in s39["exercises"] for t in e["tests"])
    assert "secret-token" not in log and "secret-token" not in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert not (tmp_path / "opt" / "repo" / ".git").exists()
