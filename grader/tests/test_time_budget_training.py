"""Training limits are CPU-seconds of the process that trained, never wall time: a training that
waits (a loaded machine stretches wall time) passes, one that burns CPU beyond the limit fails, both
in-process and through the sandbox (where the worker measures its own CPU time around the call)."""

from __future__ import annotations

import textwrap
import time

import pytest

from grader.hidden.training import Trained
from grader.sandbox.pool import SandboxConfig, SandboxTarget
from grader.sections import Section

TOY = Section("sec98_trainer")
SOURCE = """
import time

def wait(seconds):
    time.sleep(seconds)
    return "waited"

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "burnt"
"""


def burn(seconds: float) -> str:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "burnt"


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    (root / TOY.name).mkdir()
    (root / TOY.name / "trainer.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    target = SandboxTarget(TOY, root, SandboxConfig(call_timeout=30))
    yield target
    target.close()


def test_in_process_waiting_is_not_cpu_time():
    # oracle: time.sleep uses no CPU; the wall time is still reported
    trained = Trained(lambda: time.sleep(0.6))
    assert trained.seconds >= 0.6 and trained.cpu_seconds < 0.3
    trained.within(0.3, "waiting", "")


def test_in_process_burning_over_the_limit_fails():
    trained = Trained(lambda: burn(0.5))
    assert trained.cpu_seconds >= 0.5
    with pytest.raises(AssertionError, match=r"burning used 0\.\d CPU-seconds \(limit 0\.2 CPU-seconds"):
        trained.within(0.2, "burning", "")


def test_sandboxed_cpu_seconds_are_the_workers(trainer):
    # oracle: the worker's own CPU time of the call (os.times), not the grader's and not wall time
    trainer.wait(0)  # the worker has started: its start-up is not part of the next call
    waited = Trained(lambda: trainer.wait(0.6), trainer)
    assert waited.get() == "waited" and waited.seconds >= 0.6 and waited.cpu_seconds < 0.3
    burnt = Trained(lambda: trainer.burn(0.5), trainer)
    assert burnt.get() == "burnt" and burnt.cpu_seconds >= 0.5
    with pytest.raises(AssertionError, match="limit 0.2 CPU-seconds"):
        burnt.within(0.2, "burning", "")


def test_a_failed_training_keeps_no_figure_of_an_earlier_call(trainer):
    trainer.burn(0.3)

    def broken():
        raise RuntimeError("not implemented yet")

    trained = Trained(broken, trainer)
    with pytest.raises(RuntimeError, match="not implemented yet"):
        trained.get()
    assert trained.cpu_seconds < 0.2  # measured here (in-process), not the 0.3 s of the burn before
