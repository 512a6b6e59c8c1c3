"""The nbgrader notebooks, with real nbgrader: release, autograde, feedback, execution.

Slow (each autograde starts a kernel per notebook): run with ``pytest grader/tests/test_notebooks.py``
(the ``notebooks`` tox env). The round trip works in a temporary course folder whose source is the
repository's ``solutions/``; submissions are copies of ``exercises/`` (untouched, or with the
reference modules put in: "solved").
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import grade_json
from notebook_fixtures import RunAll, RunAllError, shared_grading, student_layout
from redteam import notebook_attacks

from grader import notebooks as nbs
from grader.release import release_exercises
from grader.sections import EXERCISES, REPO, SOLUTIONS, Section, all_sections

SECTIONS = nbs.notebook_sections()
SEC39 = "sec39_attention_math"


@pytest.fixture(scope="module")
def run_all(tmp_path_factory):
    """Run All of every section's released notebook, untouched and solved (notebook_fixtures.py)."""
    runs = RunAll(tmp_path_factory.mktemp("run-all"), SECTIONS)
    yield runs
    runs.close()


@pytest.fixture(scope="module")
def grading():
    """One sandbox zygote and warm runner for every autograde's module grades (notebook_fixtures.py)."""
    with shared_grading() as shared:
        yield shared


@pytest.fixture(scope="module", autouse=True)
def _run_all_starts_with_the_module(request):
    """Start the Run All worker at the module's first test, so it runs beside the round trip."""
    if any("run_all" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("run_all")


def _copy_exercises(dst: Path, *, solved: bool) -> Path:
    shutil.copytree(EXERCISES, dst, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    if solved:  # the reference module, and an answer to every written question
        for section in SECTIONS:
            module = Section(section).module_file(SOLUTIONS)
            shutil.copyfile(module, dst / section / module.name)
            path = nbs.notebook_path(dst, section)
            nb = nbformat.read(str(path), as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = "注意機構は質問と検索キーの類似度で値を重み付けします。"
            nbformat.write(nb, str(path))
    return dst


def _auto_max(section: str) -> float:
    """Points of the autograded test cells of a section's notebook."""
    nb = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section))
    return sum(
        float(c.metadata["nbgrader"]["points"])
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    )


def _hostile_submission(dst: Path) -> Path:
    """The hostile notebook attack (``redteam/notebook_attacks.py``) on an untouched copy."""
    sub = _copy_exercises(dst, solved=False)
    notebook_attacks.hostile_notebook(sub)
    return sub


def _solution_lines(section: str) -> list[str]:
    """Lines of the reference module that the released stub does not have."""
    ref = Section(section).module_file(SOLUTIONS).read_text(encoding="utf-8").splitlines()
    stub = set(Section(section).module_file(EXERCISES).read_text(encoding="utf-8").splitlines())
    return [line.strip() for line in ref if len(line.strip()) >= 24 and line not in stub]


def _text_of_html(path: Path) -> str:
    """What a reader of the feedback sees: tags removed, entities decoded."""
    raw = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def _hidden_lines(section: str) -> list[str]:
    lines = []
    for cell in nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section)).cells:
        inside = False
        for line in cell.source.splitlines():
            if nbs.HIDDEN_BEGIN in line:
                inside = True
            elif nbs.HIDDEN_END in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


# --- fast checks: notebooks, points, figures, release ---------------------------------------


def test_every_section_has_a_notebook():
    sections = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name.startswith("sec"))
    assert SECTIONS == sections


@pytest.mark.parametrize("section", SECTIONS)
def test_test_cells_carry_the_module_grade_points(section):
    """One autograded cell per exercise, worth the public + hidden points of that exercise
    (exercises worth 0 points — bonus — get an ungraded cell)."""
    points = {ex: p for ex, p in nbs.exercise_points(Section(section)).items() if p > 0}
    nb = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section))
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            m = re.search(r'grade_exercise\(\w+, "(\w+)", "public"\)', cell.source)
            assert m, f"{meta['grade_id']}: a test cell must call grade_exercise(..., 'public')"
            exercise = m.group(1)
            assert f'grade_exercise({Section(section).module}, "{exercise}", "hidden")' in cell.source
            assert (
                cell.source.index(nbs.HIDDEN_BEGIN) < cell.source.index('"hidden"') < cell.source.index(nbs.HIDDEN_END)
            )
            assert meta["locked"], f"{meta['grade_id']} must be locked"
            cells[exercise] = float(meta["points"])
    assert cells == points


