"""A section whose hidden training suites are long is graded in two runs on two cores, the training
suites and the rest (``grader.grade.section_parts``); their records and sandbox facts are merged
before judging (``grader.run.merge_outcomes``), and each run's time budget is its measured share of
the section's. Oracles: the section's suite files, ``grader/time_budget.json``, and one run of all
suites in one pytest process."""

from __future__ import annotations

import math

import pytest

from grader.grade import SPLIT_SECONDS, grade, measured_seconds, section_parts
from grader.run import RunOutcome, merge_outcomes, run_section, suite_files, training_files
from grader.sandbox.pool import time_budget
from grader.sections import SOLUTIONS, Section, all_sections

GPT = Section("sec42_gpt")


def test_a_long_training_suite_runs_beside_the_rest():
    assert measured_seconds(GPT)["training"] >= SPLIT_SECONDS, "the premise: §42's training suite is long"
    parts = section_parts(GPT, hidden=True)
    assert [p.suites for p in parts] == ["main", "training"]
    assert list(parts[1].files) == training_files(GPT)
    every = [f for p in parts for f in p.files]
    assert sorted(every) == sorted(suite_files(GPT, True)) and len(every) == len(set(every)), (
        "the two runs should hold every suite file of the section exactly once"
    )


@pytest.mark.parametrize("name", [s.name for s in all_sections()])
def test_a_section_is_split_only_for_a_long_training_suite(name):
    section = Section(name)
    measured = measured_seconds(section)
    long = bool(training_files(section)) and measured.get("training", 0.0) >= SPLIT_SECONDS
    parts = section_parts(section, hidden=True)
    assert len(parts) == (2 if long else 1), [p.suites for p in parts]
    if not long:
        assert parts[0].suites == "all" and list(parts[0].files) == suite_files(section, True)


def test_public_grading_is_one_run():
    parts = section_parts(GPT, hidden=False)
    assert [(p.suites, list(p.files)) for p in parts] == [("public", suite_files(GPT, False))]


@pytest.mark.parametrize("load", [1.0, 4.0])
def test_the_parts_budgets_add_up_to_the_sections(monkeypatch, load):
    monkeypatch.delenv("COURSE_TIME_BUDGET", raising=False)
    monkeypatch.delenv("COURSE_TIME_BUDGET_FACTOR", raising=False)
    whole = time_budget(GPT, "all", load)[0]
    main, training = time_budget(GPT, "main", load), time_budget(GPT, "training", load)
    assert math.isclose(main[0] + training[0], whole, rel_tol=1e-12), (main, training, whole)
    measured = measured_seconds(GPT)
    share = measured["training"] / (measured["main"] + measured["training"])
    assert math.isclose(training[0], share * whole, rel_tol=1e-12) and "of 3 x the reference" in training[1]


def _outcome(name, budget, forbidden, crashes, output):
    facts = {"protections": {"uid": True}, "crashes": crashes, "forbidden": forbidden, "output_bytes": output,
             "time_budget": {"seconds": budget, "used": budget / 4, "calls": 10, "used_up": False, "load_factor": 1.0}}  # fmt: skip
    return RunOutcome([{"name": name, "status": "passed"}], [f"problem of {name}"], budget / 2, facts)


def test_merged_outcomes_keep_every_record_and_add_up_the_facts():
    a = _outcome("test_a", 4.0, {"gpt_block": ["layer_norm"]}, ["crash a"], 10)
    b = _outcome("test_b", 16.0, {"gpt_block": ["scaled_dot_product_attention"], "moe_layer": ["x"]}, [], 5)
    b.sandbox["time_budget"]["used_up"] = True
    merged = merge_outcomes([a, b])
    assert [r["name"] for r in merged.records] == ["test_a", "test_b"]
    assert merged.problems == ["problem of test_a", "problem of test_b"] and merged.seconds == 8.0
    facts = merged.sandbox
    assert facts["time_budget"]["seconds"] == 20.0 and facts["time_budget"]["used"] == 5.0
    assert facts["time_budget"]["calls"] == 20 and facts["time_budget"]["used_up"] is True
    assert facts["forbidden"] == {"gpt_block": ["layer_norm", "scaled_dot_product_attention"], "moe_layer": ["x"]}
    assert facts["crashes"] == ["crash a"] and facts["output_bytes"] == 15
    assert a.sandbox["time_budget"]["seconds"] == 4.0, "merging changed the first run's own facts"


def test_a_split_grade_has_every_test_of_one_run_with_the_same_outcome():
    # oracle: all of §42's suites in one pytest process (one worker)
    one = run_section(GPT, f"sandbox:{SOLUTIONS}", hidden=True)
    assert not one.problems, one.problems
    result = grade(SOLUTIONS, only=[GPT.name])
    got = {t.name: t.status for e in result.sections[0].exercises for t in e.tests}
    want = {r["name"]: r["status"] for r in one.records}
    assert got == want and len(got) > 100
