"""Red team: malicious and broken submissions (grader/tests/redteam/attacks.py) graded by the real
command line, as a batch. Each must score 0 on the exercise it attacks (or lose points, for right
answers of the wrong kind), every other section keeps its points, the batch finishes in bounded
time, and no report contains a line of the hidden tests or the solutions.

To stay fast the attack batch is graded with the public tests (the sandbox is the same for hidden
tests); a second, small batch with the hidden suites covers what only they can show (reading the
hidden tests, in-place modification). Student code runs with a 3-second call limit here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time

import pytest
from helpers import exercise_scores, run_cli
from redteam import attacks

from grader.sections import Section

OTHER = Section("sec38_attention")  # numpy-only and quick: must keep full points next to every attack
ATTACKED = attacks.ATTACKED
HIDDEN_BATCH = ["control", "read_hidden_tests_and_solutions", "mutating_inputs", "fork_bomb"]
TIME_LIMIT = 900  # seconds for each batch, whatever the submissions do
HOSTILE_ENV = {  # the grader must ignore these (they would deselect or replace every test)
    "PYTEST_ADDOPTS": "-k not_softmax -p no:grader.pytest_plugin --co",
    "PYTEST_PLUGINS": "redteam_plugin",
    "PYTHONPATH": "/nonexistent",
    "PYTHONSTARTUP": "/nonexistent",
}


def _run_batch(tmp_path_factory, names, *extra):
    folder = tmp_path_factory.mktemp("redteam")
    subs = folder / "submissions"
    subs.mkdir()
    for name in names:
        if name == "control":
            attacks.build_copy(subs / name)
        else:
            attacks.build(name, subs / name)
    out = folder / "grades.csv"
    start = time.monotonic()
    proc = run_cli(
        "batch", str(subs), "--csv", str(out), "--jobs", "2", "--call-timeout", "3",
        "--section", ATTACKED.name, "--section", OTHER.name, *extra,
        env=HOSTILE_ENV, timeout=TIME_LIMIT + 60,
    )  # fmt: skip
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    reports = out.with_name("grades_reports")
    data = {n: json.loads((reports / f"{n}.json").read_text(encoding="utf-8")) for n in names}
    with open(out, encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    texts = [out.read_text(encoding="utf-8"), proc.stdout, proc.stderr]
    texts += [p.read_text(encoding="utf-8") for p in reports.glob("*.json")]
    return {"data": data, "rows": rows, "seconds": seconds, "texts": texts}


@pytest.fixture(scope="module")
def public_batch(tmp_path_factory):
    return _run_batch(tmp_path_factory, ["control", *attacks.ATTACKS], "--public-only")


@pytest.fixture(scope="module")
def hidden_batch(tmp_path_factory):
    return _run_batch(tmp_path_factory, HIDDEN_BATCH)


def sections(report):
    return {s["name"]: s for s in report["sections"]}


def test_there_are_at_least_25_attacks():
    assert len(attacks.ATTACKS) >= 25


def test_control_submission_gets_full_marks(public_batch, hidden_batch):
    report = public_batch["data"]["control"]
    assert report["score"] == report["max_score"] > 0 and report["tampered"] == []
    # with the hidden suites: full marks but for the training task, longer than this run's call limit
    report = hidden_batch["data"]["control"]
    lost = [
        (t["name"], t["message"])
        for s in report["sections"] for e in s["exercises"] for t in e["tests"]
        if t["status"] != "passed" and "time limit of the grader" not in t["message"]
    ]  # fmt: skip
    assert not lost and report["tampered"] == []


@pytest.mark.parametrize("name", sorted(attacks.ATTACKS))
def test_attack_scores_zero_on_what_it_attacks_and_others_keep_their_points(public_batch, name):
    report = public_batch["data"][name]
    by_name = sections(report)
    other = by_name[OTHER.name]
    assert other["score"] == other["max_score"] > 0, f"{name} cost {OTHER.name} points"
    attacked = by_name[ATTACKED.name]
    scores = exercise_scores(attacked)
    if name in attacks.SECTION:
        assert attacked["score"] == 0 < attacked["max_score"], scores
        return
    score, max_score = scores[attacks.EXERCISE]
    if name in attacks.HIDDEN_ONLY:
        pytest.skip("only the hidden suite can see this (checked with the hidden batch)")
    if name == "network_socket" and report["protections"].get("network") != "none":
        pytest.skip("no network namespace on this machine (unshare not permitted)")
    if name == "read_hidden_tests_and_solutions" and report["protections"].get("grader_files_readable"):
        pytest.skip("the grader's files are readable by the worker here (not root, no namespaces)")
    if attacks.EXPECT[name] == "zero":
        assert score == 0 < max_score, f"{name}: {attacks.EXERCISE} got {score}/{max_score}"
    else:
        assert 0 < max_score and score < max_score, f"{name}: {attacks.EXERCISE} kept {score}/{max_score}"


def test_batches_finish_in_bounded_time(public_batch, hidden_batch):
    assert public_batch["seconds"] < TIME_LIMIT and hidden_batch["seconds"] < TIME_LIMIT


def test_no_report_quotes_hidden_tests_or_solutions(public_batch, hidden_batch):
    # a line that is only a quoted name ("softmax",) is also the JSON report's own text
    secret = [line for line in attacks.secret_lines() if not re.fullmatch(r"[\"'][\w.]+[\"'],?", line)]
    assert secret
    for batch in (public_batch, hidden_batch):
        for text in batch["texts"]:
            leaked = [line for line in secret if line in text]
            assert not leaked, f"a report quotes the grader's files: {leaked[:2]}"


def test_fake_output_and_forged_files_do_not_reach_the_reports(public_batch):
    for text in public_batch["texts"]:
        assert "999" not in text.replace("999 passed", "").replace("999/999", "") or True
        assert "Points 999/999" not in text and "999 passed" not in text
    forged = public_batch["data"]["forged_result_files"]
    assert all(t["name"] != "test_softmax" for s in forged["sections"] for e in s["exercises"] for t in e["tests"])


def test_protected_and_suspicious_files_are_reported(public_batch):
    assert any("conftest.py" in t for t in public_batch["data"]["conftest_forcing_passes"]["tampered"])
    assert any("numpy" in t for t in public_batch["data"]["shadow_numpy_package"]["tampered"])


def test_hidden_suite_sees_in_place_modification_and_no_secret_is_readable(hidden_batch):
    report = hidden_batch["data"]["mutating_inputs"]
    ex = {e["name"]: e for e in sections(report)[ATTACKED.name]["exercises"]}["softmax"]
    # every call goes through grader.calls.call, which checks that no argument was modified
    failed = [t for t in ex["tests"] if t["status"] != "passed"]
    assert failed and all("modified its input" in t["message"] for t in failed), [t["message"] for t in failed]
    leak = exercise_scores(sections(hidden_batch["data"]["read_hidden_tests_and_solutions"])[ATTACKED.name])
    if not hidden_batch["data"]["control"]["protections"].get("grader_files_readable"):
        assert leak["softmax"][0] == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="uid switching and namespaces are checked when grading as root")
def test_protections_active_as_root(hidden_batch):
    p = hidden_batch["data"]["control"]["protections"]
    assert p["separate_uid"] and not p["grader_files_readable"] and p["network"] == "none", p
    assert p["limits"]["processes"] > 0 and p["limits"]["data_bytes"] > 0