@pytest.mark.parametrize("section", SECTIONS)
def test_each_notebook_has_a_manually_graded_written_question(section):
    nb = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section))
    manual = [
        c
        for c in nb.cells
        if c.cell_type == "markdown"
        and c.metadata.get("nbgrader", {}).get("solution")
        and c.metadata["nbgrader"].get("grade")
    ]
    assert manual and all(c.metadata["nbgrader"]["points"] > 0 for c in manual)


@pytest.mark.parametrize("section", SECTIONS)
def test_notebook_figures_exist_and_travel_with_the_notebook(section):
    names = nbs.figures_of(nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section)))
    assert names, "a notebook shows the section's figures"
    for name in names:
        assert (nbs.FIGURES / name).is_file(), f"{name}: not in figures/"
        for root in (SOLUTIONS, EXERCISES):
            copy = root / section / "figures" / name
            assert copy.is_file(), f"{copy} missing: run python -m grader release"
            assert copy.read_bytes() == (nbs.FIGURES / name).read_bytes(), f"{copy} is stale"


def test_released_notebooks_have_no_hidden_tests_and_no_model_answers():
    for section in SECTIONS:
        released = nbs.read_notebook(nbs.notebook_path(EXERCISES, section))
        text = "\n".join(c.source for c in released.cells)
        assert nbs.HIDDEN_BEGIN not in text and '"hidden")' not in text
        source = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, section))
        for cell in source.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert cell.source.strip() not in text


def test_notebook_drift_is_detected(tmp_path):
    # mutant: a hand-edited released notebook and a stray notebook must be reported
    dst = tmp_path / "exercises"
    shutil.copytree(EXERCISES, dst)
    path = nbs.notebook_path(dst, SEC39)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nb.cells[1].execution_count = 7  # volatile: ignored
    nbformat.write(nb, str(path))
    shutil.copyfile(path, dst / SEC39 / "stray.ipynb")
    changed = nbs.release_notebooks(SOLUTIONS, dst, check=True)
    assert f"{SEC39}/{SEC39}.ipynb" in changed
    assert any("stray.ipynb" in c for c in changed)
    release_exercises(SOLUTIONS, dst)
    assert release_exercises(SOLUTIONS, dst, check=True) == []


def test_volatile_fields_are_not_drift(tmp_path):
    dst = tmp_path / "exercises"
    shutil.copytree(EXERCISES, dst)
    path = nbs.notebook_path(dst, SEC39)
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 3
            cell.outputs = [nbformat.v4.new_output("stream", text="hello")]
            cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.99"}
    nbformat.write(nb, str(path))
    assert nbs.release_notebooks(SOLUTIONS, dst, check=True) == []


def test_invalid_json_gets_a_clear_message(tmp_path):
    path = tmp_path / "broken.ipynb"
    text = nbs.notebook_path(EXERCISES, SEC39).read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(nbs.NotebookError) as e:
        nbs.read_notebook(path)
    msg = str(e.value)
    assert "broken.ipynb" in msg and "not valid JSON" in msg and "line" in msg and "column" in msg
    assert "Traceback" not in msg


def test_runner_matches_the_pytest_collection():
    """The runner sees the same tests (parametrisations included) and points as pytest (one
    collection of every section's test files, each node given to the section of its file)."""
    sections = all_sections()
    section_of = {str(p.relative_to(REPO)): s.name for s in sections for p in (s.public_tests, *s.hidden_test_files())}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *section_of],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    collected = {s.name: set() for s in sections}
    for line in proc.stdout.splitlines():
        if "::" in line:
            path, name = line.split("::", 1)
            collected[section_of[path]].add(name)
    for s in sections:
        ours = {c.name for suite in ("public", "hidden") for c in nbs.collect_cases(s, None, suite)}
        assert ours == collected[s.name], f"{s.name}: runner {sorted(ours ^ collected[s.name])[:5]}"


def test_runner_failure_names_function_and_property():
    sys.path.insert(0, str(EXERCISES / SEC39))
    try:
        import attention_math  # the untouched skeleton
    finally:
        sys.path.pop(0)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        score = nbs.grade_exercise(attention_math, "softmax", "public")
    assert score == 0
    text = out.getvalue()
    assert "softmax" in text and "not implemented yet" in text and "test_softmax_mask_gives_zero_weight" in text
    from grader import points

    assert f"配点 (budget) {points.budget(SEC39, 'softmax'):g} 点" in text, "the summary names the official budget"


