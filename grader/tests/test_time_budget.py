"""The per-section time budget of sandboxed calls (grader/sandbox/pool.py).

Oracles: the committed measurement ``grader/time_budget.json`` (budget = factor x measured x load
factor, at least the minimum), a clock around the calls, and the per-call limit.
"""

from __future__ import annotations

import json
import math
import textwrap
import time

import pytest

from grader.sandbox.pool import (
    BUDGET_USED_UP,
    TIME_BUDGET_FILE,
    SandboxConfig,
    SandboxTarget,
    SubmissionCrash,
    load_factor,
    time_budget,
)
from grader.sections import Section, all_sections

TOY = Section("sec98_slow")
SOURCE = """
import time

def nap(s):
    time.sleep(s)
    return s

def quick(x):
    return x + 1
"""


@pytest.fixture
def slow_root(tmp_path):
    (tmp_path / TOY.name).mkdir()
    (tmp_path / TOY.name / "slow.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    return tmp_path


def _budget_file() -> dict:
    return json.loads(TIME_BUDGET_FILE.read_text(encoding="utf-8"))


def test_every_section_is_measured_for_both_suites_and_each_part():
    from grader.run import training_files

    data = _budget_file()
    for section in all_sections():
        row = data["sections"].get(section.name, {})
        parts = {"main", "training"} if training_files(section) else set()
        assert set(row) == {"public", "all", *parts}, f"{section.name}: run benchmarks/bench_time_budget.py --update"
        assert 0 < row["public"] <= row["all"] * 1.5 + 0.05, (section.name, row)
        if parts:
            assert 0 < row["main"] and 0 < row["training"], (section.name, row)
    assert data["factor"] >= 2 and data["minimum_seconds"] >= 5


def test_budget_is_factor_times_measured_at_least_the_minimum_times_load(monkeypatch):
    monkeypatch.delenv("COURSE_TIME_BUDGET", raising=False)
    monkeypatch.delenv("COURSE_TIME_BUDGET_FACTOR", raising=False)
    data = _budget_file()
    for section in all_sections():
        for suites in ("public", "all"):
            for load in (1.0, 4.0):
                want = max(data["minimum_seconds"], data["factor"] * data["sections"][section.name][suites]) * load
                got, source = time_budget(section, suites, load)
                assert math.isclose(got, want, rel_tol=1e-12), (section.name, suites, load)
                assert "reference" in source


def test_factor_and_explicit_budget_come_from_the_environment(monkeypatch):
    section = Section("sec42_gpt")
    measured = _budget_file()["sections"][section.name]["all"]
    monkeypatch.setenv("COURSE_TIME_BUDGET_FACTOR", "100")
    assert time_budget(section, "all")[0] == pytest.approx(max(10.0, 100 * measured), rel=1e-12)
    monkeypatch.setenv("COURSE_TIME_BUDGET", "7.5")
    assert time_budget(section, "all") == (7.5, "set by $COURSE_TIME_BUDGET")


def test_unmeasured_section_has_no_budget(monkeypatch):
    monkeypatch.delenv("COURSE_TIME_BUDGET", raising=False)
    seconds, source = time_budget(TOY, "all")
    assert seconds == math.inf and "not measured" in source


def test_load_factor_is_between_one_and_the_cap():
    assert 1.0 <= load_factor() <= 8.0


def test_calls_stop_when_the_budget_is_used_up(slow_root):
    target = SandboxTarget(TOY, slow_root, SandboxConfig(call_timeout=30, time_budget=2.0))
    try:
        assert target.quick(0) == 1  # the worker has started (its start is not a call)
        start = time.monotonic()
        target.nap(0.8)
        target.nap(0.8)
        with pytest.raises(SubmissionCrash, match=BUDGET_USED_UP):
            target.nap(0.8)  # 0.4 s were left: stopped then, not after the per-call limit
        stopped = time.monotonic() - start
        with pytest.raises(SubmissionCrash, match=BUDGET_USED_UP):
            target.quick(1)  # every later call, of any function, fails at once
        assert time.monotonic() - start - stopped < 0.5
        facts = target.budget_facts
        assert facts["used_up"] and facts["seconds"] == 2.0 and 2.0 <= facts["used"] < 3.0, facts
        assert stopped < 4.0, f"the calls took {stopped:.1f} s with a budget of 2 s"
    finally:
        target.close()


def test_per_call_limit_still_applies_within_the_budget(slow_root):
    target = SandboxTarget(TOY, slow_root, SandboxConfig(call_timeout=1.0, time_budget=60.0))
    try:
        with pytest.raises(SubmissionCrash, match="did not return within"):
            target.nap(5)
        assert target.quick(1) == 2  # the budget is not used up: other functions keep running
        assert not target.budget_facts["used_up"]
    finally:
        target.close()


def test_calls_within_the_budget_are_unaffected(slow_root):
    target = SandboxTarget(TOY, slow_root, SandboxConfig(call_timeout=30, time_budget=30.0))
    try:
        assert [target.quick(i) for i in range(20)] == list(range(1, 21))
        facts = target.budget_facts
        assert facts["calls"] == 20 and not facts["used_up"] and facts["used"] < 30
    finally:
        target.close()


def test_load_factor_reads_the_load_at_most_once_a_second(monkeypatch):
    """It is asked at every call: a system call each time costs more than the rest of the check."""
    import os

    from grader.sandbox import pool

    reads = []
    monkeypatch.setattr(os, "getloadavg", lambda: reads.append(1) or (6.0 * pool._cpus(), 0.0, 0.0))
    monkeypatch.setattr(pool, "_LOAD", [-1.0, 1.0])
    assert [load_factor() for _ in range(100)] == [6.0] * 100 and len(reads) == 1
    pool._LOAD[0] -= 1.0  # a second later: read again
    monkeypatch.setattr(os, "getloadavg", lambda: reads.append(1) or (0.5, 0.0, 0.0))
    assert load_factor() == 1.0 and len(reads) == 2
