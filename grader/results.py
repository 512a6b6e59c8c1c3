"""The result model: one grade = sections → exercises → tests. Every report format is a view of it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


def _total(values) -> float:
    """A sum of shares of budgets, exact to 1e-9 (4/7 + 24/7 is 4, not 3.9999999999999996)."""
    return round(math.fsum(values), 9) + 0.0


def shown_names(tests: list[tuple[str, bool]]) -> list[str]:
    """The names a student may see for one exercise's tests, given as (name, hidden) pairs: a hidden
    test's parametrize id (``test_x[float64-1000.0]``: pytest writes the hidden inputs into it) becomes
    its case number (``test_x (case 2)``); public names stay. Reports a student reads use these."""
    cases: dict[str, int] = {}
    shown = []
    for name, hidden in tests:
        base, bracket, _ = name.partition("[")
        if hidden and bracket:
            cases[base] = cases.get(base, 0) + 1
            name = f"{base} (case {cases[base]})"
        shown.append(name)
    return shown


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    status: str  # passed | failed | error | skipped | not run
    score: float
    max_score: float
    message: str = ""
    hidden: bool = False
    needs_core: bool = False  # an edge-case / property test: counts once the core tests pass
    gated: bool = False  # passed, but scored 0 because a core test of its exercise did not pass
    weight: float = 0.0  # the test's relative weight (its marker's ``points``)


@dataclass
class ExerciseResult:
    """Points are after scaling: an exercise is worth its budget (``grader/points.toml``), shared
    among its tests in proportion to their weights."""

    name: str  # the function's name
    tests: list[TestResult] = field(default_factory=list)
    budget: float | None = None  # points of the exercise (None: no budget, the weights are the points)
    public_max: float = 0.0  # the public tests' share of the budget

    @property
    def bonus(self) -> bool:
        """A bonus exercise: worth 0 points; its tests passed / total are shown instead."""
        return self.budget == 0

    @property
    def score(self) -> float:
        return _total(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return _total(t.max_score for t in self.tests)

    @property
    def official_max(self) -> float:
        """What the exercise is worth in the official grade: its budget (else what its tests are worth)."""
        return self.max_score if self.budget is None else self.budget

    @property
    def passed(self) -> int:
        """Tests that passed and counted (a gated test does not count)."""
        return sum(t.status == "passed" and not t.gated for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)


@dataclass
class SectionResult:
    name: str  # the folder's name, e.g. "sec39_attention_math"
    exercises: list[ExerciseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. "attention_math.py:12: syntax error"
    seconds: float = 0.0
    sandbox: dict = field(default_factory=dict)  # protections measured in the worker, output size

    @property
    def score(self) -> float:
        return _total(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return _total(e.max_score for e in self.exercises)

    @property
    def official_max(self) -> float:
        return _total(e.official_max for e in self.exercises)


@dataclass
class GradeResult:
    target: str  # what was graded (a folder)
    sections: list[SectionResult] = field(default_factory=list)
    hidden_included: bool = True
    seed: int | None = 0  # None: the official seed, kept secret
    sandboxed: bool = True
    tampered: list[str] = field(default_factory=list)  # protected files the submission changed

    @property
    def protections(self) -> dict:
        """What the sandbox measured in the workers (the first section that started one)."""
        for s in self.sections:
            if s.sandbox.get("protections"):
                return s.sandbox["protections"]
        return {}

    @property
    def score(self) -> float:
        return _total(s.score for s in self.sections)

    @property
    def max_score(self) -> float:
        return _total(s.max_score for s in self.sections)

    @property
    def official_max(self) -> float:
        """The official maximum of the sections graded; above ``max_score`` when only the public
        tests ran (they carry only their share of each budget)."""
        return _total(s.official_max for s in self.sections)

    @property
    def public_only(self) -> bool:
        """Only the public tests ran: the points are their share, the hidden tests grade the rest."""
        return not self.hidden_included

    def to_dict(self) -> dict:
        def section(s: SectionResult) -> dict:
            return {
                "name": s.name,
                "score": s.score,
                "max_score": s.max_score,
                "official_max_score": s.official_max,
                "problems": s.problems,
                "seconds": round(s.seconds, 2),
                "student_output_bytes": s.sandbox.get("output_bytes", 0),
                "exercises": [
                    {
                        "name": e.name,
                        "score": e.score,
                        "max_score": e.max_score,
                        "budget": e.budget,
                        "official_max_score": e.official_max,
                        "bonus": e.bonus,
                        "public_max": e.public_max,
                        "passed": e.passed,
                        "total": e.total,
                        "tests": [asdict(t) for t in e.tests],
                    }
                    for e in s.exercises
                ],
            }

        return {
            "target": self.target,
            "score": self.score,
            "max_score": self.max_score,
            "official_max_score": self.official_max,
            "hidden_included": self.hidden_included,
            "seed": self.seed if self.seed is not None else "secret",
            "sandboxed": self.sandboxed,
            "protections": protection_summary(self) if self.sandboxed else {},
            "tampered": self.tampered,
            "sections": [section(s) for s in self.sections],
        }


def protection_summary(result: GradeResult) -> dict:
    """The protections that were active, in words a report can show."""
    p = result.protections
    if not p:
        return {}
    limits = p.get("limits", {})
    return {
        "separate_uid": bool(p.get("separate_uid")),
        "grader_files_readable": bool(p.get("grader_files_readable")),
        "network": p.get("network", "unknown"),
        "pid_namespace": bool(p.get("pid_namespace")),
        "mount_namespace": bool(p.get("mount_namespace")),
        "hidden_paths": p.get("hidden_paths", []),
        "limits": limits,
        "no_new_privs": bool(p.get("no_new_privs")),
        "filesystem_view": p.get("filesystem_view") or "none",
        "landlock": bool(p.get("landlock")),
        "tmpfs": p.get("tmpfs", {}),
    }