# --- the generate → autograde → feedback round trip ------------------------------------------


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, grading):
    """Autograde, in one nbgrader course, every notebook of a solved and of an untouched release,
    and for §39 a submission that edited a locked test cell and one whose notebook is broken."""
    tmp = tmp_path_factory.mktemp("course")
    work = tmp / "course"
    solved = _copy_exercises(tmp / "solved", solved=True)
    untouched = _copy_exercises(tmp / "untouched", solved=False)

    tampered = _copy_exercises(tmp / "tampered", solved=False)
    path = nbs.notebook_path(tampered, SEC39)
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax":
            cell.source = "28.0  # full marks, please"
            cell.metadata["nbgrader"]["points"] = 1000
    nbformat.write(nb, str(path))

    hostile = _hostile_submission(tmp / "hostile")

    broken = _copy_exercises(tmp / "broken", solved=True)
    path = nbs.notebook_path(broken, SEC39)
    path.write_text(path.read_text(encoding="utf-8")[:500], encoding="utf-8")

    return {
        "work": work,
        "solved": nbs.autograde(solved, work, SECTIONS, student="solved", **grading),
        "untouched": nbs.autograde(untouched, work, SECTIONS, student="untouched", **grading),
        "tampered": nbs.autograde(tampered, work, [SEC39], student="tampered", **grading),
        "broken": nbs.autograde(broken, work, [SEC39], student="broken", feedback=False, **grading),
        "hostile": nbs.autograde(hostile, work, [SEC39], student="hostile", **grading),
    }


@pytest.mark.parametrize("section", SECTIONS)
def test_solution_autogrades_to_full_marks(round_trip, section):
    grade = round_trip["solved"][section]
    assert not grade.problems
    auto = {k: v for k, v in grade.cells.items() if k.startswith("test_")}
    assert all(score == top for score, top in auto.values()), auto
    assert grade.score == _auto_max(section)
    assert grade.needs_manual_grade  # the written answer waits for a person


@pytest.mark.parametrize("section", SECTIONS)
def test_untouched_release_autogrades_to_zero(round_trip, section):
    # autograde re-copies the source folder's files: the student's module must not be replaced
    grade = round_trip["untouched"][section]
    assert grade.score == 0.0, grade.cells
    assert grade.max_score == _auto_max(section) + sum(
        top for name, (_, top) in grade.cells.items() if not name.startswith("test_")
    )
    autograded = round_trip["work"] / "autograded" / "untouched" / section
    module = Section(section).module_file(autograded.parent)
    assert module.read_bytes() == Section(section).module_file(EXERCISES).read_bytes()


