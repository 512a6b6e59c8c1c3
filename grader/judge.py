"""Step 3 — judge: turn the raw test records of each section into the result model with points.

A pipeline of small steps, each a function of its own:

1. :func:`records_to_results` — one :class:`TestResult` per record, grouped by exercise (a test that did
   not run says why);
2. :func:`forbidden_exercises` — exercises that use the library shortcut they teach, found by the
   static scan of the submission's source and by the sandbox at run time (merged); they score 0;
3. :func:`apply_core_gate` — an edge-case test (``needs_core``) counts only once every core test
   of its exercise passed: otherwise it keeps its status, scores 0 and is flagged ``gated``;
4. :func:`apply_budget` — the exercise is worth its budget (``grader/points.toml``), shared among
   its tests in proportion to their weights; only passed, ungated tests score. When the hidden
   tests did not run, their weight (``grader/suite_weights.json``) still takes its share: the
   public tests score what they are worth in the official grade, not the whole budget.
"""

from __future__ import annotations

import math

from grader import forbidden, points, suite_weights
from grader.collect import SectionJob
from grader.messages import t
from grader.results import ExerciseResult, SectionResult, TestResult
from grader.run import RunOutcome

UNTAGGED = "(untagged)"
BUDGET_USED_UP = "not run: time budget used up"  # grader.sandbox.pool's words (not imported: no sandbox here)


def not_run_message() -> str:
    return t("not_run")


def gate_message(exercise: str) -> str:
    return t("gate", exercise=exercise)


def judge_section(
    job: SectionJob, outcome: RunOutcome, budgets: dict[str, float] | None = None, hidden: bool | None = None
) -> SectionResult:
    """Points for passed tests only; a test that did not run scores 0 and says why. ``budgets``
    (exercise → points) defaults to the course's table for the section. ``hidden``: whether the
    hidden tests ran (default: whether any record is of a hidden test); when they did not, the
    public tests keep only their share of each budget."""
    result = SectionResult(
        job.section.name, problems=[*job.problems, *outcome.problems], seconds=outcome.seconds, sandbox=outcome.sandbox
    )
    if budgets is None:
        budgets = points.budgets().get(job.section.name, {})
    result.exercises = records_to_results(outcome.records, job.problems)
    banned = forbidden_exercises(job, outcome)
    if hidden is None:
        hidden = any(r.get("hidden") for r in outcome.records)
    for exercise in result.exercises:
        if exercise.name in banned:
            apply_forbidden(exercise, banned[exercise.name])
        apply_core_gate(exercise)
        absent = 0.0 if hidden else suite_weights.hidden_weight(job.section.name, exercise.name)
        apply_budget(exercise, budgets.get(exercise.name), absent)
    return result


def records_to_results(records: list[dict], problems: list[str] = ()) -> list[ExerciseResult]:
    """The records as unscored test results, grouped by exercise in the order of first appearance."""
    by_name: dict[str, ExerciseResult] = {}
    for record in records:
        exercise = record.get("exercise") or UNTAGGED
        if exercise not in by_name:
            by_name[exercise] = ExerciseResult(exercise)
        by_name[exercise].tests.append(record_to_result(record, problems))
    return list(by_name.values())


def record_to_result(record: dict, problems: list[str] = ()) -> TestResult:
    status = record["status"]
    message = record.get("message", "")
    if status == "not run":
        message = not_run_message()
    elif message.startswith(BUDGET_USED_UP):
        message = t("time_budget")
    elif status != "passed" and problems and not message:
        message = problems[0]
    return TestResult(
        name=record["name"],
        status=status,
        score=0.0,
        max_score=0.0,
        message=message,
        hidden=bool(record.get("hidden")),
        needs_core=bool(record.get("needs_core")),
        weight=float(record.get("points", 0)),
    )


def forbidden_exercises(job: SectionJob, outcome: RunOutcome) -> dict[str, list[str]]:
    """Exercise → forbidden names it uses: the static scan of the source merged with what the
    sandbox saw called at run time (``outcome.sandbox["forbidden"]``)."""
    found = {name: set(names) for name, names in forbidden.scan_file(job.module_file, job.section.name).items()}
    runtime = outcome.sandbox.get("forbidden", {}) if isinstance(outcome.sandbox, dict) else {}
    if isinstance(runtime, dict):
        for name, names in runtime.items():
            if isinstance(names, str):
                names = [names]
            found.setdefault(str(name), set()).update(str(n) for n in names)
    return {name: sorted(names) for name, names in found.items()}


def apply_forbidden(exercise: ExerciseResult, names: list[str]) -> None:
    """Every test of an exercise that uses a forbidden shortcut fails with a message saying why."""
    for test in exercise.tests:
        if test.status == "passed":
            test.status = "failed"
        test.message = forbidden.message(names)


def core_passed(exercise: ExerciseResult) -> bool:
    """The exercise has core tests and every one of them passed."""
    core = [t for t in exercise.tests if not t.needs_core]
    return bool(core) and all(t.status == "passed" for t in core)


def apply_core_gate(exercise: ExerciseResult) -> None:
    """Flag the passed edge-case tests that cannot count yet (their status stays "passed")."""
    if core_passed(exercise):
        return
    for test in exercise.tests:
        if test.needs_core and test.status == "passed":
            test.gated = True
            test.message = gate_message(exercise.name)


def apply_budget(exercise: ExerciseResult, budget: float | None, absent_weight: float = 0.0) -> None:
    """Share ``budget`` among the tests by weight (no budget: the weights are the points).
    ``absent_weight``: the weight of tests that did not run here (the hidden ones in a public-only
    grade); they keep their share, so the tests here are worth what they are worth officially."""
    exercise.budget = budget
    weights = [test.weight for test in exercise.tests]
    worth = points.shares(budget, weights + [absent_weight] if absent_weight > 0 else weights)
    for test, max_score in zip(exercise.tests, worth):
        test.max_score = max_score
        test.score = max_score if test.status == "passed" and not test.gated else 0.0
    exercise.public_max = round(math.fsum(t.max_score for t in exercise.tests if not t.hidden), 9) + 0.0
