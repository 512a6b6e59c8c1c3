"""The judge's rules, each on hand-made test records (a fake RunOutcome): core gating, budgets,
forbidden shortcuts found statically or at run time; and the point table and the suites'
markers that the rules rely on."""

from __future__ import annotations

import pytest

from grader import points
from grader.collect import SectionJob
from grader.judge import gate_message, judge_section
from grader.run import RunOutcome
from grader.sections import Section, all_sections

TOY = Section("sec99_toy")


@pytest.fixture(autouse=True)
def _japanese(monkeypatch):
    """The default language, whatever $LANG the machine running the tests has."""
    monkeypatch.setenv("COURSE_LANG", "ja")


def record(name, exercise, status="passed", points_=1.0, needs_core=False, hidden=False, message=""):
    return {
        "nodeid": f"tests/test_sec99_toy.py::{name}",
        "name": name,
        "exercise": exercise,
        "points": points_,
        "needs_core": needs_core,
        "hidden": hidden,
        "status": status,
        "message": message,
    }


def judge(records, budgets, sandbox=None, module_file=None):
    """Judge hand-made records of the toy section (no module file: nothing for the static scan)."""
    module_file = module_file or TOY.module_file("/nonexistent")
    outcome = RunOutcome(records, sandbox=sandbox or {})
    result = judge_section(SectionJob(TOY, module_file), outcome, budgets=budgets)
    return {e.name: e for e in result.exercises}, result


# --- core gating ------------------------------------------------------------------------------


def test_edge_case_tests_count_when_every_core_test_passes():
    """Oracle: hand computation — budget 6 over weights 2 (core) + 1 (edge): 4 + 2."""
    ex, _ = judge([record("core", "f", points_=2), record("edge", "f", needs_core=True)], {"f": 6})
    assert ex["f"].score == 6 and not any(t.gated for t in ex["f"].tests)


def test_a_failed_core_test_gates_the_passed_edge_case_tests():
    """Oracle: the rule — a failed core test leaves the edge-case test "passed", flagged, 0 points."""
    records = [
        record("core_a", "f", points_=2),
        record("core_b", "f", status="failed", message="f: 3 of 4 values differ"),
        record("edge", "f", needs_core=True),
    ]
    ex, _ = judge(records, {"f": 8})
    edge = ex["f"].tests[2]
    assert edge.status == "passed" and edge.gated and edge.score == 0 and edge.max_score == 2
    assert edge.message == gate_message("f") and "core tests of f" in edge.message and "基本テスト" in edge.message
    assert ex["f"].score == 4  # core_a only: 8 * 2 / 4
    assert ex["f"].passed == 1 and ex["f"].total == 3


def test_a_core_test_that_did_not_run_gates_too():
    ex, _ = judge([record("core", "f", status="not run"), record("edge", "f", needs_core=True)], {"f": 4})
    assert ex["f"].score == 0 and ex["f"].tests[1].gated


def test_an_exercise_without_core_tests_never_scores_its_edge_case_tests():
    """A suite bug must not let a stub that passes edge cases score (grader test below catches it)."""
    ex, _ = judge([record("edge", "f", needs_core=True)], {"f": 4})
    assert ex["f"].score == 0 and ex["f"].tests[0].gated


def test_gating_is_per_exercise():
    records = [record("core_f", "f", status="failed"), record("core_g", "g"), record("edge_g", "g", needs_core=True)]
    ex, _ = judge(records, {"f": 2, "g": 3})
    assert ex["g"].score == 3 and ex["f"].score == 0


# --- budgets ----------------------------------------------------------------------------------


def test_budget_is_shared_by_weight_and_is_the_maximum():
    """Oracle: budget × weight / sum of weights, by hand (5 × 1/4, 5 × 3/4)."""
    records = [record("a", "f", points_=1), record("b", "f", points_=3, status="failed", hidden=True)]
    ex, result = judge(records, {"f": 5})
    a, b = ex["f"].tests
    assert (a.max_score, b.max_score) == (1.25, 3.75) and (a.score, b.score) == (1.25, 0)
    assert ex["f"].max_score == 5 == ex["f"].budget and ex["f"].public_max == 1.25
    assert result.max_score == 5 and result.score == 1.25


