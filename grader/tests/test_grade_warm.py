"""The warm runner (grader/warm.py) gives a section run the same records as a new pytest process,
and a run that outlives its timeout is stopped and reported as before."""

from __future__ import annotations

import pytest

from grader.run import child_env, run_section
from grader.sections import SOLUTIONS, Section
from grader.warm import WarmRunner

SECTION = Section("sec38_attention")


@pytest.fixture(scope="module")
def runner():
    r = WarmRunner(child_env())
    yield r
    r.close()


def test_same_records_as_a_new_process(runner):
    warm = run_section(SECTION, str(SOLUTIONS), hidden=False, runner=runner)
    cold = run_section(SECTION, str(SOLUTIONS), hidden=False)
    assert not warm.problems and not cold.problems
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert strip(warm.records) == strip(cold.records) and len(warm.records) > 5


def test_timeout_stops_the_run(runner):
    outcome = run_section(SECTION, str(SOLUTIONS), hidden=True, runner=runner, timeout=0.5)
    assert any("did not finish within" in p for p in outcome.problems), outcome.problems
