"""Red team at run time (grader/tests/redteam/runtime_attacks.py).

Shortcuts by another name: each disguised call of PyTorch's attention in §40
``scaled_dot_product_attention`` is recorded by the worker's guard (grader/sandbox/guard.py) for
that exercise — oracle: the attack's declared names — while the static scan of
grader/forbidden.py does not see it, and the answers stay those of the reference (so only the
forbidden-shortcut rule can cost it points). The untouched reference records nothing.

Time: a §38 submission that wastes time in every function is graded within the section's time
budget plus start-up, with the remaining tests "not run: time budget used up"; children and
exit handlers do not outlive or hang the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch
from redteam import runtime_attacks as rt

from grader import forbidden
from grader.run import run_section
from grader.sandbox.pool import BUDGET_USED_UP, SandboxConfig, SandboxTarget, time_budget
from grader.sections import SOLUTIONS
from grader.targets import load_module_file

CALL_LIMIT = 3.0  # seconds per call in the time attacks
SLACK = 30.0  # seconds on top of the untouched section's own grading time (start-up of pytest, zygote, worker)


def _inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    return q, k, v


@pytest.fixture(scope="module")
def reference_sdpa():
    return load_module_file(rt.SHORTCUT_SECTION.module_file(SOLUTIONS), rt.SHORTCUT_SECTION.module)


def _run_shortcut(root: Path):
    target = SandboxTarget(rt.SHORTCUT_SECTION, root, SandboxConfig(call_timeout=60, time_budget=600))
    try:
        q, k, v = _inputs(40)
        out, weights = getattr(target, rt.SHORTCUT_EXERCISE)(q, k, v)
        return target.forbidden_facts, (out, weights), (q, k, v), target.protections
    finally:
        target.close()


def test_there_are_enough_runtime_attacks():
    assert len(rt.SHORTCUTS) >= 4 and len(rt.TIME) >= 5


def test_reference_records_no_shortcut(tmp_path):
    root = rt.copy_section(rt.SHORTCUT_SECTION, tmp_path)
    found, _, _, protections = _run_shortcut(root)
    assert found == {}, f"the reference was recorded as using a shortcut: {found}"


@pytest.mark.parametrize("name", sorted(rt.SHORTCUTS))
def test_disguised_shortcut_is_recorded_for_its_exercise(tmp_path, name, reference_sdpa):
    root = rt.build_shortcut(name, tmp_path)
    module_file = rt.SHORTCUT_SECTION.module_file(root)
    static = forbidden.scan_file(module_file, rt.SHORTCUT_SECTION.name)
    assert rt.SHORTCUT_EXERCISE not in static, f"{name} is not disguised: the static scan sees {static}"
    found, (out, weights), (q, k, v), _ = _run_shortcut(root)
    want_out, want_weights = reference_sdpa.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, want_out, rtol=1e-7, atol=0)
    torch.testing.assert_close(weights, want_weights, rtol=1e-7, atol=0)
    assert found == {rt.SHORTCUT_EXERCISE: rt.SHORTCUT_EXPECT[name]}, found


@pytest.mark.xfail(strict=True, reason="known gap: both modes popped and the original called inside one call")
def test_everything_switched_off_is_not_seen(tmp_path):
    root = rt.build_shortcut("everything_switched_off", tmp_path)
    found, _, _, _ = _run_shortcut(root)
    assert found == {rt.SHORTCUT_EXERCISE: [rt.SDPA]}


def test_recorded_shortcut_reaches_the_sandbox_facts(tmp_path):
    root = rt.build_shortcut("computed_getattr", tmp_path)
    outcome = run_section(rt.SHORTCUT_SECTION, f"sandbox:{root}", hidden=False)
    assert outcome.sandbox.get("forbidden", {}).get(rt.SHORTCUT_EXERCISE) == [rt.SDPA], outcome.sandbox


# --- time ----------------------------------------------------------------------------------------


def _spinners() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as f:
                    if f.read().strip() == rt.SPINNER_NAME:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def start_up(tmp_path_factory):
    """Seconds the untouched §38 takes to grade the same way (oracle of the start-up cost on this
    machine now), plus a slack."""
    root = rt.copy_section(rt.TIME_SECTION, tmp_path_factory.mktemp("untouched"))
    start = time.monotonic()
    outcome = run_section(
        rt.TIME_SECTION, f"sandbox:{root}", hidden=False, env={"COURSE_CALL_TIMEOUT": str(CALL_LIMIT)}
    )
    assert outcome.records and all(r["status"] == "passed" for r in outcome.records)
    return time.monotonic() - start + SLACK


def _grade_time_attack(name: str, tmp_path: Path, budget: float | None = None):
    """Grade the attack; ``budget``: a fixed budget instead of the measured one times the load."""
    root = rt.build_time(name, tmp_path, CALL_LIMIT)
    env = {"COURSE_CALL_TIMEOUT": str(CALL_LIMIT)} | ({} if budget is None else {"COURSE_TIME_BUDGET": str(budget)})
    start = time.monotonic()
    outcome = run_section(rt.TIME_SECTION, f"sandbox:{root}", hidden=False, env=env)
    return outcome, time.monotonic() - start


@pytest.mark.parametrize("name", ["sleep_just_under_the_call_limit", "busy_loop_just_under_the_call_limit"])
def test_wasting_time_in_every_call_costs_about_the_budget(start_up, tmp_path, name):
    """With the section's budget of an idle machine, fixed: scaled by a busy machine's load it can
    outgrow what the suite's calls would waste, and the test would show nothing."""
    idle_budget = time_budget(rt.TIME_SECTION, "public")[0]
    outcome, seconds = _grade_time_attack(name, tmp_path, budget=idle_budget)
    facts = outcome.sandbox["time_budget"]
    budget = facts["seconds"]
    assert budget == pytest.approx(idle_budget)
    calls = len(outcome.records)
    # without the budget: one call per test, each just under the limit
    assert calls * CALL_LIMIT * 0.9 > 2 * budget, "the suite is too small to show the budget"
    assert facts["used_up"] and facts["used"] <= budget + 1.0, facts
    assert seconds < budget + start_up, f"{name}: graded in {seconds:.0f} s with a budget of {budget:.0f} s"
    stopped = [r for r in outcome.records if r["status"] != "passed" and BUDGET_USED_UP in r["message"]]
    assert len(stopped) >= calls // 2, [r["message"][:80] for r in outcome.records]


