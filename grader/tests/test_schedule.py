"""The batch's scheduler (grader/schedule.py), with fake tasks that sleep (robust under CPU load):
longest first, sections of all submissions interleaved; a group's callback once, after its last
task; a failing task stops no other; and a hanging submission costs the batch no more than its
budget divided by the number of jobs — which grading one submission at a time (the schedule the
shared pool replaced, kept here as a deliberately wrong scheduler) does not achieve."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.schedule import Task, positions_by_group, run_longest_first, run_task


def recording(log: list, name, seconds: float = 0.0):
    def work():
        log.append(("start", name, time.monotonic()))
        time.sleep(seconds)
        log.append(("end", name, time.monotonic()))
        return name

    return work


def starts(log: list) -> list:
    return [name for what, name, _ in log if what == "start"]


def test_longest_first_across_groups_ties_in_given_order():
    log = []
    costs = {("a", "s1"): 1.0, ("a", "s2"): 3.0, ("b", "s1"): 1.0, ("b", "s2"): 3.0, ("b", "s3"): 2.0}
    tasks = [Task(group, cost, recording(log, (group, name))) for (group, name), cost in costs.items()]
    run_longest_first(tasks, jobs=1)
    assert starts(log) == [("a", "s2"), ("b", "s2"), ("b", "s3"), ("a", "s1"), ("b", "s1")]


def test_results_per_group_in_the_given_order():
    tasks = [Task(g, cost, recording([], (g, cost))) for g, cost in (("a", 1), ("b", 5), ("a", 2), ("b", 0))]
    done = run_longest_first(tasks, jobs=2)
    assert list(done) == ["a", "b"]
    assert [d.value for d in done["a"]] == [("a", 1), ("a", 2)]
    assert [d.value for d in done["b"]] == [("b", 5), ("b", 0)]


def test_group_callback_once_right_after_its_last_task():
    log, calls = [], []
    tasks = [Task("long", 9, recording(log, "long", 0.6))]
    tasks += [Task("short", 1, recording(log, ("short", i), 0.05)) for i in range(3)]
    tasks += [Task("mid", 2, recording(log, ("mid", i), 0.1)) for i in range(2)]

    def on_group(group, dones):
        calls.append((group, time.monotonic(), [d.value for d in dones], threading.current_thread()))

    run_longest_first(tasks, jobs=2, on_group=on_group)
    assert sorted(group for group, *_ in calls) == ["long", "mid", "short"]
    ends = {name: at for what, name, at in log if what == "end"}
    given = {"long": ["long"], "short": [("short", i) for i in range(3)], "mid": [("mid", i) for i in range(2)]}
    for group, at, values, thread in calls:
        assert values == given[group]  # all its tasks' results, in the order given
        assert at >= max(ends[v] for v in values)  # after the group's last task
        assert thread is threading.main_thread()  # in the caller's thread: no lock needed
    called = {group: at for group, at, *_ in calls}
    assert called["short"] < ends["long"] and called["mid"] < ends["long"]  # not held back by others


def test_a_failing_task_stops_no_other():
    log, calls = [], []

    def broken():
        raise RuntimeError("grader bug")

    tasks = [Task("a", 5, broken), *(Task(g, 1, recording(log, (g, i), 0.02)) for g in "ab" for i in range(3))]
    done = run_longest_first(tasks, jobs=2, on_group=lambda group, dones: calls.append(group))
    assert sorted(calls) == ["a", "b"]
    assert len(starts(log)) == 6
    assert isinstance(done["a"][0].error, RuntimeError) and done["a"][0].value is None
    assert all(d.error is None and d.value is not None for d in done["a"][1:] + done["b"])


# --- a hanging submission ------------------------------------------------------------------------

JOBS = 2
SECTIONS = (0.45, 0.25, 0.15, 0.05)  # expected seconds of each section (a fake section sleeps that long)
FACTOR = 3  # a hanging submission's section runs until its budget: FACTOR × its expected seconds
STUDENTS = 4
SLACK = 0.3  # thread start-up and wake-up delays of a loaded machine


def sleeper(seconds: float):
    return lambda: time.sleep(seconds)


def batch_tasks(hanging: str | None) -> list[Task]:
    """STUDENTS submissions of SECTIONS, in name order as a batch gives them, and maybe one that hangs."""
    names = sorted([f"s{i}" for i in range(STUDENTS)] + ([hanging] if hanging else []))
    factor = {name: FACTOR if name == hanging else 1 for name in names}
    return [Task(name, cost, sleeper(factor[name] * cost)) for name in names for cost in SECTIONS]


def one_submission_at_a_time(tasks, jobs, on_group=None):
    """The schedule before the shared pool, deliberately wrong: a thread per submission, its
    sections in turn (the longest first), so a hanging one holds its thread for all its sections."""
    groups = positions_by_group(tasks)

    def whole(positions):
        return [run_task(tasks[i]) for i in sorted(positions, key=lambda i: -tasks[i].cost)]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(zip(groups, pool.map(whole, groups.values())))


def hanging_cost(scheduler, hanging: str) -> float:
    """How much longer the batch takes with the hanging submission than without it (seconds)."""
    walls = []
    for tasks in (batch_tasks(None), batch_tasks(hanging)):
        start = time.monotonic()
        scheduler(tasks, JOBS)
        walls.append(time.monotonic() - start)
    return walls[1] - walls[0]


BOUND = FACTOR * sum(SECTIONS) / JOBS + SLACK  # its sections' budgets / jobs, + the slack


@pytest.mark.parametrize("hanging", ["a_hang", "z_hang"])  # graded first or last of the batch
def test_a_hanging_submission_costs_at_most_its_budget_divided_by_the_jobs(hanging):
    assert hanging_cost(run_longest_first, hanging) <= BOUND


def test_one_submission_at_a_time_fails_that_bound():
    """The mutant: when the hanging submission comes last, it runs alone on one thread at the end."""
    assert hanging_cost(one_submission_at_a_time, "z_hang") > BOUND