def test_edited_locked_test_cell_is_graded_with_the_original(round_trip):
    grade = round_trip["tampered"][SEC39]
    assert grade.cells["test_softmax"] == (0.0, nbs.exercise_points(Section(SEC39))["softmax"])
    autograded = nbs.read_notebook(nbs.notebook_path(round_trip["work"] / "autograded" / "tampered", SEC39))
    cell = next(c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax")
    assert "grade_exercise" in cell.source and "full marks, please" not in cell.source


def test_broken_notebook_is_reported_and_scores_zero(round_trip):
    grade = round_trip["broken"][SEC39]
    assert grade.score == 0.0
    assert grade.problems and "not valid JSON" in grade.problems[0]


@pytest.mark.parametrize("student", ["solved", "untouched", "tampered"])
def test_feedback_has_no_hidden_test_source(round_trip, student):
    for section, grade in round_trip[student].items():
        assert grade.feedback and grade.feedback.is_file()
        text = _text_of_html(grade.feedback)
        assert "BEGIN HIDDEN TESTS" not in text
        for line in _hidden_lines(section):
            assert line not in text, f"{section}: hidden test source in the feedback: {line}"
        assert "公式採点 (official grade, sandboxed)" in text  # the grader's verdict is shown


def test_hostile_notebook_gets_no_points_from_patching_the_helper(round_trip):
    # the kernel ran the student's module (which patches grade_exercise), but the cells' scores
    # come from the sandboxed module grade: an untouched module scores 0 whatever it patched
    grade = round_trip["hostile"][SEC39]
    auto = {k: v for k, v in grade.cells.items() if k.startswith("test_")}
    assert auto and all(score == 0 for score, _ in auto.values()), auto


def _spy_output(round_trip) -> str:
    nb = nbs.read_notebook(nbs.notebook_path(round_trip["work"] / "autograded" / "hostile", SEC39))
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_confined_kernel_cannot_read_grader_files_or_reach_the_network(round_trip):
    out = _spy_output(round_trip)
    assert "SPY denied" in out and "SPY read" not in out, out[-2000:]
    assert "SPY network closed" in out, out[-2000:]
    if os.getuid() == 0:
        assert "SPY uid 0" not in out  # its own unprivileged uid


def test_unconfined_kernel_would_read_them(tmp_path, grading):
    """The same spy in a trusted (unconfined) kernel reads the reference: the check above can fail."""
    sub = _hostile_submission(tmp_path / "hostile")
    nbs.autograde(sub, tmp_path / "course", [SEC39], student="hostile", feedback=False, trusted=True, **grading)
    nb = nbs.read_notebook(nbs.notebook_path(tmp_path / "course" / "autograded" / "hostile", SEC39))
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "SPY read" in out


def test_hostile_feedback_quotes_no_line_of_the_solutions_or_hidden_tests(round_trip):
    text = _text_of_html(round_trip["hostile"][SEC39].feedback)
    secret = _solution_lines(SEC39) + [
        line.strip()
        for path in Section(SEC39).hidden_test_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line.strip()) >= 24
    ]
    # what students have anyway: the public tests, the released module and notebook
    released = nbs.read_notebook(nbs.notebook_path(EXERCISES, SEC39))
    public = {
        line.strip()
        for text_ in [
            Section(SEC39).public_tests.read_text(encoding="utf-8"),
            Section(SEC39).module_file(EXERCISES).read_text(encoding="utf-8"),
            *(c.source for c in released.cells),
        ]
        for line in text_.splitlines()
    }
    leaked = [line for line in secret if line in text and line not in public]
    assert not leaked, leaked[:5]


def test_autograde_refuses_when_the_kernel_cannot_be_confined(tmp_path, monkeypatch):
    monkeypatch.setattr(nbs, "kernel_confinement_available", lambda: False)
    with pytest.raises(nbs.NotebookError, match="cannot confine the notebook kernel"):
        nbs.autograde(EXERCISES, tmp_path / "course", [SEC39])


