"""Run tasks on N threads, longest expected cost first, and report each group of tasks once it is done.

Grading is made of (submission, section) pairs whose cost is known in advance from the reference's
measured time (``grader/time_budget.json``). Starting the longest tasks first, across all groups on
one shared pool, keeps every thread busy until the end: no long task starts last while the other
threads idle, and a group whose tasks all run long (a hanging submission) occupies one thread per
task in turn, not one thread for all of its tasks. A group is whatever the caller groups by (a
submission); its callback fires once, after its last task, so per-group work (a report, a CSV row)
happens as soon as the group is complete.

Ties keep the order in which the tasks were given; a task's exception is kept in its :class:`Done`
and never stops the other tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    group: Hashable  # tasks of one group are reported together
    cost: float  # expected seconds: the order of starting, longest first
    work: Callable[[], Any]


@dataclass
class Done:
    task: Task
    value: Any = None
    error: Exception | None = None  # what ``work`` raised (then ``value`` is None)
    seconds: float = 0.0  # wall time of ``work``


GroupCallback = Callable[[Hashable, list[Done]], None]


def longest_first(tasks: list[Task]) -> list[int]:
    """Positions of ``tasks`` in starting order: highest cost first, ties in the given order."""
    return sorted(range(len(tasks)), key=lambda i: -tasks[i].cost)


def run_task(task: Task) -> Done:
    start = time.monotonic()
    try:
        value = task.work()
    except Exception as e:  # noqa: BLE001 - one failing task never stops the others
        return Done(task, error=e, seconds=time.monotonic() - start)
    return Done(task, value=value, seconds=time.monotonic() - start)


def positions_by_group(tasks: list[Task]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(task.group, []).append(i)
    return groups


def run_longest_first(
    tasks: Iterable[Task], jobs: int, on_group: GroupCallback | None = None
) -> dict[Hashable, list[Done]]:
    """Run ``tasks`` on ``jobs`` threads, longest first. ``on_group(group, dones)`` is called in the
    calling thread once per group, as soon as its last task has finished, with the group's results
    in the order its tasks were given. Returns every group's results (same order), groups in the
    order of their first task. An exception of ``on_group`` is raised after the remaining tasks have run."""
    tasks = list(tasks)
    groups = positions_by_group(tasks)
    left = {group: len(positions) for group, positions in groups.items()}
    dones: list[Done | None] = [None] * len(tasks)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # its queue is FIFO: starts in this order
        futures = {pool.submit(run_task, tasks[i]): i for i in longest_first(tasks)}
        for future in as_completed(futures):
            done = dones[futures[future]] = future.result()
            left[done.task.group] -= 1
            if left[done.task.group] == 0 and on_group is not None:
                on_group(done.task.group, [dones[i] for i in groups[done.task.group]])
    return {group: [dones[i] for i in positions] for group, positions in groups.items()}