def test_public_only_grade_keeps_the_hidden_tests_share(monkeypatch):
    """Oracle: by hand — budget 8 over public weight 1 and hidden weight 3 (suite_weights.json):
    without the hidden tests the public test is worth 8 × 1/4 = 2, not the whole 8."""
    from grader import suite_weights

    monkeypatch.setattr(suite_weights, "table", lambda: {"sec99_toy": {"f": {"public": 1.0, "hidden": 3.0}}})
    ex, result = judge([record("a", "f", points_=1)], {"f": 8})
    assert ex["f"].max_score == 2 == ex["f"].score == ex["f"].public_max and ex["f"].official_max == 8
    assert result.max_score == 2 and result.official_max == 8
    # with the hidden tests in the run, the table is not used: the run's own weights share the budget
    ex, _ = judge([record("a", "f", points_=1), record("h", "f", points_=1, hidden=True)], {"f": 8})
    assert ex["f"].max_score == 8 and ex["f"].tests[0].max_score == 4


def test_a_public_only_grade_of_the_reference_scores_the_public_share_of_the_table(monkeypatch):
    """Oracle: the suite weights of the real table — every exercise's public maximum is
    budget × public / (public + hidden)."""
    from grader import suite_weights

    table = suite_weights.table()
    section, weights = "sec39_attention_math", table["sec39_attention_math"]["softmax"]
    records = [record("a", "softmax", points_=weights["public"])]
    result = judge_section(SectionJob(Section(section), Section(section).module_file("/nonexistent")),
                           RunOutcome(records), budgets={"softmax": 4})  # fmt: skip
    expected = 4 * weights["public"] / (weights["public"] + weights["hidden"])
    assert result.exercises[0].max_score == pytest.approx(expected, rel=1e-12) and expected < 4


def test_shares_add_up_to_the_budget_exactly():
    """Sevenths do not add up in binary floating point; the totals still equal the budget."""
    records = [record(f"t{i}", "f", points_=w) for i, w in enumerate([1, 2, 4])]
    ex, result = judge(records, {"f": 4})
    assert ex["f"].score == ex["f"].max_score == 4 and result.score == 4


def test_bonus_exercise_scores_zero_but_counts_its_passed_tests():
    records = [record("a", "extra", points_=0), record("b", "extra", points_=0, status="failed")]
    ex, result = judge(records, {"extra": 0})
    assert ex["extra"].bonus and ex["extra"].max_score == 0 and ex["extra"].score == 0
    assert (ex["extra"].passed, ex["extra"].total) == (1, 2) and result.max_score == 0


def test_an_exercise_without_budget_is_worth_its_weights():
    ex, _ = judge([record("a", "f", points_=2), record("b", "f", points_=1, status="failed")], {})
    assert ex["f"].budget is None and (ex["f"].score, ex["f"].max_score) == (2, 3) and not ex["f"].bonus


def test_equal_shares_when_every_weight_is_zero():
    ex, _ = judge([record("a", "f", points_=0), record("b", "f", points_=0, status="failed")], {"f": 3})
    assert [t.max_score for t in ex["f"].tests] == [1.5, 1.5] and ex["f"].score == 1.5


def test_json_report_carries_the_new_exercise_fields():
    from grader.results import GradeResult

    _, section = judge([record("a", "f", points_=1), record("e", "f", needs_core=True, hidden=True)], {"f": 4})
    data = GradeResult("sub", [section]).to_dict()
    exercise = data["sections"][0]["exercises"][0]
    assert {"budget": 4, "bonus": False, "public_max": 2, "passed": 2, "total": 2}.items() <= exercise.items()
    assert {"needs_core", "gated", "weight"} <= exercise["tests"][1].keys()