def test_stock_feedback_would_leak_hidden_tests(round_trip, tmp_path):
    """nbgrader#1363: without grader.notebooks.HideHiddenTests the feedback shows hidden tests
    (proves that the check above can fail)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    course = nbs.Course(round_trip["work"])
    cfg = course.config()
    cfg.CourseDirectory.feedback_directory = str(tmp_path / "stock")
    cfg.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id, coursedir.student_id = SEC39, "solved"
    with nbs._nbgrader_environment():
        GenerateFeedback(coursedir=coursedir, config=cfg).start()
    text = _text_of_html(tmp_path / "stock" / "solved" / SEC39 / f"{SEC39}.html")
    assert "BEGIN HIDDEN TESTS" in text


def test_feedback_shows_the_figures(round_trip):
    feedback = round_trip["solved"][SEC39].feedback
    for name in nbs.figures_of(nbs.read_notebook(nbs.notebook_path(SOLUTIONS, SEC39))):
        assert f"figures/{name}" in feedback.read_text(encoding="utf-8")
        assert (feedback.parent / "figures" / name).is_file()


def test_notebook_scores_agree_with_the_module_grade(tmp_path, round_trip, grading):
    """A submission with a known-wrong function (a mutant appended to the reference module):
    each test cell scores what the module grade gives its exercise."""
    budgets = nbs.exercise_points(Section(SEC39))
    mutants = sorted((REPO / "grader" / "mutants" / SEC39).glob("*.py"))
    breaks = {p: re.search(r'^BREAKS = "(\w+)"', p.read_text(encoding="utf-8"), re.M) for p in mutants}
    mutant = next(  # a graded exercise's mutant (a bonus one is worth 0 and has no autograded cell)
        p
        for p in mutants
        if "FORBIDDEN" not in p.read_text(encoding="utf-8") and budgets.get(breaks[p].group(1), 0) > 0
    )
    sub = _copy_exercises(tmp_path / "mutant", solved=True)
    module = Section(SEC39).module_file(sub)
    module.write_text(
        module.read_text(encoding="utf-8") + "\n\n" + mutant.read_text(encoding="utf-8"), encoding="utf-8"
    )
    notebook = nbs.autograde(sub, round_trip["work"], [SEC39], student="mutant", feedback=False, **grading)[SEC39]
    result = grade_json(sub, tmp_path / "grade.json", "--section", SEC39)
    (section,) = result["sections"]
    module_scores = {e["name"]: e["score"] for e in section["exercises"] if budgets.get(e["name"], 0) > 0}
    cell_scores = {
        name.removeprefix("test_"): score for name, (score, _) in notebook.cells.items() if name.startswith("test_")
    }
    assert cell_scores == module_scores
    assert cell_scores[breaks[mutant].group(1)] < budgets[breaks[mutant].group(1)]  # the mutant lost points


# --- executing the released notebooks ----------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_released_notebook_runs_top_to_bottom_with_a_solved_module(run_all, section):
    """In a student-repository layout (the kernel finds `grader` from the notebook's folder)."""
    nb = run_all.executed(section, solved=True)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "まだ実装されていません" not in text, "a cell reached an unimplemented function"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook visualises the student's functions"


# --- nbgrader's own commands, run as its docs say (from a course root with nbgrader_config.py) ---------


def _cli_course(tmp_path: Path, config: str | None = None) -> Path:
    """A course root like this repository's, holding §39 only (a copy: the commands write into it)."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(SOLUTIONS / SEC39, course / "solutions" / SEC39, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(nbs.FIGURES, course / "figures", ignore=shutil.ignore_patterns("*.py", "__pycache__", "tests"))
    text = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    (course / "nbgrader_config.py").write_text(config(text) if config else text, encoding="utf-8")
    return course


def _nbgrader(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


def _tree(root: Path) -> dict[str, object]:
    """Relative path → bytes (notebooks: what the drift check compares) of a released section."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and path.name != "timestamp.txt":
            out[str(rel)] = nbs._normalized(nbs.read_notebook(path)) if path.suffix == ".ipynb" else path.read_bytes()
    return out


def _without_hooks(config: str) -> str:
    hooks = "c.GenerateAssignment.pre_convert_hook, c.GenerateAssignment.post_convert_hook = "
    assert hooks in config
    return config.replace(hooks, "_unused = ")


def test_nbgrader_generate_assignment_releases_what_grader_release_does(tmp_path):
    """Oracle: ``release_exercises`` (``python -m grader release``) of the same source. nbgrader's
    ``generate_assignment --force`` replaces the section folder; the committed config's hooks write
    the stub module back (and the figures and points); without them the module would be gone."""
    ours = tmp_path / "ours"
    stock = _cli_course(tmp_path / "stock", _without_hooks)
    shutil.copytree(EXERCISES / SEC39, stock / "exercises" / SEC39)  # a previous release
    _nbgrader(stock, "generate_assignment", SEC39, "--force", "--no-db")
    assert not (stock / "exercises" / SEC39 / f"{Section(SEC39).module}.py").exists(), "stock nbgrader keeps it?"

    course = _cli_course(tmp_path)
    release_exercises(course / "solutions", ours)
    shutil.copytree(EXERCISES / SEC39, course / "exercises" / SEC39)
    _nbgrader(course, "generate_assignment", SEC39, "--force", "--no-db")
    released, expected = _tree(course / "exercises" / SEC39), _tree(ours / SEC39)
    assert sorted(released) == sorted(expected), "nbgrader's release has other files than python -m grader release"
    for rel, content in expected.items():
        assert released[rel] == content, f"{rel}: nbgrader generate_assignment differs from python -m grader release"
    module = released[f"{Section(SEC39).module}.py"].decode("utf-8")
    assert "NotImplementedError" in module and not [line for line in _solution_lines(SEC39) if line in module]


class _Gradebook:
    """The two look-ups OverwriteCells makes, answered from the instructor's source notebook."""

    def __init__(self, source_cells):
        from types import SimpleNamespace

        self.cells = {
            c.metadata["nbgrader"]["grade_id"]: SimpleNamespace(
                name=c.metadata["nbgrader"]["grade_id"],
                cell_type=c.cell_type,
                source=c.source,
                locked=c.metadata["nbgrader"].get("locked", False),
                checksum=c.metadata["nbgrader"]["checksum"],
                max_score=c.metadata["nbgrader"].get("points", 0),
            )  # fmt: skip
            for c in source_cells
        }

    def find_source_cell(self, grade_id, notebook, assignment):
        return self.cells[grade_id]

    find_graded_cell = find_source_cell


@pytest.mark.parametrize("edited", [False, True])
def test_untouched_test_cells_autograde_without_a_checksum_warning(tmp_path, caplog, edited):
    """Oracle: the gradebook's checksums (nbgrader ``ComputeChecksums`` on the instructor's
    source, hidden tests included). nbgrader's ``OverwriteCells`` warns on every untouched test
    cell (its released version has no hidden tests); ``OverwriteReleasedCells`` warns only when
    the student changed a locked cell, and both give the original back."""
    import logging

    from nbgrader.preprocessors import ComputeChecksums, OverwriteCells

    source = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, SEC39))
    source, _ = ComputeChecksums().preprocess(source, {})
    tests = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade") and nbs.HIDDEN_BEGIN in c.source]
    released = nbs.read_notebook(nbs.notebook_path(EXERCISES, SEC39))
    if edited:
        cell = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax")
        cell.source = "28.0  # full marks, please"
    warned = {}
    for cls in (OverwriteCells, nbs.OverwriteReleasedCells):
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        pp = cls()
        pp.gradebook, pp.notebook_id, pp.assignment_id = _Gradebook(tests), SEC39, SEC39
        pp.log = logging.getLogger(f"overwrite.{cls.__name__}")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for i, cell in enumerate(nb.cells):
                if cell.metadata.get("nbgrader", {}).get("grade_id") in pp.gradebook.cells:
                    pp.preprocess_cell(cell, {}, i)
        warned[cls.__name__] = [r.getMessage() for r in caplog.records if "checksum" in r.getMessage()]
        restored = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader")}
        for cell in tests:
            assert restored[cell.metadata["nbgrader"]["grade_id"]] == cell.source, f"{cls.__name__}: not restored"
    assert len(warned["OverwriteCells"]) == len(tests), "stock nbgrader warns on every test cell with hidden tests"
    ours = warned["OverwriteReleasedCells"]
    if edited:
        assert len(ours) == 1 and "test_softmax" in ours[0], ours
    else:
        assert ours == [], f"an untouched release must autograde without checksum warnings: {ours}"


