"""Git and ``gh`` as subprocesses: head commits, clones of one commit, the grading-log branch.

A token reaches git only through ``GIT_CONFIG_*`` variables of the one git process that needs it
(an ``http.extraheader``), never through a URL, an argument or a file: nothing is persisted, and
a clone's ``.git`` folder is removed before any grading.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

SHA = re.compile(r"^[0-9a-f]{40}$")


class RemoteError(Exception):
    pass


def one_line(text: str, limit: int = 300) -> str:
    """A tool's error output as one line (a log line, a CSV cell), its end kept when it is long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "…" + flat[-limit:]


def git_env(token: str | None, base: str) -> dict:
    """The environment of a git process: the caller's, with the token as an HTTP header for ``base``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if token and base.startswith("https://"):
        auth = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0=f"http.{base.rstrip('/')}/.extraheader",
            GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {auth}",
        )
    return env


def git(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if proc.returncode:
        # git's own message names the repository; it never contains the header
        raise RemoteError(f"git {args[0]} failed: {one_line(proc.stderr)}")
    return proc.stdout


def repo_url(base: str, repository: str) -> str:
    return f"{base.rstrip('/')}/{repository}.git"


def head_commit(base: str, repository: str, branch: str, token: str | None) -> str | None:
    """The commit the student's branch points at now (None: an empty repository or no such branch)."""
    out = git("ls-remote", repo_url(base, repository), f"refs/heads/{branch}", env=git_env(token, base), timeout=60)
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}" and SHA.match(sha):
            return sha
    return None


def fetch_commit(base: str, repository: str, sha: str, dest: Path, token: str | None) -> None:
    """A working tree of exactly ``sha`` in ``dest``, without history and without ``.git``."""
    if not SHA.match(sha):
        raise RemoteError(f"not a commit id: {sha!r}")
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    env = git_env(token, base)
    git("init", "--quiet", cwd=dest, env=env)
    try:
        git("fetch", "--quiet", "--depth", "1", repo_url(base, repository), sha, cwd=dest, env=env, timeout=600)
        git("-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD", cwd=dest, env=env)
    finally:
        shutil.rmtree(dest / ".git", ignore_errors=True)


def gh_api(path: str, *, method: str = "GET", payload: dict | None = None, paginate: bool = False,
           workdir: Path | None = None) -> str:  # fmt: skip
    """One ``gh api`` call (its token comes from ``$GH_TOKEN``); a payload travels as a file, never an argument."""
    args = ["gh", "api", "--method", method, "-H", "Accept: application/vnd.github+json"]
    if paginate:
        args.append("--paginate")
    args.append(path)
    if payload is not None:
        folder = Path(workdir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        body = folder / "payload.json"
        body.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        args += ["--input", str(body)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise RemoteError(f"gh api {method} {path} failed: {one_line(proc.stderr)}")
    return proc.stdout
