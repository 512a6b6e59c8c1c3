"""The result model: one grade = sections → exercises → tests. Every report format is a view of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    status: str  # passed | failed | error | skipped | not run
    score: float
    max_score: float
    message: str = ""
    hidden: bool = False


@dataclass
class ExerciseResult:
    name: str  # the function's name
    tests: list[TestResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


@dataclass
class SectionResult:
    name: str  # the folder's name, e.g. "sec39_attention_math"
    exercises: list[ExerciseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. "attention_math.py:12: syntax error"
    seconds: float = 0.0
    sandbox: dict = field(default_factory=dict)  # protections measured in the worker, output size

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)


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
        return sum(s.score for s in self.sections)

    @property
    def max_score(self) -> float:
        return sum(s.max_score for s in self.sections)

    def to_dict(self) -> dict:
        def section(s: SectionResult) -> dict:
            return {
                "name": s.name,
                "score": s.score,
                "max_score": s.max_score,
                "problems": s.problems,
                "seconds": round(s.seconds, 2),
                "student_output_bytes": s.sandbox.get("output_bytes", 0),
                "exercises": [
                    {"name": e.name, "score": e.score, "max_score": e.max_score, "tests": [asdict(t) for t in e.tests]}
                    for e in s.exercises
                ],
            }

        return {
            "target": self.target,
            "score": self.score,
            "max_score": self.max_score,
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
    }