# --- Run All in a student's notebook -------------------------------------------------------------------


def _run_all(cells: list[str], folder: Path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = folder / "run_all.ipynb"
    nbformat.write(nb, str(path))
    return nbs.execute_notebook(path)


STUB = "def f():\n    raise NotImplementedError('f: your code here (see the docstring)')"


def test_run_all_goes_on_past_an_unimplemented_function(tmp_path):
    """Oracle: nbclient (as JupyterLab's Run All) stops at the first cell whose reply is an error.
    After ``import grader.notebooks`` a stub says so in one line and the next cells run; a cell
    that misses only what the stopped cell would have assigned goes on too."""
    nb = _run_all(["import grader.notebooks", STUB, "y = f()", "print(y)", "z = 1\nprint('ran', z)"], tmp_path)
    out = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    assert all(c.execution_count for c in nb.cells), "every cell ran"
    assert "まだ実装されていません (not implemented yet): f: your code here" in out[2]
    assert "y: " in out[3] and "ran 1" in out[4]
    assert not [o for c in nb.cells for o in c.outputs if o.output_type == "error"]


def test_run_all_still_stops_at_a_real_error(tmp_path):
    """A NameError of the student's own (not caused by a stub) keeps its traceback and stops Run All;
    and without the course's import a stub stops it (the handler is what goes on)."""
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="undefined_name"):
        _run_all(["import grader.notebooks", "print(undefined_name)", "print('not reached')"], tmp_path)
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        _run_all([STUB, "f()", "print('not reached')"], tmp_path)


