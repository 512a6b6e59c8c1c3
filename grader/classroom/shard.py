"""One shard: clone its commits (``fetch``, the only step with a token), then grade them (``grade``,
no token: as root, so that the sandbox runs student code under an unprivileged uid).

``grade`` calls :func:`grader.batch.batch` on the folder of clones and leaves in ``OUT``:
``rows.json`` (one row per job, with the job's commit), ``reports/<id>.json`` (the full result,
kept by the instructor), ``reports/<id>.md`` (the Markdown report a student may see) and
``reports/<id>.gradescope.json`` (Gradescope's ``results.json``); the last two name hidden tests
without their parameters (:func:`without_hidden_parameters`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grader.classroom.plan import shard_jobs
from grader.classroom.remote import RemoteError, fetch_commit

FETCH_ERRORS = "_fetch_errors.json"


def fetch_shard(plan: dict, shard: int, dest: Path, base: str, token: str | None) -> dict[str, str]:
    """Clone every commit of ``shard`` into ``dest/<job id>``; returns job id → why it could not be cloned."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    errors = {}
    for job in shard_jobs(plan, shard):
        try:
            fetch_commit(base, job["repository"], job["sha"], dest / job["id"], token)
        except (RemoteError, OSError) as e:
            errors[job["id"]] = f"could not clone {job['sha'][:12]}: {e}"[:300]
    (dest / FETCH_ERRORS).write_text(json.dumps(errors, indent=1) + "\n", encoding="utf-8")
    return errors


def _official_seed() -> int:
    from grader.sections import SEED_ENV

    value = os.environ.get(SEED_ENV, "")
    if not value:
        raise SystemExit(f"grade: seed mode 'secret' needs ${SEED_ENV} (the course's secret seed)")
    try:
        return int(value)
    except ValueError:  # the message must not show the value: it is the secret
        raise SystemExit(f"grade: ${SEED_ENV} must be an integer") from None


def grade_shard(plan: dict, shard: int, submissions: Path, out: Path, *, sandbox: bool = True,
                only=None, jobs: int = 2, timeout: float = 900, batch_fn=None) -> list[dict]:  # fmt: skip
    """Grade the clones of ``shard``; ``batch_fn`` (default :func:`grader.batch.batch`) is replaceable in tests."""
    from grader.batch import batch

    batch_fn = batch_fn or batch
    submissions, out = Path(submissions), Path(out)
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    mine = {j["id"]: j for j in shard_jobs(plan, shard)}
    errors_file = submissions / FETCH_ERRORS
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.is_file() else {}
    secret = plan["seed"] == "secret"
    seed = _official_seed() if secret else 0
    rows = []
    if any((submissions / i).is_dir() for i in mine):
        rows = batch_fn(submissions, out / "batch.csv", jobs=jobs, seed=seed, reports=reports,
                        only=only or plan.get("sections"),
                        sandbox=sandbox, timeout=timeout, hidden=plan["hidden"])  # fmt: skip
    by_id = {r["student"]: r for r in rows}
    result = []
    for job_id, job in mine.items():
        row = dict(by_id.get(job_id) or {"score": 0, "max_score": "", "status": errors.get(job_id, "not cloned")})
        row.pop("student", None)
        report = reports / f"{job_id}.json"
        if report.is_file():
            data = json.loads(report.read_text(encoding="utf-8"))
            if secret:  # the official seed never leaves the grading step
                data["seed"] = "secret"
                report.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            shown = without_hidden_parameters(data)
            (reports / f"{job_id}.md").write_text(_markdown(shown), encoding="utf-8")
            _gradescope(shown, reports / f"{job_id}.gradescope.json")
        result.append({**job, "row": row, "seed": plan["seed"], "hidden": plan["hidden"]})
    (out / "rows.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def result_from_dict(data: dict):
    """The result model back from its JSON report."""
    from grader.results import ExerciseResult, GradeResult, SectionResult, TestResult

    sections = [
        SectionResult(
            name=s["name"],
            problems=list(s.get("problems", [])),
            seconds=s.get("seconds", 0.0),
            exercises=[ExerciseResult(e["name"], [TestResult(**t) for t in e["tests"]]) for e in s["exercises"]],
        )
        for s in data["sections"]
    ]
    seed = data.get("seed")
    result = GradeResult(target=data.get("target", ""), sections=sections, hidden_included=data["hidden_included"],
                         seed=None if seed == "secret" else seed, sandboxed=data.get("sandboxed", True),
                         tampered=list(data.get("tampered", [])))  # fmt: skip
    return result


def without_hidden_parameters(data: dict) -> dict:
    """A copy of the report in which each hidden test's parametrize id (``test_x[float64-1000.0]``: the
    hidden inputs themselves) becomes its case number (``test_x (case 2)``). The reports a student may see
    are built from this copy; the instructor's JSON keeps the ids."""
    from grader.results import shown_names

    data = json.loads(json.dumps(data))
    for section in data["sections"]:
        for exercise in section["exercises"]:
            tests = exercise["tests"]
            for test, name in zip(tests, shown_names([(t["name"], t.get("hidden", False)) for t in tests])):
                test["name"] = name
    return data


def _gradescope(data: dict, path: Path) -> None:
    from grader.report.gradescope import write_gradescope

    write_gradescope(result_from_dict(data), path)


def _markdown(data: dict) -> str:
    from grader.report.markdown import render_markdown

    return render_markdown(result_from_dict(data))
