"""GitHub Classroom's reporter format (``python -m grader classroom-result``), on real grades: the
step output ``result`` that ``autograding-grading-reporter`` reads (env ``<STEP ID>_RESULTS``, base64
JSON ``{version, status, max_score, tests: [{name, status, score, message, …}]}``) gives the same
``Points X/Y`` as the grade."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import run_cli

from grader.sections import EXERCISES, REPO, SOLUTIONS, all_sections

SEC = "sec38_attention"
SECTION = next(s for s in all_sections() if s.name == SEC)


def reporter_points(encoded: str) -> tuple[float, float, dict]:
    """What the grading reporter computes from one runner: Σ tests' score over the runner's max_score."""
    results = json.loads(base64.b64decode(encoded).decode("utf-8"))
    return sum(t["score"] for t in results["tests"]), results["max_score"], results


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """For the reference and the untouched release of §38 (public tests): the grade's ``Points`` line
    and the step output written to ``$GITHUB_OUTPUT``."""
    tmp = tmp_path_factory.mktemp("classroom_result")
    found = {}
    for which, source in (("reference", SOLUTIONS), ("untouched", EXERCISES)):
        sub = tmp / which
        (sub / SEC).mkdir(parents=True)
        shutil.copy(SECTION.module_file(source), SECTION.module_file(sub))
        proc = run_cli("grade", str(sub), "--public-only", "--section", SEC, "--json", str(tmp / f"{which}.json"))
        assert proc.returncode == 0, proc.stderr
        (points,) = re.findall(r"Points [\d.]+/[\d.]+", proc.stdout)
        gh_output = tmp / f"{which}.out"
        proc = run_cli("classroom-result", str(tmp / f"{which}.json"), env={"GITHUB_OUTPUT": str(gh_output)})
        assert proc.returncode == 0, proc.stderr
        (line,) = gh_output.read_text().splitlines()
        found[which] = (points, line, json.loads((tmp / f"{which}.json").read_text()))
    return found


@pytest.mark.parametrize("which", ["reference", "untouched"])
def test_reporter_reads_the_points_of_the_grade(outputs, which):
    """Oracle: the grade's JSON report (score, max_score) and its `Points X/Y` line (two decimals): the
    reporter's sum over the encoded output must give the same points."""
    points, line, report = outputs[which]
    name, _, value = line.partition("=")
    assert name == "result", "the reporter reads the step output named `result`"
    total, top, _ = reporter_points(value)
    assert total == pytest.approx(report["score"], rel=1e-12, abs=1e-12)
    assert top == pytest.approx(report["max_score"], rel=1e-12) and top > 0
    shown = [float(x) for x in re.findall(r"[\d.]+", points)]
    assert shown == [round(total, 2), round(top, 2)], f"encoded {total}/{top}, grade says {points}"


def test_statuses_and_fields_follow_the_reporter_format(outputs):
    """Oracle: the reporter's format — version 1, status pass/fail, per test name/status/score/message;
    the reference passes everything, the untouched release fails every exercise with a message."""
    _, _, ref = reporter_points(outputs["reference"][1].partition("=")[2])
    _, _, stub = reporter_points(outputs["untouched"][1].partition("=")[2])
    for results in (ref, stub):
        assert results["version"] == 1 and results["tests"]
        assert all({"name", "status", "score", "message"} <= set(t) for t in results["tests"])
    assert ref["status"] == "pass" and all(t["status"] == "pass" for t in ref["tests"])
    graded = [t for t in stub["tests"] if not t["name"].endswith("· problem")]
    assert stub["status"] == "fail" and all(t["status"] == "fail" and t["message"] for t in graded if t["score"] == 0)


def test_student_workflow_exposes_the_result_for_the_reporter():
    """Oracle: grade.yml — the grading step has id `grade` (env GRADE_RESULTS for the reporter) and runs
    classroom-result on the report it wrote; the job re-exports the output."""
    job = yaml.safe_load((REPO / ".github" / "workflows" / "grade.yml").read_text(encoding="utf-8"))["jobs"]["grade"]
    (step,) = [s for s in job["steps"] if s.get("id") == "grade"]
    assert "classroom-result reports/grade.json" in step["run"] and "--json reports/grade.json" in step["run"]
    assert job["outputs"]["result"] == "${{ steps.grade.outputs.result }}"


def test_a_broken_report_is_a_clear_error(tmp_path: Path):
    """Oracle: the command line — exit 2, the file named."""
    (tmp_path / "g.json").write_text("{}")
    proc = run_cli("classroom-result", str(tmp_path / "g.json"))
    assert proc.returncode == 2 and "g.json: not a grade report" in proc.stderr