def _queued_replies(cells: list[str]) -> list[str]:
    """Reply statuses when ``cells`` are sent at once with ``stop_on_error`` — how JupyterLab's Run
    All sends a notebook's cells: after an ``error`` reply ipykernel aborts the rest."""
    from jupyter_client.manager import start_new_kernel

    with nbs._nbgrader_environment():
        km, kc = start_new_kernel(kernel_name="python3")
    try:
        ids = [kc.execute(code, stop_on_error=True) for code in cells]
        replies = {}
        while not set(ids) <= set(replies):
            msg = kc.get_shell_msg(timeout=120)
            if msg["msg_type"] == "execute_reply":
                replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
        return [replies[i] for i in ids]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_run_all_as_jupyterlab_sends_it_goes_on_past_a_stub():
    """Oracle: ipykernel's ``stop_on_error`` (JupyterLab's Run All): with the course's import every
    cell is run; without it the cells after the stub are aborted."""
    cells = [STUB, "y = f()", "print(y)", "z = 1"]
    assert _queued_replies(["import grader.notebooks", *cells]) == ["ok"] * 5
    assert _queued_replies(cells) == ["ok", "error", "aborted", "aborted"]


@pytest.mark.parametrize("section", SECTIONS)
def test_untouched_release_runs_all_cells_and_scores_zero(run_all, section):
    """Oracle: nbclient's Run All (stops at an error reply) on the untouched release: every cell
    ran, unimplemented functions are named in one line, and every autograded cell's result is 0."""
    nb = run_all.executed(section, solved=False)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{section}: a cell did not run"
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "まだ実装されていません (not implemented yet)" in text
    for cell in code:
        if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution"):
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert results and float(results[-1]["data"]["text/plain"]) == 0.0, cell.metadata["nbgrader"]["grade_id"]


def test_run_all_that_stops_in_the_worker_fails_the_test_that_reads_it(tmp_path):
    """The Run All tests above read notebooks executed in the fixture's worker process: a notebook
    whose Run All stops there (a real error after the setup cell) must fail the test that reads it."""
    path = student_layout(tmp_path, SEC39, solved=True)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("print(undefined_name)"))
    nbformat.write(nb, str(path))
    runs = RunAll(tmp_path / "none", [])
    try:
        runs.submit(SEC39, True, path)
        with pytest.raises(RunAllError, match="undefined_name"):
            runs.executed(SEC39, solved=True)
    finally:
        runs.close()


# --- the instructor's nbgrader workflow, command by command (README "For instructors") ------------


