"""Training runs shared by the tests: each training is run once per (target, function, arguments)
in a pytest process, and every test that needs it reads the same :class:`Trained` (an error is
re-raised in each test, so that an untouched skeleton fails every one of them with "not implemented
yet"). The public check (``tests/test_training_cpu.py``) and the hidden training suites use the
same run when they share a process (``tox``); the grader runs only the hidden suites.

Training limits are in CPU-seconds of the process that trained (:data:`CPU_LIMITS`), so that a
loaded machine, which stretches wall time, cannot fail a correct submission: for a sandboxed target
the worker measures its own CPU time around the call (``_last_call_facts["cpu_seconds"]``, see
``grader/sandbox/worker.py``); in-process, this process's CPU time around the call is used.
"""

from __future__ import annotations

import time

# CPU-seconds a training may use (the reference needs about a fifth of each, measured on a shared machine)
CPU_LIMITS = {"train_char_lm": 20.0, "train_reversal_attention": 15.0, "train_sorting_gpt": 30.0}


class Trained:
    def __init__(self, run, target=None):
        if isinstance(getattr(target, "_last_call_facts", None), dict):
            target._last_call_facts = {}  # no figure of an earlier call
        start, cpu = time.perf_counter(), time.process_time()
        try:
            self.result, self.error = run(), None
        except Exception as e:  # re-raised inside each test
            self.result, self.error = None, e
        self.seconds = time.perf_counter() - start  # wall time: reported, never a limit
        facts = getattr(target, "_last_call_facts", None)
        measured = facts.get("cpu_seconds") if isinstance(facts, dict) else None
        self.cpu_seconds = measured if measured is not None else time.process_time() - cpu

    def get(self):
        if self.error is not None:
            raise self.error
        return self.result

    def within(self, limit: float, what: str, hint: str = "") -> None:
        """Fail with a message naming the training, its CPU time and the limit when over it."""
        __tracebackhide__ = True
        assert self.cpu_seconds <= limit, (
            f"{what} used {self.cpu_seconds:.1f} CPU-seconds (limit {limit:g} CPU-seconds; "
            f"{self.seconds:.1f} s of wall time){hint}"
        )


_RUNS: dict[tuple, tuple[object, Trained]] = {}


def trained_once(target, name: str, kwargs: dict, run) -> Trained:
    """``Trained(run, target)`` for the first test that asks for (target, name, kwargs); the same
    object for every later one in this process."""
    key = (id(target), name, repr(sorted(kwargs.items())))
    if key not in _RUNS:
        _RUNS[key] = (target, Trained(run, target))  # the target is kept so that its id stays its own
    return _RUNS[key][1]
