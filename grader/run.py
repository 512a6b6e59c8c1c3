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

import copy
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
# plugins a graded run goes without: random test order, and captured logs (no graded test reads
# them; the logging plugin adds and removes its handlers three times per test)
PLUGINS_OFF = ("-p", "no:randomly", "-p", "no:logging")


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


def training_files(section: Section) -> list[Path]:
    """The section's hidden training suites (``test_secNN_<name>_training.py``)."""
    return [f for f in section.hidden_test_files() if f.stem.endswith("_training")]


def split_suites(section: Section) -> tuple[list[Path], list[Path]]:
    """All of the section's suites as two runs: (the rest, the hidden training suites), in the order
    of ``grader.sandbox.pool.SPLIT_PARTS`` ("main", "training"); the second is empty when it has none."""
    training = training_files(section)
    return [f for f in suite_files(section, True) if f not in training], training


def merge_outcomes(outcomes: list[RunOutcome]) -> RunOutcome:
    """The outcomes of a section's runs (its parts, see ``grader.grade.section_parts``) as one: the
    records and problems of all in order, the longest run's seconds, the sandbox's facts added up
    (a part's budget is its share of the section's, so they add up to the section's budget)."""
    if len(outcomes) == 1:
        return outcomes[0]
    sandbox: dict = {}
    for facts in (o.sandbox for o in outcomes if o.sandbox):
        if not sandbox:
            sandbox = copy.deepcopy(facts)
            continue
        sandbox["crashes"] = [*sandbox.get("crashes", []), *facts.get("crashes", [])]
        sandbox["output_bytes"] = sandbox.get("output_bytes", 0) + facts.get("output_bytes", 0)
        forbidden = sandbox.setdefault("forbidden", {})
        for exercise, names in facts.get("forbidden", {}).items():
            forbidden[exercise] = sorted({*forbidden.get(exercise, []), *names})
        budget, other = sandbox.get("time_budget", {}), facts.get("time_budget", {})
        for key in ("seconds", "used", "calls"):
            if budget.get(key) is not None and other.get(key) is not None:
                budget[key] = round(budget[key] + other[key], 3)
        budget["used_up"] = bool(budget.get("used_up") or other.get("used_up"))
        budget["load_factor"] = max(budget.get("load_factor") or 1.0, other.get("load_factor") or 1.0)
    return RunOutcome(
        [r for o in outcomes for r in o.records], [p for o in outcomes for p in o.problems],
        max(o.seconds for o in outcomes), sandbox,
    )  # fmt: skip


def run_section(
    section: Section,
    impl: str,
    *,
    hidden: bool = True,
    seed: int = 0,
    timeout: float = 900,
    env: dict | None = None,
    runner=None,
    files: list[Path] | None = None,
    suites: str | None = None,
) -> RunOutcome:
    """Run the section's suites against ``impl`` (a target spec, see ``grader.targets``): in a child
    forked by ``runner`` (a :class:`grader.warm.WarmRunner`, pytest and torch already imported), else
    in a new ``python -m pytest`` process. ``files`` and ``suites``: only these suite files, under the
    time budget of that part of the section (default: all of its suites, "all" or "public")."""
    start = time.monotonic()
    files = suite_files(section, hidden) if files is None else files
    suites = suites or ("all" if hidden else "public")
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:  # 0700: no worker can look inside
        results = Path(tmp) / "results.json"
        facts = Path(tmp) / "sandbox.json"
        args = [
            "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(REPO),
            "-q", "--no-header", *PLUGINS_OFF, "--tb=line", f"--impl={impl}", f"--seed={seed}",
            f"--results-json={results}", f"--sandbox-report={facts}", *map(str, files),
        ]  # fmt: skip
        problems = []
        run_env = {**child_env(), "COURSE_TIME_BUDGET_SUITES": suites, **(env or {})}
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
