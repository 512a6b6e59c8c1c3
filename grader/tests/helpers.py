"""Shared helpers of the grader's own tests."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from grader.sections import REPO


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m grader ...`` as a user would, from ``cwd`` (default: the repository);
    ``env`` adds variables (the grader's own path stays first on PYTHONPATH)."""
    extra = dict(env or {})
    path = os.pathsep.join(filter(None, [str(REPO), extra.pop("PYTHONPATH", "")]))
    env = {**os.environ, **extra, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def grade_json(path: Path, out: Path, *extra: str) -> dict:
    proc = run_cli("grade", str(path), "--json", str(out), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def exercise_scores(section: dict) -> dict[str, tuple[float, float]]:
    return {e["name"]: (e["score"], e["max_score"]) for e in section["exercises"]}


def mutant_breaks(path: Path) -> tuple[str, bool]:
    """(BREAKS, FORBIDDEN) declared by a mutant file, read without running it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    values = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                pass
    return values["BREAKS"], bool(values.get("FORBIDDEN", False))
