"""The release step: stubs keep signatures, docstrings and indentation; exercises/ never drifts."""

from __future__ import annotations

import ast

import pytest
from helpers import run_cli

from grader.release import BEGIN, END, ReleaseError, release_exercises, stub_source
from grader.sections import EXERCISES, SOLUTIONS, all_sections

SOURCE = f'''
def f(x):
    """Doc of f."""
    y = x + 1
    {BEGIN}
    return y * 2
    {END}


class C:
    def method(self):
        if True:
            {BEGIN}
            return 1
            {END}
'''


def test_stub_replaces_region_with_not_implemented_at_its_indentation():
    out = stub_source(SOURCE)
    assert "return y * 2" not in out and "return 1" not in out
    assert '    raise NotImplementedError("f: your code here (see the docstring)")' in out
    assert '            raise NotImplementedError("method: your code here (see the docstring)")' in out
    assert '"""Doc of f."""' in out and "y = x + 1" in out
    ast.parse(out)  # still valid Python


def test_stub_of_source_without_markers_is_unchanged():
    assert stub_source("def g():\n    return 3\n") == "def g():\n    return 3\n"


@pytest.mark.parametrize(
    "bad",
    [f"def f():\n    {BEGIN}\n    return 1\n", f"def f():\n    {END}\n", f"def f():\n    {BEGIN}\n    {BEGIN}\n"],
    ids=["unclosed", "end-without-begin", "nested"],
)
def test_malformed_markers_are_rejected(bad):
    with pytest.raises(ReleaseError):
        stub_source(bad)


def test_committed_exercises_match_the_release():
    changed = release_exercises(check=True)
    assert not changed, f"exercises/ differs from the release of solutions/ (run `python -m grader release`): {changed}"


def test_release_check_command_reports_drift(tmp_path):
    # mutant: an edited copy of exercises/ must be reported
    import shutil

    dst = tmp_path / "exercises"
    shutil.copytree(EXERCISES, dst)
    section = all_sections()[0]
    target = section.module_file(dst)
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
    (dst / section.name / "stray.py").write_text("x = 1\n", encoding="utf-8")
    changed = release_exercises(SOLUTIONS, dst, check=True)
    assert str(target.relative_to(dst)) in changed
    assert any("stray.py" in c for c in changed)
    release_exercises(SOLUTIONS, dst)  # writing repairs it
    assert release_exercises(SOLUTIONS, dst, check=True) == []


def test_release_check_cli_exit_code():
    proc = run_cli("release", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("section", all_sections(), ids=lambda s: s.name)
def test_exercise_module_contains_no_solution_line(section):
    solution = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
    exercise = section.module_file(EXERCISES).read_text(encoding="utf-8")
    inside, leaked = False, []
    for line in solution.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and len(line.strip()) > 12 and line in exercise.splitlines():
            leaked.append(line.strip())
    assert not leaked, f"solution lines found in exercises/: {leaked[:3]}"


def test_release_of_one_section_writes_only_its_stub_modules(tmp_path):
    """Oracle: ``stub_source`` of each module of the section (what nbgrader's generate_assignment
    hook writes back); no other section and no non-module file is touched."""
    from grader.release import release_section_modules

    section = all_sections()[0]
    written = release_section_modules(SOLUTIONS, tmp_path, section.name)
    modules = sorted(p for p in (SOLUTIONS / section.name).glob("*.py"))
    assert sorted(written) == sorted(f"{section.name}/{p.name}" for p in modules)
    for path in modules:
        expected = stub_source(path.read_text(encoding="utf-8"), path.name)
        assert (tmp_path / section.name / path.name).read_text(encoding="utf-8") == expected, path.name
    assert [p.name for p in tmp_path.iterdir()] == [section.name]
    assert sorted(p.name for p in (tmp_path / section.name).iterdir()) == sorted(p.name for p in modules)
