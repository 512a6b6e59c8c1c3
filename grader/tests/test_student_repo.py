"""`python -m grader release --out DIR` writes a student repository that works as released:
no solutions or hidden tests in it, its test command collects the tests and fails them as
"not implemented", its grade command prints the table and exits 0."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys

import pytest
from helpers import run_cli

from grader.sections import REPO, all_sections
from grader.student_repo import leaked_lines, solution_regions


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    proc = run_cli("release", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def run_in(repo, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_release_leaves_out_solutions_and_hidden_tests(student_repo):
    for path in ("solutions", "grader/hidden", "grader/mutants", "grader/tests", "nbgrader_config.py"):
        assert not (student_repo / path).exists(), f"{path} must not be released"
    for path in ("README.md", "tox.ini", ".github/workflows/grade.yml", "requirements.txt", "conftest.py"):
        assert (student_repo / path).is_file(), f"{path} is missing from the release"
    for section in all_sections():
        assert section.module_file(student_repo / "exercises").is_file()
        assert (student_repo / "tests" / section.public_tests.name).is_file()


def test_release_contains_no_solution_text(student_repo):
    assert solution_regions(), "no solution regions found: the leak check would prove nothing"
    assert leaked_lines(student_repo) == []


def test_leak_check_finds_a_planted_solution(student_repo, tmp_path):
    # mutant: a release that carries one solution region must be caught
    region = max(solution_regions(), key=len)
    (tmp_path / "notes.py").write_text("\n".join("    " + line for line in region) + "\n", encoding="utf-8")
    assert leaked_lines(tmp_path)


def test_student_readme_and_tox_are_the_student_versions(student_repo):
    readme = (student_repo / "README.md").read_text(encoding="utf-8")
    assert "python -m grader grade" in readme and "solutions/" not in readme
    tox = configparser.ConfigParser()
    tox.read(student_repo / "tox.ini")
    assert tox["testenv:tests"]["commands"].strip() == "pytest -q {posargs}"


def test_released_tests_fail_as_not_implemented(student_repo):
    # the student tox env's command, run with this interpreter (tox itself would reinstall torch)
    proc = run_in(student_repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--results-json=results.json")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = json.loads((student_repo / "results.json").read_text(encoding="utf-8"))
    assert records and all(r["status"] == "failed" and "not implemented yet" in r["message"] for r in records)
    assert not any(r["hidden"] for r in records)


def test_released_grade_command_prints_table_and_exits_zero(student_repo):
    proc = run_in(student_repo, "-m", "grader", "grade")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "hidden tests" in proc.stdout  # the points are the public tests' share; the hidden ones grade the rest
    assert "Points 0/" in proc.stdout
    for section in all_sections():
        assert section.name in proc.stdout


def test_release_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "something").write_text("x", encoding="utf-8")
    proc = run_cli("release", "--out", str(tmp_path))
    assert proc.returncode == 2 and "not empty" in proc.stderr


def test_release_refuses_the_course_folder_itself():
    proc = run_cli("release", "--out", str(REPO / "solutions" / "new"))
    assert proc.returncode == 2


def test_untouched_release_reports_no_tampering(student_repo, tmp_path):
    from grader.tamper import locate

    _, findings = locate(student_repo)
    assert findings == []


def test_edited_student_tox_ini_is_reported(student_repo, tmp_path):
    # mutant: a student who edits the released tox.ini is flagged
    import shutil

    from grader.tamper import locate

    copy = tmp_path / "student"
    shutil.copytree(student_repo, copy)
    with open(copy / "tox.ini", "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    _, findings = locate(copy)
    assert findings == ["modified: tox.ini"]


def secrets_used(workflow_text: str) -> set[str]:
    """Every secret a workflow reads (``secrets.NAME`` or ``secrets['NAME']``)."""
    return set(re.findall(r"secrets\s*(?:\.\s*|\[\s*['\"])(\w+)", workflow_text))


def test_released_workflows_read_no_secret_but_github_token(student_repo):
    workflows = sorted((student_repo / ".github" / "workflows").iterdir())
    assert [w.name for w in workflows] == ["grade.yml"]  # the class workflow stays in the instructor repository
    for w in workflows:
        used = secrets_used(w.read_text(encoding="utf-8"))
        assert used <= {"GITHUB_TOKEN"}, f"{w.name} reads the secrets {sorted(used)}: a student could read them too"


def test_secret_check_sees_the_forms_a_workflow_can_use():
    # mutant: the former student workflow read the course token; both spellings must be seen
    assert secrets_used("TOKEN: ${{ secrets.COURSE_GRADER_TOKEN }}") == {"COURSE_GRADER_TOKEN"}
    assert secrets_used("TOKEN: ${{ secrets['COURSE_GRADER_TOKEN'] }}") == {"COURSE_GRADER_TOKEN"}
    assert secrets_used("TOKEN: ${{ secrets.GITHUB_TOKEN }}") == {"GITHUB_TOKEN"}
