"""Step 3 — judge: turn the raw test records of each section into the result model with points."""

from __future__ import annotations

from grader import forbidden
from grader.collect import SectionJob
from grader.results import ExerciseResult, SectionResult, TestResult
from grader.run import RunOutcome

NOT_RUN_MESSAGE = "not run: the test run stopped before this test"


def judge_section(job: SectionJob, outcome: RunOutcome) -> SectionResult:
    """Points for passed tests only; a test that did not run scores 0 and says why."""
    result = SectionResult(
        job.section.name, problems=[*job.problems, *outcome.problems], seconds=outcome.seconds, sandbox=outcome.sandbox
    )
    by_name: dict[str, ExerciseResult] = {}
    for record in outcome.records:
        exercise = record.get("exercise") or "(untagged)"
        if exercise not in by_name:
            by_name[exercise] = ExerciseResult(exercise)
            result.exercises.append(by_name[exercise])
        status = record["status"]
        message = record.get("message", "")
        if status == "not run":
            message = NOT_RUN_MESSAGE
        elif status != "passed" and job.problems and not message:
            message = job.problems[0]
        points = float(record.get("points", 0))
        by_name[exercise].tests.append(
            TestResult(
                name=record["name"],
                status=status,
                score=points if status == "passed" else 0.0,
                max_score=points,
                message=message,
                hidden=bool(record.get("hidden")),
            )
        )
    for exercise, names in forbidden.scan_file(job.module_file, job.section.name).items():
        if exercise in by_name:
            for test in by_name[exercise].tests:
                test.score = 0.0
                if test.status == "passed":
                    test.status = "failed"
                test.message = forbidden.message(names)
    return result