def _student_repo(repos: Path, name: str, released: Path, *, answered: bool, edit_locked: bool = False) -> Path:
    """A student's repository as handed in: exercises/<section>/ (plus tests/), one git commit. The
    module stays the released stub (scores of solved modules: the round trip above; the reference's
    training tests would make this test minutes long on a loaded machine)."""
    repo = repos / name
    shutil.copytree(released, repo / "exercises" / SEC39)
    (repo / "tests").mkdir()
    path = nbs.notebook_path(repo / "exercises", SEC39)
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if answered and cell.cell_type == "markdown" and meta.get("solution"):
            cell.source = "注意機構は質問と検索キーの類似度で値を重み付けします。"
        if edit_locked and meta.get("grade_id") == "test_softmax":
            cell.source = "28.0  # full marks, please"
    nbformat.write(nb, str(path))
    git = ["git", "-C", str(repo), "-c", "user.name=s", "-c", "user.email=s@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "hand in"]):
        subprocess.run(git + args, check=True, capture_output=True, timeout=60)
    return repo


def test_collect_takes_repositories_and_bare_folders_and_names_students_by_folder(tmp_path):
    """Oracle: the folders written by hand. A repository (exercises/<section>/) and a bare folder
    (<section>/) both land in submitted/<student>/<section>/; a missing section is listed, a folder
    whose name is no student id is skipped, a previous copy is replaced, caches are left out."""
    from grader.nbgrader_collect import collect

    repos, course = tmp_path / "repos", tmp_path / "course"
    (repos / "ch6-alice" / "exercises" / SEC39 / "__pycache__").mkdir(parents=True)
    (repos / "ch6-alice" / "exercises" / SEC39 / "attention_math.py").write_text("# alice\n")
    (repos / "ch6-alice" / "exercises" / SEC39 / "__pycache__" / "x.pyc").write_bytes(b"")
    (repos / "ch6-alice" / "tests").mkdir()
    (repos / "ch6-bob" / SEC39).mkdir(parents=True)
    (repos / "ch6-bob" / SEC39 / "attention_math.py").write_text("# bob\n")
    (repos / "ch6-bad name").mkdir()
    stale = course / "submitted" / "alice" / SEC39 / "stale.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    found = collect(repos, course, [SEC39, "sec40_transformer"], prefix="ch6-")
    assert sorted(found.copied) == [("alice", SEC39), ("bob", SEC39)]
    assert sorted(found.missing) == [("alice", "sec40_transformer"), ("bob", "sec40_transformer")]
    assert found.skipped == ["ch6-bad name"]
    for student in ("alice", "bob"):
        folder = course / "submitted" / student / SEC39
        assert (folder / "attention_math.py").read_text() == f"# {student}\n"
        assert not (folder / "__pycache__").exists() and not (folder / "stale.txt").exists()
        assert not (folder / "timestamp.txt").exists()  # not a git repository: no commit time


def test_instructor_workflow_release_collect_autograde_manual_feedback_export(tmp_path):
    """Each command of the README's nbgrader workflow, on §39 with two students: alice answered
    the written question, bob handed in the release untouched but for a locked test cell he
    edited. Oracles: nbgrader's own checksum warnings, the written question's points (the source
    notebook), the export CSV."""
    import csv

    from helpers import run_cli
    from nbgrader.api import Gradebook

    course = _cli_course(tmp_path)
    _nbgrader(course, "generate_assignment", SEC39, "--force")  # 1. release (+ the gradebook's copy)
    released = course / "exercises" / SEC39
    repos = tmp_path / "repos"  # 2. distribute: students work in their copy of the student repository
    _student_repo(repos, "ch6-alice", released, answered=True)
    _student_repo(repos, "ch6-bob", released, answered=False, edit_locked=True)

    proc = run_cli("nbgrader-collect", str(repos), "--course", str(course), "--section", SEC39, "--prefix", "ch6-")
    assert proc.returncode == 0, proc.stderr  # 3. collect into submitted/<student>/<assignment>/
    for student in ("alice", "bob"):
        folder = course / "submitted" / student / SEC39
        assert nbs.notebook_path(course / "submitted" / student, SEC39).is_file()
        assert (folder / Section(SEC39).module_file(folder.parent).name).is_file()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.0+ UTC\n", (folder / "timestamp.txt").read_text())

    log = _nbgrader(course, "autograde", SEC39, "--create").stderr  # 4. every student of submitted/
    warned, student = {"alice": [], "bob": []}, None
    for line in log.splitlines():
        if m := re.search(r"Creating/updating student with ID '(\w+)'", line):
            student = m.group(1)
        elif "'checksum'" in line:
            warned[student].append(line)
    assert warned["alice"] == [], "an untouched notebook autogrades without checksum warnings"
    assert len(warned["bob"]) == 1 and "test_softmax" in warned["bob"][0], warned["bob"]

    source = nbs.read_notebook(nbs.notebook_path(SOLUTIONS, SEC39))
    written = next(
        c.metadata["nbgrader"] for c in source.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")
    )  # fmt: skip
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:  # 5. formgrader: what it stores
        for student, score in (("alice", written["points"]), ("bob", 0.0)):
            grade = gb.find_grade(written["grade_id"], SEC39, SEC39, student)
            grade.manual_score = score
        gb.db.commit()

    _nbgrader(course, "generate_feedback", SEC39)  # 6. feedback
    for student in ("alice", "bob"):
        text = _text_of_html(course / "feedback" / student / SEC39 / f"{SEC39}.html")
        assert "BEGIN HIDDEN TESTS" not in text and '"hidden")' not in text
    bob_nb = nbs.read_notebook(nbs.notebook_path(course / "autograded" / "bob", SEC39))
    cell = next(c for c in bob_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax")
    assert "full marks, please" not in cell.source  # graded with the original

    # 7. export, as the README gives it (8. merged by `grader gradebook`, grader/tests/test_gradebook.py)
    _nbgrader(
        course, "export", "--exporter", "grader.nbgrader_plugins.WrittenExport", "--to", str(tmp_path / "nbgrader.csv")
    )
    with open(tmp_path / "nbgrader.csv", newline="", encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["written_score"]) == pytest.approx(written["points"], abs=1e-9)
    assert float(rows["bob"]["written_score"]) == 0.0
    top = _auto_max(SEC39) + written["points"]
    assert float(rows["alice"]["score"]) == pytest.approx(written["points"], abs=1e-9)  # stubs score 0
    assert float(rows["bob"]["score"]) == 0.0, "bob's edited cell must be graded with the original"
    assert float(rows["alice"]["max_score"]) == float(rows["bob"]["max_score"]) == pytest.approx(top, abs=1e-9)