@pytest.mark.parametrize(
    "name", ["sleep_forever_on_the_first_call_only", "block_reading_an_empty_pipe", "slow_import_and_endless_calls"]
)
def test_calls_that_never_return_cost_at_most_the_budget(start_up, tmp_path, name):
    outcome, seconds = _grade_time_attack(name, tmp_path)
    budget = outcome.sandbox["time_budget"]["seconds"]
    used = outcome.sandbox["time_budget"]["used"]
    assert used <= budget + 1.0, f"{name}: calls and restarts took {used:.1f} s with a budget of {budget:.0f} s"
    assert seconds < budget + start_up, (
        f"{name}: graded in {seconds:.0f} s with a budget of {budget:.0f} s (calls {used:.0f} s; "
        f"the untouched section plus slack: {start_up:.0f} s)"
    )
    assert not [r for r in outcome.records if r["status"] == "passed" and r["points"] > 0]


def test_child_that_keeps_spinning_is_gone_after_grading(start_up, tmp_path):
    outcome, seconds = _grade_time_attack("child_process_keeps_spinning", tmp_path)
    budget = outcome.sandbox["time_budget"]["seconds"]
    assert seconds < budget + start_up
    if not outcome.sandbox.get("protections", {}).get("pid_namespace"):
        pytest.skip("no PID namespace here: the grader kills the worker, not what it forked")
    deadline = time.monotonic() + 10
    while _spinners() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _spinners() == [], "a child of the worker is still running after grading"
    passed = [r for r in outcome.records if r["status"] == "passed"]
    assert passed, "the child should not cost the right answers their points"


def test_spinning_at_exit_does_not_hang_grading(start_up, tmp_path):
    outcome, seconds = _grade_time_attack("spin_at_exit_and_in_del", tmp_path)
    assert seconds < outcome.sandbox["time_budget"]["seconds"] + start_up
    assert outcome.records and all(r["status"] in ("passed", "skipped") for r in outcome.records), [
        (r["name"], r["message"][:80]) for r in outcome.records if r["status"] not in ("passed", "skipped")
    ]


def test_disguised_shortcut_scores_zero_when_graded(tmp_path):
    """End to end through ``python -m grader grade``: the judge zeroes what the guard recorded, with
    the static scan's message (oracle: grader.forbidden.message)."""
    from helpers import grade_json

    root = rt.build_shortcut("computed_getattr", tmp_path / "sub")
    report = grade_json(root, tmp_path / "grade.json", "--section", rt.SHORTCUT_SECTION.name, "--public-only")
    (section,) = [s for s in report["sections"] if s["name"] == rt.SHORTCUT_SECTION.name]
    exercises = {e["name"]: e for e in section["exercises"]}
    attacked = exercises[rt.SHORTCUT_EXERCISE]
    assert attacked["score"] == 0 < attacked["max_score"]
    assert all(t["message"] == forbidden.message([rt.SDPA]) for t in attacked["tests"])
    others = [
        e
        for name, e in exercises.items()
        if name not in ("multi_head_attention", "transformer_block", rt.SHORTCUT_EXERCISE)
    ]
    assert others and all(e["score"] == e["max_score"] for e in others), [(e["name"], e["score"]) for e in others]
