"""nbgrader's own ``nbgrader autograde``, run at a course root with the course's ``nbgrader_config.py``,
confines each student's kernel and scores the test cells with the grader's sandboxed module grade
(``grader.notebooks.confine_cli_autograde``), as ``grader.notebooks.autograde`` does.

Real nbgrader on §39 with two students: "hostile" (its module patches the test-cell helper at import,
a code cell tries to read the reference solutions and hidden tests and to reach the network) and
"solved" (the reference module). Oracles: what the hostile cell printed, the gradebook's scores, the
nbgrader process's temporary folder after the run; and the same hostile notebook graded with
``COURSE_TRUSTED_NOTEBOOKS=1`` (nbgrader's stock kernel and scoring) reads the files and profits from
its patch, so each check can fail.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from redteam.notebook_attacks import SPY
from test_notebooks import SEC39, _auto_max, _cli_course, _copy_exercises, _hostile_submission, _nbgrader

from grader import notebooks as nbs
from grader.sections import Section

OFFICIAL = "公式採点 (official grade, sandboxed)"


def _view_or_skip():
    if not nbs.kernel_confinement_available():
        pytest.skip("this machine cannot confine a kernel (no root and no user namespaces)")


def _spy_on_the_course_copy(sub: Path, course: Path) -> None:
    """A second spy cell: the course root's own copy of the reference module."""
    path = nbs.notebook_path(sub, SEC39)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(
        4, nbformat.v4.new_code_cell(SPY.format(paths=[str(Section(SEC39).module_file(course / "solutions"))]))
    )
    nbformat.write(nb, str(path))


def _printed(course: Path, student: str) -> str:
    nb = nbs.read_notebook(nbs.notebook_path(course / "autograded" / student, SEC39))
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _auto_scores(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        nb = gb.find_submission_notebook(SEC39, SEC39, student)
        return {g.name: float(g.score) for g in nb.grades if g.name.startswith("test_")}


@pytest.fixture(scope="module")
def cli_course(tmp_path_factory):
    _view_or_skip()
    root = tmp_path_factory.mktemp("cli_confined")
    course = _cli_course(root)
    hostile = _hostile_submission(root / "hostile")
    _spy_on_the_course_copy(hostile, course)
    solved = _copy_exercises(root / "solved", solved=True)
    tmp = Path(tempfile.mkdtemp(prefix="nbcli-", dir="/tmp"))  # short: Unix socket paths
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp))
        mp.delenv(nbs.TRUSTED_ENV, raising=False)
        _nbgrader(course, "generate_assignment", SEC39, "--force")
        for student, sub in (("hostile", hostile), ("solved", solved)):
            shutil.copytree(sub / SEC39, course / "submitted" / student / SEC39)
        log = _nbgrader(course, "autograde", SEC39, "--create").stderr
    left = sorted(p.name for p in tmp.iterdir())
    yield {"course": course, "root": root, "log": log, "left": left, "hostile": hostile}
    shutil.rmtree(tmp, ignore_errors=True)


def test_the_kernel_cannot_read_grader_files_or_reach_the_network(cli_course):
    import os

    out = _printed(cli_course["course"], "hostile")
    assert "SPY denied" in out and "SPY read" not in out, out[-2000:]
    assert "SPY network closed" in out, out[-2000:]
    if os.getuid() == 0:
        assert "SPY uid 0" not in out, "the kernel keeps root"


def test_test_cells_are_scored_by_the_grader(cli_course):
    course = cli_course["course"]
    hostile, solved = _auto_scores(course, "hostile"), _auto_scores(course, "solved")
    assert hostile and all(score == 0 for score in hostile.values()), hostile  # the patch earns nothing
    assert sum(solved.values()) == pytest.approx(_auto_max(SEC39), abs=1e-9), solved
    assert OFFICIAL in _printed(course, "hostile")


def test_no_kernel_leaves_anything_in_the_temporary_folder(cli_course):
    assert cli_course["left"] == [], cli_course["left"]


def test_trusted_notebooks_run_in_the_stock_kernel(cli_course, monkeypatch, tmp_path):
    """The oracle can fail: with COURSE_TRUSTED_NOTEBOOKS=1 the same notebook reads the reference
    and scores from its patched helper."""
    course = cli_course["course"]
    folder = course / "submitted" / "trusting" / SEC39
    shutil.copytree(cli_course["hostile"] / SEC39, folder)
    module = Section(SEC39).module_file(folder.parent)  # a patch nbgrader accepts: less than any cell's points
    patched = module.read_text(encoding="utf-8").replace("kwargs: 1000.0", "kwargs: 0.25")
    assert "kwargs: 0.25" in patched
    module.write_text(patched, encoding="utf-8")
    monkeypatch.setenv(nbs.TRUSTED_ENV, "1")
    _nbgrader(course, "autograde", SEC39, "--student", "trusting")
    out = _printed(course, "trusting")
    assert "SPY read" in out and OFFICIAL not in out
    assert sum(_auto_scores(course, "trusting").values()) > 0