def test_a_test_that_did_not_run_says_why(monkeypatch):
    ex, _ = judge([record("a", "f", status="not run")], {"f": 2})
    assert ex["f"].tests[0].message.startswith("実行されず (not run)") and ex["f"].score == 0
    monkeypatch.setenv("COURSE_LANG", "en")
    ex, _ = judge([record("a", "f", status="not run")], {"f": 2})
    assert ex["f"].tests[0].message.startswith("not run: the test run stopped")


# --- forbidden shortcuts: static scan and run time, merged ---------------------------------------


def test_runtime_forbidden_calls_zero_the_exercise(monkeypatch):
    """A fake RunOutcome whose sandbox facts report a forbidden call in f: f scores 0, g keeps its points."""
    from grader import forbidden

    monkeypatch.setattr(forbidden, "scan_file", lambda path, section: {})
    records = [record("a", "f"), record("b", "f", needs_core=True), record("c", "g")]
    ex, _ = judge(records, {"f": 4, "g": 2}, sandbox={"forbidden": {"f": ["scaled_dot_product_attention"]}})
    assert ex["f"].score == 0 and all(t.status == "failed" for t in ex["f"].tests)
    assert all("scaled_dot_product_attention" in t.message for t in ex["f"].tests)
    assert ex["g"].score == 2


def test_static_and_runtime_findings_are_merged(monkeypatch):
    from grader import forbidden

    monkeypatch.setattr(forbidden, "scan_file", lambda path, section: {"f": ["layer_norm"], "g": ["softmax"]})
    records = [record("a", "f"), record("b", "g"), record("c", "h")]
    sandbox = {"forbidden": {"f": ["LayerNorm"], "h": ["MultiheadAttention"]}}
    ex, _ = judge(records, {"f": 2, "g": 2, "h": 2}, sandbox=sandbox)
    assert all(ex[name].score == 0 for name in "fgh")
    assert "LayerNorm" in ex["f"].tests[0].message and "layer_norm" in ex["f"].tests[0].message


def test_static_scan_of_the_source_zeroes_the_exercise(tmp_path, monkeypatch):
    from grader import forbidden

    (tmp_path / TOY.name).mkdir()
    module = tmp_path / TOY.name / "toy.py"
    module.write_text("import torch\ndef f(x):\n    return torch.softmax(x, -1)\ndef g(x):\n    return x\n")
    monkeypatch.setattr(forbidden, "rules_for", lambda section: {"f": ["softmax"], "g": ["softmax"]})
    ex, _ = judge([record("a", "f"), record("b", "g")], {"f": 2, "g": 2}, module_file=module)
    assert ex["f"].score == 0 and ex["g"].score == 2


