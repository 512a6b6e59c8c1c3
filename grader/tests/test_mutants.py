"""Every known-wrong implementation in grader/mutants/ loses points on the exercise it breaks,
and on that exercise only; the reference keeps full marks (so the suites can fail, and fail
precisely). Both run sandboxed, as real submissions are graded (the mutant is materialised as a
module file and imported only by the worker), so the suites give the same verdicts through the
sandbox's proxy as in-process."""

from __future__ import annotations

import pytest
from helpers import mutant_breaks

from grader.collect import SectionJob
from grader.judge import judge_section
from grader.run import run_section
from grader.sections import MUTANTS, SOLUTIONS, Section, all_sections

MUTANT_FILES = sorted(p for p in MUTANTS.glob("sec*/*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def zygote_env():
    """One zygote (NumPy + torch imported once) for every sandboxed run of this module."""
    from grader.sandbox.pool import ZYGOTE_ENV, Zygote

    z = Zygote()
    yield {ZYGOTE_ENV: z.path}
    z.close()


def judge_target(section: Section, impl: str, module_file, env=None) -> dict[str, tuple[float, float, int, int]]:
    outcome = run_section(section, f"sandbox:{impl}", hidden=True, seed=0, env=env)
    result = judge_section(SectionJob(section, module_file), outcome)
    assert not outcome.problems, outcome.problems
    return {e.name: (e.score, e.max_score, e.passed, e.total) for e in result.exercises}


@pytest.mark.parametrize("path", MUTANT_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mutant_loses_points_on_its_exercise_only(path, zygote_env):
    section = Section(path.parent.name)
    breaks, is_forbidden = mutant_breaks(path)
    scores = judge_target(section, f"mutant:{section.name}/{path.stem}", path, zygote_env)
    assert breaks in scores, f"{path.name}: BREAKS names {breaks!r}, which has no tests"
    score, max_score, passed, total = scores[breaks]
    if is_forbidden:
        assert score == 0, f"{path.name}: uses a forbidden shortcut but {breaks} kept {score}/{max_score}"
    elif max_score == 0:  # a bonus exercise (0 points): one of its tests must fail
        assert passed < total, f"{path.name}: the suites did not notice the bug in the bonus {breaks}"
    else:
        assert score < max_score, f"{path.name}: the suites did not notice the bug in {breaks}"
    others = {name: s for name, s in scores.items() if name != breaks and s[0] < s[1]}
    assert not others, f"{path.name} should break only {breaks}, but also lost points on {others}"


@pytest.mark.parametrize("section", all_sections(), ids=lambda s: s.name)
def test_reference_gets_full_marks_through_the_same_pipeline(section, zygote_env):
    scores = judge_target(section, "solutions", section.module_file(SOLUTIONS), zygote_env)
    lost = {name: s for name, s in scores.items() if s[0] < s[1]}
    assert not lost, f"the reference loses points on {lost}"


def test_every_section_has_mutants():
    have = {p.parent.name for p in MUTANT_FILES}
    missing = [s.name for s in all_sections() if s.name not in have]
    assert not missing, f"sections without mutants: {missing}"
