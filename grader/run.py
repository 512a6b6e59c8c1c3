"""Step 2 — run: one section's public (and hidden) suite against a target, in a child pytest process.

The section's time budget (``grader.sandbox.pool.time_budget``) is the one measured for the suites
that run (``COURSE_TIME_BUDGET_SUITES``: public only, or public + hidden).

The grader keeps its own copies of the tests and its own pytest configuration; the submission
folder only provides the module under test (through the ``--impl`` target). The child gets a
scrubbed environment (no ``PYTEST_ADDOPTS``/``PYTEST_PLUGINS``) with one thread per library.
Outcomes come back as a JSON file of records (see ``grader.pytest_plugin.ResultsRecorder``), each
failure with the course's own message; pytest reports a failure in one line (``--tb=line``): its
default long traceback re-parses the source file of every frame, about a quarter of a second per
failed test, and nobody reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.sections import REPO, Section, one_thread_env

SCRUBBED_PREFIXES = ("PYTEST_", "PYTHON")


@dataclass
class RunOutcome:
    records: list[dict]
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sandbox: dict = field(default_factory=dict)  # protections, crashes, output size (sandboxed runs)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(one_thread_env())
    env["PYTHONPATH"] = str(REPO)  # the grader's package, nothing of the submission
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins grader/pytest.ini names
    return env


def progress_file(results: Path) -> Path:
    """Where a ``--results-json`` run appends each finished test's record until the end."""
    return Path(f"{results}.progress")


def read_records(path: Path) -> list[dict]:
    """The records a ``--results-json`` run left (see ``grader.pytest_plugin.ResultsRecorder``): the
    JSON list, updated by the lines of its progress file when the run was stopped before the end
    (a last line cut off mid-write is ignored). No file: no records."""
    if not path.is_file():
        return []
    records = {r["nodeid"]: r for r in json.loads(path.read_text(encoding="utf-8"))}
    progress = progress_file(path)
    if progress.is_file():
        for line in progress.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                break
            if record.get("nodeid") in records:
                records[record["nodeid"]] = record
    return list(records.values())


def suite_files(section: Section, hidden: bool) -> list[Path]:
    return [section.public_tests, *(section.hidden_test_files() if hidden else [])]


def run_section(
    section: Section,
    impl: str,
    *,
    hidden: bool = True,
    seed: int = 0,
    timeout: float = 900,
    env: dict | None = None,
    runner=None,
) -> RunOutcome:
    """Run the section's suites against ``impl`` (a target spec, see ``grader.targets``): in a child
    forked by ``runner`` (a :class:`grader.warm.WarmRunner`, pytest and torch already imported), else
    in a new ``python -m pytest`` process."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:  # 0700: no worker can look inside
        results = Path(tmp) / "results.json"
        facts = Path(tmp) / "sandbox.json"
        args = [
            "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(REPO),
            "-q", "--no-header", "-p", "no:randomly", "--tb=line", f"--impl={impl}", f"--seed={seed}",
            f"--results-json={results}", f"--sandbox-report={facts}", *map(str, suite_files(section, hidden)),
        ]  # fmt: skip
        problems = []
        run_env = {**child_env(), "COURSE_TIME_BUDGET_SUITES": "all" if hidden else "public", **(env or {})}
        if runner is not None:
            from grader.warm import RunnerError

            try:
                rc, output = runner.run(args, cwd=tmp, env=run_env, timeout=timeout)
            except (RunnerError, OSError, ValueError, KeyError) as e:
                rc, output = -1, f"{type(e).__name__}: {e}"
        else:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", *args], cwd=tmp, env=run_env, stdin=subprocess.DEVNULL,
                    capture_output=True, timeout=timeout,
                )  # fmt: skip
                rc, output = proc.returncode, proc.stdout.decode(errors="replace")
            except subprocess.TimeoutExpired:
                rc, output = None, ""
        if rc is None:
            problems.append(f"{section.name}: the tests did not finish within {timeout:.0f} s")
        elif rc not in (0, 1):  # 0 all passed, 1 some failed; anything else: pytest broke
            tail = output.strip().splitlines()[-3:]
            problems.append(f"the test run of {section.name} ended abnormally (exit {rc}): " + " / ".join(tail))
        records = read_records(results)
        sandbox = json.loads(facts.read_text(encoding="utf-8")).get(section.name, {}) if facts.is_file() else {}
    if not records:
        problems.append(f"{section.name}: no test results were produced")
    return RunOutcome(records, problems, time.monotonic() - start, sandbox)