# --- the point table and the suites' markers ------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> list[dict]:
    """The records of a real pytest collection of every public and hidden suite (what the graded
    runs see: markers, parametrisations, needs_core)."""
    import json
    import subprocess
    import sys

    from grader.run import child_env, suite_files
    from grader.sections import REPO

    out = tmp_path_factory.mktemp("collect") / "records.json"
    files = [str(f) for section in all_sections() for f in suite_files(section, hidden=True)]
    cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "grader" / "pytest.ini"), "--rootdir", str(REPO),
           "--collect-only", "-q", "--impl=solutions", f"--results-json={out}", *files]  # fmt: skip
    proc = subprocess.run(cmd, cwd=out.parent, env=child_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tagged(collected):
    return points.suite_weights(collected)


def test_point_table_is_valid_for_the_suites(tagged):
    """Every tested exercise has a budget of 2–10 (halves allowed) or 0; no budget without tests."""
    problems = points.validate(points.budgets(), tagged)
    assert not problems, "grader/points.toml:\n" + "\n".join(problems)


def test_suite_weights_table_matches_the_suites(tagged):
    """grader/suite_weights.json (the public and hidden weights a public-only grade shares the
    budgets with) is what the suites' markers say."""
    from grader import suite_weights

    now = {s: {e: {k: round(v, 9) for k, v in w.items()} for e, w in ex.items()} for s, ex in tagged.items()}
    assert suite_weights.table() == now, (
        "grader/suite_weights.json is out of date: run `python -m grader.suite_weights`"
    )


def test_point_table_validation_finds_each_kind_of_mistake():
    tagged = {"sec99_toy": {"f": {"public": 1, "hidden": 2}, "g": {"public": 1, "hidden": 0}}}
    problems = points.validate({"sec99_toy": {"f": 11, "h": 3}, "sec98_none": {}}, tagged)
    text = "\n".join(problems)
    assert "f = 11" in text and "g has tests but no budget" in text
    assert "h has a budget but no test" in text and "sec98_none" in text
    assert points.validate({"sec99_toy": {"f": 2.5, "g": 0}}, tagged) == []
    assert "f = 2.25" in "\n".join(points.validate({"sec99_toy": {"f": 2.25, "g": 0}}, tagged))


def test_point_table_reader_rejects_malformed_files(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[sec99_toy]\nf = "two"\n')
    with pytest.raises(points.PointsError, match="should be a number"):
        points.read_table(path)
    path.write_text('[sec99_toy]\nf = 3\nbonus = ["f"]\n')
    with pytest.raises(points.PointsError, match="bonus but has a budget"):
        points.read_table(path)
    path.write_text('[sec99_toy]\nf = 3\nbonus = ["g"]\n')
    assert points.read_table(path) == {"sec99_toy": {"f": 3.0, "g": 0.0}}


def test_every_exercise_has_a_core_test_in_every_suite(collected):
    """A suite whose tests of an exercise are all needs_core could never give that exercise points
    (the public suite alone is what a student's repository grades with)."""
    section_of = {}
    for section in all_sections():
        section_of.update({path.name: section.name for path in (section.public_tests, *section.hidden_test_files())})
    flags: dict[tuple[str, str, str], list[bool]] = {}
    for record in collected:
        suite = "hidden" if record["hidden"] else "public"
        key = (section_of[record["section_file"]], suite, record["exercise"])
        flags.setdefault(key, []).append(bool(record["needs_core"]))
    assert flags, "the collection found no tests"
    missing = sorted(f"{section} {suite}: {ex}" for (section, suite, ex), f in flags.items() if all(f))
    assert not missing, "exercises whose tests are all needs_core in a suite: " + ", ".join(missing)


def test_exercise_markers_use_only_known_options():
    """A misspelt option (need_core=True) would silently make an edge-case test a core test."""
    from grader.notebooks import collect_cases

    bad = set()
    for section in all_sections():
        for suite in ("public", "hidden"):
            for case in collect_cases(section, None, suite):
                mark = next(m for m in case.function.pytestmark if m.name == "exercise")
                unknown = set(mark.kwargs) - {"points", "needs_core"}
                if unknown or len(mark.args) != 1:
                    bad.add(f"{section.name}::{case.function.__name__} {sorted(unknown)}")
    assert not bad, f"exercise markers with unknown options: {sorted(bad)}"


# --- untrusted text: what a failure message may show of the submission's own text ---------------


def failure_of(exc: BaseException, hidden: bool) -> str:
    from grader.pytest_plugin import describe_failure

    try:
        raise exc
    except BaseException:  # noqa: BLE001
        info = pytest.ExceptionInfo.from_current()
    return describe_failure(info, hidden=hidden)


NASTY = "\x1b[31mred\x1b[0m <b>bold</b>\rcarriage\x07bell " + "x" * 400 + "\nsecond line with array([1.5, 2.5])"


def test_a_submission_exception_in_a_hidden_test_shows_only_its_type():
    for exc in (ValueError(NASTY), AssertionError(repr(np_args())), KeyError("secret key")):
        assert failure_of(exc, hidden=True) == f"raised {type(exc).__name__}"


def test_a_submission_exception_in_a_public_test_shows_one_cleaned_line():
    message = failure_of(ValueError(NASTY), hidden=False)
    assert message.startswith("raised ValueError: red <b>bold</b>")
    assert len(message.removeprefix("raised ValueError: ")) <= 200
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in message)
    assert "second line" not in message and "carriage" not in message


def test_an_assertion_error_of_the_submission_is_not_grader_text():
    """A student can raise AssertionError too: only CheckFailure is the grader's."""
    from grader.checks import CheckFailure

    assert failure_of(AssertionError("f(x): 0 of 4 values differ"), hidden=True) == "raised AssertionError"
    assert failure_of(CheckFailure("f(x) has shape (3,), expected (4,)"), hidden=True) == (
        "f(x) has shape (3,), expected (4,)"
    )
    assert failure_of(AssertionError(), hidden=True) == "a check failed"  # a bare assert, --assert=plain


def test_grader_written_messages_are_kept():
    from grader.sandbox.pool import SubmissionCrash

    crash = "softmax did not return within 60 s (stopped; a time limit of the grader)"
    assert failure_of(SubmissionCrash(crash), hidden=True) == crash
    from grader.sandbox.codec import CodecError  # the grader could not send a test's argument

    refused = "cannot send a builtins.set to the submission"
    assert failure_of(CodecError(refused), hidden=True) == refused
    with pytest.raises(pytest.fail.Exception) as info:
        pytest.fail("softmax(x) rows should sum to 1", pytrace=False)
    assert failure_of(info.value, hidden=True) == "softmax(x) rows should sum to 1"
    message = failure_of(NotImplementedError("anything the student wrote"), hidden=True)
    assert "not implemented yet" in message and "anything the student wrote" not in message


def test_exception_type_names_are_restricted():
    evil = type("Evil\x1b[2J<script>" + "E" * 100, (Exception,), {})
    message = failure_of(evil("boom"), hidden=True)
    kind = message.removeprefix("raised ")
    assert kind.isascii() and len(kind) <= 60 and all(c.isalnum() or c in "_." for c in kind)


def test_an_exception_whose_str_fails_still_gives_a_message():
    class Broken(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert failure_of(Broken(), hidden=False) == "raised Broken"


def test_an_import_error_of_the_submission_is_cleaned_and_hidden_in_hidden_tests():
    """Oracle: the fixture's message "cannot load …: <file>: error while importing: <Type>: <text>"."""
    from grader.pytest_plugin import load_failure_message

    text = f"cannot load sec99_toy: /sub/sec99_toy/toy.py: error while importing: RuntimeError: {NASTY}"
    hidden = load_failure_message(text, hidden=True)
    assert hidden == "cannot load sec99_toy: /sub/sec99_toy/toy.py: error while importing: RuntimeError"
    public = load_failure_message(text, hidden=False)
    assert public.startswith(hidden + ": red <b>bold</b>") and "second line" not in public
    assert not any(ord(c) < 32 for c in public) and len(public) < len(hidden) + 220


def test_skip_reasons_and_other_reports_follow_the_same_policy():
    from types import SimpleNamespace

    from grader.pytest_plugin import _short

    skip = SimpleNamespace(longrepr=("f.py", 3, "Skipped: needs\x1b[1m torch\nline two"))
    assert _short(skip, hidden=True) == "needs torch"
    crash = SimpleNamespace(longrepr=f"Traceback ...\nValueError: {NASTY}")
    assert "array" not in _short(crash, hidden=True) and "x" * 50 not in _short(crash, hidden=True)
    assert len(_short(crash, hidden=False)) <= 200


def np_args():
    import numpy as np

    return (np.arange(3.0), {"W": np.eye(2)})


def test_a_pytest_raises_match_failure_shows_pytests_line_only():
    from grader.pytest_plugin import describe_failure

    try:
        with pytest.raises(ValueError, match="d_model"):
            raise ValueError("the submission's own words")
    except AssertionError:
        info = pytest.ExceptionInfo.from_current()
    for hidden in (True, False):
        message = describe_failure(info, hidden=hidden)
        assert message.startswith("Regex pattern did not match") and "submission's own" not in message


# --- the tests above can fail: wrong judges, each caught ------------------------------------------


def _no_gate(monkeypatch):
    import grader.judge as judge_module

    monkeypatch.setattr(judge_module, "apply_core_gate", lambda exercise: None)


def _raw_points(monkeypatch):
    import grader.judge as judge_module

    real = judge_module.apply_budget
    monkeypatch.setattr(judge_module, "apply_budget", lambda exercise, budget, absent=0.0: real(exercise, None, absent))


def _static_scan_only(monkeypatch):
    import grader.judge as judge_module
    from grader import forbidden

    monkeypatch.setattr(
        judge_module, "forbidden_exercises", lambda job, outcome: forbidden.scan_file(job.module_file, job.section.name)
    )


def _leaky_messages(monkeypatch):
    import grader.pytest_plugin as plugin

    monkeypatch.setattr(plugin, "submission_error", lambda kind, message, hidden: f"raised {kind}: {message}")


WRONG_JUDGES = {
    "no core gate": (_no_gate, [test_a_failed_core_test_gates_the_passed_edge_case_tests]),
    "raw points": (_raw_points, [test_budget_is_shared_by_weight_and_is_the_maximum]),
    "static scan only": (_static_scan_only, [test_runtime_forbidden_calls_zero_the_exercise]),
    "leaky messages": (_leaky_messages, [test_a_submission_exception_in_a_hidden_test_shows_only_its_type]),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_JUDGES))
def test_a_wrong_judge_fails_the_rules(wrong, monkeypatch):
    """Oracle: each rule's test, run against a judge that breaks exactly that rule."""
    breaker, tests = WRONG_JUDGES[wrong]
    breaker(monkeypatch)
    for test in tests:
        kwargs = {"monkeypatch": monkeypatch} if "monkeypatch" in test.__code__.co_varnames else {}
        with pytest.raises(AssertionError):
            test(**kwargs)


def test_notebook_cells_share_the_same_budget():
    """Oracle: the point table — a notebook's public + hidden cell calls give the reference the
    exercise's budget exactly (the shares add up in floating point), the cell's points are that budget."""
    import contextlib
    import io

    import grader.notebooks as nbs
    from grader.sections import SOLUTIONS
    from grader.targets import load_module_file

    section = Section("sec38_attention")
    module = load_module_file(section.module_file(SOLUTIONS), section.module)
    module.__name__ = section.module  # as the notebook imports it
    with contextlib.redirect_stdout(io.StringIO()):
        earned = nbs.grade_exercise(module, "memory_attention", "public")
        earned += nbs.grade_exercise(module, "memory_attention", "hidden")
    assert earned == points.budget(section.name, "memory_attention") == nbs.exercise_points(section)["memory_attention"]


def test_notebook_cells_without_hidden_tests_keep_the_hidden_share():
    """Oracle: the suite weights — where the hidden tests are absent (a student's repository), a
    notebook's public cell is worth budget × public / (public + hidden), as the module grade gives."""
    from grader import suite_weights
    from grader.notebooks import _case_points, collect_cases

    section = Section("sec39_attention_math")
    cases = collect_cases(section, "softmax", "public")
    weights = suite_weights.table()[section.name]["softmax"]
    worth = _case_points(section, "softmax", cases, [])
    budget = points.budget(section.name, "softmax")
    expected = budget * weights["public"] / (weights["public"] + weights["hidden"])
    assert sum(worth.values()) == pytest.approx(expected, rel=1e-12) and expected < budget


def test_suite_weights_sync_rewrites_a_stale_table_and_check_only_reports(tmp_path, monkeypatch):
    """Oracle: the file's own text — `release` rewrites a stale table, `release --check` leaves it."""
    from grader import suite_weights

    wanted = {"sec39_attention_math": {"softmax": {"hidden": 3.0, "public": 1.0}}}
    monkeypatch.setattr(suite_weights, "current", lambda: wanted)
    monkeypatch.setattr(suite_weights, "WEIGHTS_FILE", tmp_path / "suite_weights.json")
    suite_weights.WEIGHTS_FILE.write_text("{}\n", encoding="utf-8")
    assert suite_weights.sync(check=True) is True
    assert suite_weights.WEIGHTS_FILE.read_text(encoding="utf-8") == "{}\n", "--check must not write"
    assert suite_weights.sync() is True
    assert suite_weights.sync(check=True) is False
    assert suite_weights.table() == wanted
    suite_weights.table.cache_clear()
