"""Point budgets: what each exercise is worth (``grader/points.toml``) and how tests share it.

The table has one TOML table per section, ``exercise = budget``, and an optional
``bonus = ["name", ...]`` list of exercises worth 0. A test's marker gives only its relative
weight; :func:`shares` turns the weights of an exercise's tests into points that add up to the
budget. The module grade (``grader/judge.py``) and the notebooks' test cells
(``grader/notebooks.py``) both read the budgets from here, so a notebook cell is worth what the
module grade gives its exercise.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

POINTS_FILE = Path(__file__).resolve().parent / "points.toml"
BONUS_KEY = "bonus"
MIN_BUDGET, MAX_BUDGET = 2, 10


class PointsError(Exception):
    """The point table cannot be read (not TOML, a value that is not a number)."""


def read_table(path: Path = POINTS_FILE) -> dict[str, dict[str, float]]:
    """Section → exercise → budget (bonus exercises: 0). Raises :class:`PointsError` when the file
    is not a table of numbers; whether the numbers are allowed is :func:`value_problems`."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PointsError(f"{Path(path).name}: cannot be read: {e}") from None
    table: dict[str, dict[str, float]] = {}
    for section, entries in raw.items():
        if not isinstance(entries, dict):
            raise PointsError(f"{Path(path).name}: [{section}] should be a table of exercise = points")
        budgets: dict[str, float] = {}
        for name, value in entries.items():
            if name == BONUS_KEY:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PointsError(f"{Path(path).name}: [{section}] bonus should be a list of exercise names")
                for bonus in value:
                    if bonus in entries and entries[bonus] != 0:
                        raise PointsError(f"{Path(path).name}: [{section}] {bonus} is a bonus but has a budget")
                    budgets[bonus] = 0.0
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PointsError(f"{Path(path).name}: [{section}] {name} should be a number of points")
            else:
                budgets[name] = float(value)
        table[section] = budgets
    return table


@functools.cache
def budgets() -> dict[str, dict[str, float]]:
    """The course's table (read once per process)."""
    return read_table(POINTS_FILE)


def budget(section: str, exercise: str) -> float | None:
    """The budget of ``exercise`` in ``section``, or None when the table has none."""
    return budgets().get(section, {}).get(exercise)


def shares(budget_: float | None, weights: list[float]) -> list[float]:
    """The points of each test of one exercise: ``budget × weight / sum of weights``. Without a
    budget the weights are the points; when every weight is 0 the tests share the budget equally."""
    if budget_ is None:
        return [float(w) for w in weights]
    total = float(sum(weights))
    if not weights:
        return []
    if total <= 0:
        return [budget_ / len(weights)] * len(weights)
    return [budget_ * float(w) / total for w in weights]


def value_problems(table: dict[str, dict[str, float]]) -> list[str]:
    """Budgets that are not whole or half points from 2 to 10 (or 0 for a bonus)."""
    problems = []
    for section, entries in table.items():
        for name, value in entries.items():
            if value == 0:
                continue
            if not MIN_BUDGET <= value <= MAX_BUDGET or (2 * value) != int(2 * value):
                problems.append(
                    f"[{section}] {name} = {value:g}: budgets are whole or half points from "
                    f"{MIN_BUDGET} to {MAX_BUDGET} (0 for a bonus exercise)"
                )
    return problems


def suite_weights(records: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Section → exercise → {"public": weight, "hidden": weight} from the records of a pytest
    collection of the suites (``grader.pytest_plugin.ResultsRecorder``: one record per test, as
    pytest runs them, with its file, exercise and weight)."""
    from grader.sections import all_sections

    files = {}
    for section in all_sections():
        files[section.public_tests.name] = section.name
        files.update({path.name: section.name for path in section.hidden_test_files()})
    found: dict[str, dict[str, dict[str, float]]] = {name: {} for name in set(files.values())}
    for record in records:
        section = files.get(record.get("section_file", ""))
        if section is None or not record.get("exercise"):
            continue
        weights = found[section].setdefault(record["exercise"], {"public": 0.0, "hidden": 0.0})
        weights["hidden" if record.get("hidden") else "public"] += float(record.get("points", 0))
    return found


def validate(table: dict[str, dict[str, float]], tagged: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """What is wrong with ``table`` for the exercises the suites test (``tagged``, as
    :func:`suite_weights` gives): a tested exercise without a budget, a budget for an exercise
    (or section) without tests, a budget out of range, a budget the tests give no weight to."""
    problems = value_problems(table)
    for section, exercises in tagged.items():
        for name, weights in exercises.items():
            value = table.get(section, {}).get(name)
            if value is None:
                problems.append(f"[{section}] {name} has tests but no budget in {POINTS_FILE.name}")
            elif value > 0 and sum(weights.values()) <= 0:
                problems.append(f"[{section}] {name} = {value:g} but every test of it has points=0")
    for section, entries in table.items():
        if section not in tagged:
            problems.append(f"[{section}] is not a section of the course")
            continue
        for name in entries:
            if name not in tagged[section]:
                problems.append(f"[{section}] {name} has a budget but no test is marked with it")
    return problems
