"""The nbgrader notebooks: release, the test-cell runner, and autograding with real nbgrader.

One notebook per section, ``solutions/<section>/<section>.ipynb`` (nbgrader source: an assignment
is a section folder), released to ``exercises/<section>/<section>.ipynb`` by nbgrader's
``generate_assignment`` with the committed ``nbgrader_config.py``.

Decisions (each is tested in ``grader/tests/test_notebooks.py``):

* **The notebook imports the student's module** from its own folder (``import attention_math``),
  so every plot shows the student's functions at work. Exercises are written in the module, not
  in the notebook; the notebook's own answers are the manually graded written questions.
* **Test cells run the pytest suites' own test functions.** A section's notebook has one
  autograded cell per exercise::

      score = grade_exercise(attention_math, "softmax", "public")
      ### BEGIN HIDDEN TESTS
      score += grade_exercise(attention_math, "softmax", "hidden")
      ### END HIDDEN TESTS
      score

  :func:`grade_exercise` calls every test of ``tests/test_<section>.py`` (``"public"``) or of
  ``grader/hidden/test_<section>*.py`` (``"hidden"``) marked with that exercise, with the same
  fixtures (the module, the reference ``<module>_ref``, ``seed`` from ``$COURSE_GRADING_SEED``) and
  the same parametrisations as pytest, applies the same forbidden-shortcut scan, prints one line
  per failed test (function, property, the check's message — never hidden inputs) and returns the
  points earned. nbgrader reads a number as the cell's last output as partial credit, so a cell
  scores exactly what the module grade gives that exercise. A cell carries points equal to the
  public + hidden points of its exercise (:func:`exercise_points`; a test checks every cell).
  Warnings and prints of the student's code are swallowed while tests run: anything on stderr
  would make nbgrader give the cell 0.
* **Figures travel with the notebook.** The figures a notebook shows (``figures/<name>.png`` in its
  markdown) are copied from ``figures/`` into ``solutions/<section>/figures/`` by the release and
  from there into ``exercises/<section>/figures/``, so an assignment folder distributed on its own
  (nbgrader's exchange) still shows them, and so does the feedback HTML.
* **The release** (:func:`release_notebooks`, called by ``grader.release.release_exercises``)
  generates into a temporary course folder and copies only the notebooks; ``--check`` compares
  cell types, sources, nbgrader metadata and attachments (not outputs, execution counts or other
  volatile fields) of the generated and the committed notebooks.
* **nbgrader's own commands work too.** ``nbgrader generate_assignment SECTION --force`` releases
  the same files as ``python -m grader release`` (:func:`nbgrader_release_hooks`, in
  ``nbgrader_config.py``); ``nbgrader autograde`` compares a locked cell with its released version
  (:class:`OverwriteReleasedCells`), so only a cell the student changed is reported.
* **Run All goes on past stubs**: importing this module in a notebook's kernel installs
  ``grader/notebook_run_all.py`` (a cell that reaches ``NotImplementedError`` says so and the next
  cell runs).
* **Autograding** (:func:`autograde`) builds a temporary nbgrader course (source = the repository's
  ``solutions/``), runs ``generate_assignment``, ``autograde`` and ``generate_feedback`` and reads the
  gradebook. The module in the submission is the one graded (``Autograde.exclude_overwriting``);
  locked cells come back from the gradebook (nbgrader's ``OverwriteCells``); feedback HTML has no
  hidden test source (:class:`HideHiddenTests`); a notebook that is not valid JSON is not given to
  nbgrader but reported with a clear message and 0 points.

Trust: the kernel runs the student's module, so it is confined (``grader/sandbox/kernel.py``) and
the test cells' scores come from the grader's sandboxed module grade (``grader/notebook_verdicts.py``),
both in :func:`autograde` and in nbgrader's own ``nbgrader autograde`` at the course root
(:func:`confine_cli_autograde`, from ``nbgrader_config.py``; ``COURSE_TRUSTED_NOTEBOOKS=1`` runs
trusted notebooks in nbgrader's stock kernel and scores their own outputs).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.sections import EXERCISES, HIDDEN_TESTS, PUBLIC_TESTS, REPO, SEED_ENV, SOLUTIONS, Section, is_section_name

CONFIG_FILE = REPO / "nbgrader_config.py"
FIGURES = REPO / "figures"
FIGURE_RE = re.compile(r"figures/(chatgpt-book-ch6-[A-Za-z0-9_.-]+?\.png)")
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
CELL_VOLATILE = {"execution", "collapsed", "scrolled", "ExecuteTime", "trusted"}


class NotebookError(Exception):
    """A notebook cannot be released or graded (invalid JSON, missing, malformed nbgrader cells)."""


# --- paths ----------------------------------------------------------------------------------


def notebook_path(root: Path, section: str) -> Path:
    return Path(root) / section / f"{section}.ipynb"


def notebook_sections(src_root: Path = SOLUTIONS) -> list[str]:
    """Sections that have a source notebook, in chapter order."""
    if not Path(src_root).is_dir():
        return []
    return sorted(
        p.name
        for p in Path(src_root).iterdir()
        if is_section_name(p.name) and notebook_path(src_root, p.name).is_file()
    )


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat v4), or :class:`NotebookError` saying what is wrong."""
    import nbformat

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path.name}: notebook not found") from None
    except UnicodeDecodeError:
        raise NotebookError(f"{path.name}: not a notebook (the file is not UTF-8 text)") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(
            f"{path.name}: not a valid notebook — the file is not valid JSON ({e.msg} at line {e.lineno}, "
            f"column {e.colno}). It was probably edited outside Jupyter or cut short: open it in JupyterLab, "
            f"or start again from the released copy and redo your answers."
        ) from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat's reader errors are of several types
        raise NotebookError(f"{path.name}: not a valid notebook ({type(e).__name__}: {e})") from None
    return nb


# --- figures --------------------------------------------------------------------------------


def figures_of(nb) -> list[str]:
    """File names of the chapter figures a notebook's markdown shows (``figures/<name>.png``)."""
    names = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            names += [m for m in FIGURE_RE.findall(cell.source) if m not in names]
    return names


def _sync_file(src: Path, dst: Path, label: str, check: bool, changed: list[str]):
    if dst.is_file() and dst.read_bytes() == src.read_bytes():
        return
    changed.append(label)
    if not check:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def sync_figures(
    src_root: Path, dst_root: Path, section: str, *, check: bool, figures_dir: Path = FIGURES
) -> list[str]:
    """Copy the figures a notebook shows into ``<root>/<section>/figures/`` of the source and the
    release (or, with ``check``, list what differs). A figure not yet drawn in ``figures/`` is
    skipped here; ``test_notebook_figures_exist`` reports it."""
    changed: list[str] = []
    wanted = figures_of(read_notebook(notebook_path(src_root, section)))
    for root, tag in ((Path(src_root), "source"), (Path(dst_root), "release")):
        folder = root / section / "figures"
        for name in wanted:
            if (figures_dir / name).is_file():
                _sync_file(figures_dir / name, folder / name, f"{section}/figures/{name} ({tag})", check, changed)
        if folder.is_dir():
            for stale in sorted(folder.glob("*.png")):
                if stale.name not in wanted:
                    changed.append(f"{section}/figures/{stale.name} ({tag}, not shown by the notebook)")
                    if not check:
                        stale.unlink()
    return changed


# --- nbgrader configuration and course folders -------------------------------------------------


_loading_for_a_course = False  # True while Course reads nbgrader_config.py (see confine_cli_autograde)


def _load_config():
    """The course's ``nbgrader_config.py`` for a temporary :class:`Course`, which chooses kernel
    and verdicts per call: without what :func:`confine_cli_autograde` sets for nbgrader's CLI."""
    from traitlets.config.loader import PyFileConfigLoader

    global _loading_for_a_course
    _loading_for_a_course = True
    try:
        return PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    finally:
        _loading_for_a_course = False


@contextlib.contextmanager
def _nbgrader_environment(pythonpath: bool = True, jupyter_path: Path | None = None):
    """nbgrader shells out to ``alembic`` and starts kernels that must import ``grader``: put the
    venv's ``bin/`` on PATH and the repository on PYTHONPATH while nbgrader runs (and
    ``jupyter_path`` first on JUPYTER_PATH: where the confined kernel's spec is)."""
    saved = {k: os.environ.get(k) for k in ("PATH", "PYTHONPATH", "MPLBACKEND", "JUPYTER_PATH")}
    if jupyter_path is not None:
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter_path), saved["JUPYTER_PATH"]]))
    bindir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bindir + os.pathsep + (saved["PATH"] or "")
    if pythonpath:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), saved["PYTHONPATH"]]))
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # plots inline, even under tox's Agg
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


TRUSTED_ENV = "COURSE_TRUSTED_NOTEBOOKS"


def _with_verdicts(cfg) -> None:
    """nbgrader's autograde steps with :class:`~grader.notebook_verdicts.CourseVerdicts` right
    after ``Execute``: the test cells' outputs are the grader's, whatever the kernel printed."""
    from nbgrader.converters import Autograde

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    at = next(i for i, pp in enumerate(steps) if getattr(pp, "__name__", "") == "Execute") + 1
    steps.insert(at, "grader.notebook_verdicts.CourseVerdicts")
    cfg.Autograde.autograde_preprocessors = steps


def confine_cli_autograde(cfg) -> None:
    """``nbgrader autograde`` at the course root as :func:`autograde` grades: each notebook's
    kernel is the confining launcher (the ``course-sandbox`` kernelspec, in a folder of this
    process put first on ``JUPYTER_PATH``; Unix sockets in the same folder, which only this
    process writes) and each test cell's score is the sandboxed module grade of the student's
    autograded folder (``CourseVerdicts.grade_submission``). A kernel that cannot confine itself
    exits, so nbgrader reports that notebook as failed instead of grading it unconfined.
    ``$COURSE_TRUSTED_NOTEBOOKS=1`` leaves nbgrader's defaults (trusted notebooks only)."""
    if os.environ.get(TRUSTED_ENV) == "1" or _loading_for_a_course:
        return
    import atexit

    from grader.sandbox import kernel

    short = len(tempfile.gettempdir()) <= 40  # a Unix socket path has at most 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="course-kernels-", dir=None if short else "/tmp"))
    os.chmod(folder, 0o755)  # kernels only read the kernelspec; their sockets live in folders of their own
    atexit.register(shutil.rmtree, folder, True)
    kernel.kernelspec(folder, env={"PYTHONPATH": str(REPO)})
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), os.environ.get("JUPYTER_PATH")]))
    kernel.kernel_config(cfg, folder)
    _with_verdicts(cfg)
    cfg.CourseVerdicts.grade_submission = True


@dataclass
class Course:
    """A temporary nbgrader course folder whose source is ``source`` (default: ``solutions/``)."""

    root: Path
    source: Path = SOLUTIONS

    def config(self, *, generate: bool = False, database: bool = True):
        cfg = _load_config()
        if not database:  # nbgrader's --no-db: the release needs no gradebook
            cfg.SaveCells.enabled = False
            cfg.GenerateAssignment.no_database = True
        cfg.CourseDirectory.root = str(self.root)
        cfg.CourseDirectory.source_directory = str(Path(self.source).resolve())
        cfg.CourseDirectory.release_directory = str(self.root / "release")
        cfg.CourseDirectory.db_url = "sqlite:///" + str(self.root / "gradebook.db")
        # the release writes the modules, points and figures itself (release_notebooks)
        cfg.GenerateAssignment.pre_convert_hook = cfg.GenerateAssignment.post_convert_hook = None
        if generate:  # what the config's GenerateAssignmentApp section does for the CLI
            cfg.CourseDirectory.ignore = [*cfg.CourseDirectory.ignore, "*.py"]
        return cfg

    def _run(
        self, converter_class, assignment: str, student: str = ".", *, generate: bool = False, database=True,
        verdicts: Path | None = None, confined: bool = False,
    ):  # fmt: skip
        from nbgrader.coursedir import CourseDirectory

        cfg = self.config(generate=generate, database=database)
        jupyter_path = sockets = None
        if confined:  # the kernel confines itself before running the notebook (grader/sandbox/kernel.py)
            from grader.sandbox import kernel

            jupyter_path = self.root / "jupyter"
            kernel.kernelspec(jupyter_path)
            sockets = kernel.socket_folder(self.root)
            kernel.kernel_config(cfg, sockets)
        if verdicts is not None:  # test cells scored by the grader (grader/notebook_verdicts.py)
            _with_verdicts(cfg)
            cfg.CourseVerdicts.verdicts_file = str(verdicts)
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        converter = converter_class(coursedir=coursedir, config=cfg)
        try:
            with _nbgrader_environment(jupyter_path=jupyter_path):
                converter.start()
        finally:  # the kernel's sockets and home (its launcher removes them; a killed one cannot)
            if sockets is not None:
                shutil.rmtree(sockets, ignore_errors=True)

    def generate(self, section: str, *, database: bool = True) -> Path:
        from nbgrader.converters import GenerateAssignment

        self.root.mkdir(parents=True, exist_ok=True)
        read_notebook(notebook_path(self.source, section))  # clear message for a broken source
        self._run(GenerateAssignment, section, generate=True, database=database)
        return notebook_path(self.root / "release", section)

    def submit(self, section: str, folder: Path, student: str):
        dst = self.root / "submitted" / student / section
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(folder, dst, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))

    def autograde(self, section: str, student: str, verdicts: Path | None = None, confined: bool = False):
        from nbgrader.converters import Autograde

        self._run(Autograde, section, student, verdicts=verdicts, confined=confined)

    def feedback(self, section: str, student: str) -> Path:
        from nbgrader.converters import GenerateFeedback

        self._run(GenerateFeedback, section, student)
        return self.root / "feedback" / student / section / f"{section}.html"


# --- release --------------------------------------------------------------------------------


def _normalized(nb) -> dict:
    """What the drift check compares: cells (type, id, source, metadata without volatile fields,
    attachments) and the kernelspec."""
    cells = []
    for cell in nb.cells:
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k not in CELL_VOLATILE}
        cells.append(
            {
                "cell_type": cell.cell_type,
                "id": cell.get("id"),
                "source": cell.source,
                "metadata": meta,
                "attachments": cell.get("attachments"),
            }
        )
    return {"cells": cells, "kernelspec": nb.metadata.get("kernelspec")}


POINTS_IN_HEADER = re.compile(r"— [0-9]+(?:\.[0-9]+)? 点")


def sync_points(src_root: Path, section: str, *, check: bool) -> list[str]:
    """Write each autograded test cell's budget (``grader/points.toml``) into the source notebook:
    the cell's nbgrader ``points`` and the ``— N 点`` of its first line (or, with ``check``, list
    the cells that differ). The table is the only place where points are set."""
    import nbformat

    from grader import points
    from grader.notebook_verdicts import cell_exercise

    path = notebook_path(src_root, section)
    nb = read_notebook(path)
    changed = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        exercise = cell_exercise(cell.source)
        budget = points.budget(section, exercise) if exercise else None
        if budget is None:
            raise NotebookError(f"{section}: test cell {meta.get('grade_id')} names no exercise with a budget")
        first, _, rest = cell.source.partition("\n")
        header = POINTS_IN_HEADER.sub(f"— {budget:g} 点", first)
        if float(meta.get("points", -1)) != budget or header != first:
            changed.append(f"{section}/{section}.ipynb: {meta.get('grade_id')} worth {budget:g} (points table)")
            meta["points"] = budget
            cell.source = header + ("\n" + rest if rest or cell.source.endswith("\n") else "")
    if changed and not check:
        nbformat.write(nb, str(path))
    return changed


def release_notebooks(src_root: Path = SOLUTIONS, dst_root: Path = EXERCISES, check: bool = False) -> list[str]:
    """Release every section notebook with nbgrader ``generate_assignment`` (and copy its figures).
    Returns what differs (``check``) or what was written, as paths relative to the roots."""
    src_root, dst_root = Path(src_root), Path(dst_root)
    changed: list[str] = []
    sections = notebook_sections(src_root)
    with tempfile.TemporaryDirectory(prefix="nbrelease-") as tmp:
        course = Course(Path(tmp), src_root)
        for section in sections:
            changed += sync_points(src_root, section, check=check)
            changed += sync_figures(src_root, dst_root, section, check=check)
            generated = course.generate(section, database=False)
            if not generated.is_file():
                raise NotebookError(f"{section}: nbgrader generate_assignment wrote no notebook")
            dst = notebook_path(dst_root, section)
            try:
                same = dst.is_file() and _normalized(read_notebook(dst)) == _normalized(read_notebook(generated))
            except NotebookError:
                same = False
            if not same:
                changed.append(str(dst.relative_to(dst_root)))
                if not check:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(generated, dst)
    if dst_root.is_dir():  # notebooks the release would not produce
        for path in sorted(dst_root.glob("sec*/*.ipynb")):
            if path.parent.name not in sections or path.stem != path.parent.name:
                changed.append(f"{path.relative_to(dst_root)} (not produced by the release)")
                if not check:
                    path.unlink()
    return changed


def nbgrader_release_hooks(src_root: Path, dst_root: Path, figures_dir: Path = FIGURES):
    """``(pre, post)`` convert hooks that make nbgrader's own ``nbgrader generate_assignment
    SECTION [--force]`` release what ``python -m grader release`` releases for that section:
    before, the points table and the figures go into the source (:func:`sync_points`,
    :func:`sync_figures`); after — ``--force`` has replaced ``exercises/SECTION`` with the notebook
    and the non-``.py`` files — the stub modules are written back
    (``grader.release.release_section_modules``). nbgrader logs a failing hook and carries on, so
    each hook prints its error itself."""
    from grader.release import release_section_modules

    src_root, dst_root, figures_dir = Path(src_root), Path(dst_root), Path(figures_dir)

    def _loud(step):
        def hook(assignment=None, student=None, notebooks=None, **_):
            try:
                step(str(assignment))
            except Exception as e:
                print(f"release of {assignment} failed ({type(e).__name__}: {e}); run `python -m grader release`",
                      file=sys.stderr)  # fmt: skip
                raise

        return hook

    def pre(section):
        sync_points(src_root, section, check=False)
        sync_figures(src_root, dst_root, section, check=False, figures_dir=figures_dir)

    def post(section):
        release_section_modules(src_root, dst_root, section)

    return _loud(pre), _loud(post)


# --- autograde: locked cells compared with their released version ------------------------------


def _overwrite_released_cells_class():
    from nbformat import NotebookNode
    from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells
    from nbgrader.utils import is_locked

    class OverwriteReleasedCells(OverwriteCells):
        """nbgrader's ``OverwriteCells``, comparing a locked cell with what the student was given.

        The gradebook keeps the instructor's version of a test cell (with its ``### BEGIN HIDDEN
        TESTS`` region) and its checksum; the released cell has no hidden region, so the stock
        preprocessor finds every untouched test cell "changed" and warns (``Attribute 'checksum'
        … has changed!``). Here a locked cell whose source is exactly its released version (the
        instructor's source with the hidden region removed) gets the instructor's source back
        quietly; any other change still warns and is replaced by the original, as before."""

        def preprocess_cell(self, cell, resources, cell_index):
            from nbgrader.api import MissingEntry

            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None and is_locked(cell) and HIDDEN_BEGIN not in cell.source:
                try:
                    source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
                except MissingEntry:
                    source = None
                if source is not None and source.locked and HIDDEN_BEGIN in source.source:
                    released = NotebookNode(source=source.source)  # the cell as generate_assignment released it
                    ClearHiddenTests(parent=self)._remove_hidden_test_region(released)
                    if cell.source == released.source:
                        cell.source = source.source
            return super().preprocess_cell(cell, resources, cell_index)

    return OverwriteReleasedCells


# --- feedback without hidden tests ------------------------------------------------------------


def _hide_hidden_tests_class():
    from nbgrader.preprocessors import ClearHiddenTests

    class HideHiddenTests(ClearHiddenTests):
        """Feedback preprocessor: remove ``### BEGIN/END HIDDEN TESTS`` regions from the autograded
        notebook's cells (nbgrader restores them when autograding, and the stock feedback shows
        them: nbgrader#1363) and cut the tracebacks of those cells to their last line (a traceback
        quotes the cell's source around the failing line)."""

        def preprocess_cell(self, cell, resources, cell_index):
            had_hidden = HIDDEN_BEGIN in cell.source
            if had_hidden:
                self._remove_hidden_test_region(cell)
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
            return cell, resources

    return HideHiddenTests


def __getattr__(name):  # nbgrader imports the preprocessor by its dotted name; nbgrader loads lazily
    factories = {"HideHiddenTests": _hide_hidden_tests_class, "OverwriteReleasedCells": _overwrite_released_cells_class}
    if name in factories:
        cls = factories[name]()
        cls.__module__ = __name__
        globals()[name] = cls
        return cls
    raise AttributeError(name)


# --- autograding ----------------------------------------------------------------------------


@dataclass
class NotebookGrade:
    section: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, tuple[float | None, float]] = field(default_factory=dict)  # grade id → (score, max)
    needs_manual_grade: bool = False
    feedback: Path | None = None
    problems: list[str] = field(default_factory=list)


def autograde(
    submission: Path,
    work: Path,
    sections: list[str] | None = None,
    *,
    student: str = "student",
    feedback: bool = True,
    verdicts: bool = True,
    seed: int | None = None,
    trusted: bool = False,
    zygote=None,
    runner=None,
) -> dict[str, NotebookGrade]:
    """Autograde the notebooks of a folder laid out like ``exercises/`` with real nbgrader, in the
    temporary course folder ``work``. Returns one :class:`NotebookGrade` per section.

    With ``verdicts`` (the default) every autograded test cell is scored by the grader's sandboxed
    module grade of the same submission (``grader/notebook_verdicts.py``), never by what the kernel
    printed; ``verdicts=False`` keeps nbgrader's own scoring of the kernel's outputs (trusted
    notebooks only). The kernel runs confined (``grader/sandbox/kernel.py``: no grader files, no
    network, its own uid); where this machine cannot confine it, autograding stops with
    :class:`NotebookError` unless ``trusted`` says the notebooks may run unconfined. ``zygote`` and
    ``runner``: a running sandbox zygote and warm runner for every module grade to share (as the
    batch grade shares them); by default each module grade starts its own."""
    from nbgrader.api import Gradebook

    from grader.notebook_verdicts import module_verdicts, write_verdicts

    if seed is None:
        seed = int(os.environ.get(SEED_ENV, "0") or 0)
    confined = not trusted
    if confined and not kernel_confinement_available():
        raise NotebookError(
            "cannot confine the notebook kernel on this machine (no root and no user namespaces): "
            "autograding would run student code with the grader's files in reach. Grade on a machine "
            "that can (e.g. as root in CI), or pass trusted=True for notebooks you trust."
        )

    submission, work = Path(submission), Path(work)
    course = Course(work)
    results: dict[str, NotebookGrade] = {}
    for section in sections or notebook_sections():
        grade = results[section] = NotebookGrade(section)
        if not notebook_path(work / "release", section).is_file():  # several students share a course
            course.generate(section)
        folder = submission / section
        if not folder.is_dir():
            grade.problems.append(f"{section}: folder missing from the submission")
            continue
        course.submit(section, folder, student)
        nb_file = notebook_path(work / "submitted" / student, section)
        try:
            read_notebook(nb_file)
        except NotebookError as e:  # nbgrader would stop with a traceback: say what is wrong, score 0
            grade.problems.append(str(e))
            released = read_notebook(notebook_path(work / "release", section))
            grade.max_score = sum(
                float(c.metadata["nbgrader"].get("points", 0))
                for c in released.cells
                if c.metadata.get("nbgrader", {}).get("grade")
            )
            continue
        verdict_file = None
        if verdicts:
            found = module_verdicts(submission, section, seed=seed, zygote=zygote, runner=runner)
            verdict_file = write_verdicts(found, work / "verdicts" / student / f"{section}.json")
        course.autograde(section, student, verdict_file, confined=confined)
        if feedback:
            grade.feedback = course.feedback(section, student)
        with Gradebook("sqlite:///" + str(work / "gradebook.db")) as gb:
            nb = gb.find_submission_notebook(section, section, student)
            grade.score, grade.max_score = float(nb.score), float(nb.max_score)
            grade.needs_manual_grade = bool(nb.needs_manual_grade)
            grade.cells = {g.name: (g.score, float(g.max_score)) for g in nb.grades}
    return results


def kernel_confinement_available() -> bool:
    """Can a process here get a private mount namespace with tmpfs (as root or in a user namespace)?"""
    import subprocess

    from grader.sandbox import fsview

    probe = subprocess.run(
        [sys.executable, "-I", fsview.__file__, "--probe"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


# --- the test-cell runner ----------------------------------------------------------------------


@dataclass
class TestCase:
    name: str  # pytest-style id, e.g. test_x[shape0]
    function: object
    params: dict
    points: float  # the test's relative weight (its marker's ``points``)
    fixtures: dict = field(default_factory=dict)  # fixtures defined in the test file: name → function
    needs_core: bool = False  # counts only once every core test of the exercise passes
    hidden: bool = False


def _module_fixtures(module) -> dict:
    """``@pytest.fixture`` functions defined in a test file, by fixture name."""
    found = {}
    for obj in vars(module).values():
        func = getattr(obj, "_fixture_function", None)
        marker = getattr(obj, "_fixture_function_marker", None)
        if func is not None and marker is not None:
            found[marker.name or func.__name__] = func
    return found


def _load_test_file(path: Path):
    name = "_nbtests_" + re.sub(r"\W", "_", str(path.resolve()))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _param_id(name: str, value, index: int) -> str:
    """pytest's id of a parameter value: the value itself when simple, else name + index."""
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return str(value)
    if isinstance(getattr(value, "__name__", None), str):  # classes and functions, e.g. np.float32
        return value.__name__
    return f"{name}{index}"


def _param_sets(marks) -> list[tuple[str, dict]]:
    """(id suffix, params) for the stacked ``parametrize`` marks of a test, in pytest's order."""
    import pytest

    axes = []
    # ``pytestmark`` lists the decorator closest to the function first, and pytest's ids and order
    # start from it: @parametrize("b", ...) over @parametrize("m", ...) gives test[m0-b0], test[m0-b1], ...
    for mark in [m for m in marks if m.name == "parametrize"]:
        argnames, argvalues = mark.args[0], mark.args[1]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        ids = mark.kwargs.get("ids")
        options = []
        for i, value in enumerate(argvalues):
            vid = None
            if isinstance(value, type(pytest.param(None))):
                vid, value = value.id, value.values
                value = value if len(names) > 1 else value[0]
            values = list(value) if len(names) > 1 else [value]
            if vid is None and callable(ids):  # pytest asks the callable about each argument's value
                parts = [ids(v) for v in values]
                vid = "-".join(str(p) if p is not None else _param_id(n, v, i) for n, v, p in zip(names, values, parts))
            elif vid is None and ids is not None:
                vid = ids[i]
            if vid is None:
                vid = "-".join(_param_id(n, v, i) for n, v in zip(names, values))
            options.append((vid, dict(zip(names, values))))
        axes.append((names, options))
    if not axes:
        return [("", {})]
    sets = []
    for combo in itertools.product(*[opts for _, opts in axes]):
        params, parts = {}, []
        for vid, p in combo:
            params.update(p)
            parts.append(str(vid))
        sets.append(("-".join(parts), params))
    return sets


def collect_cases(section: Section, exercise: str | None, suite: str) -> list[TestCase]:
    """Every test (one per parametrisation) of ``suite`` ("public" or "hidden") for ``exercise``
    (all exercises when None)."""
    files = [section.public_tests] if suite == "public" else section.hidden_test_files()
    if suite not in ("public", "hidden"):
        raise ValueError(f"suite must be 'public' or 'hidden', got {suite!r}")
    cases = []
    for path in files:
        if not path.is_file():
            continue
        module = _load_test_file(path)
        file_fixtures = _module_fixtures(module)
        for name, func in vars(module).items():
            if not name.startswith("test_") or not callable(func):
                continue
            marks = getattr(func, "pytestmark", [])
            ex = next((m for m in marks if m.name == "exercise"), None)
            if ex is None or (exercise is not None and ex.args[0] != exercise):
                continue
            points = float(ex.kwargs.get("points", 1))
            needs_core = bool(ex.kwargs.get("needs_core", False))
            for suffix, params in _param_sets(marks):
                case_name = f"{name}[{suffix}]" if suffix else name
                cases.append(TestCase(case_name, func, params, points, file_fixtures, needs_core, suite == "hidden"))
    return cases


def exercise_points(section: Section) -> dict[str, float]:
    """Exercise → its budget in ``grader/points.toml`` (the module grade's maximum for that
    exercise); an exercise the table has no budget for is worth the sum of its tests' weights."""
    from grader import points as budgets

    weights: dict[str, float] = {}
    for suite in ("public", "hidden"):
        for case in collect_cases(section, None, suite):
            ex = next(m for m in case.function.pytestmark if m.name == "exercise").args[0]
            weights[ex] = weights.get(ex, 0.0) + case.points
    table = budgets.budgets().get(section.name, {})
    return {ex: table.get(ex, w) for ex, w in weights.items()}


def _section_of(module) -> Section:
    name = getattr(module, "__name__", "").rsplit(".", 1)[-1]
    for path in PUBLIC_TESTS.glob("test_sec*.py"):
        section = Section(path.stem.removeprefix("test_"))
        if is_section_name(section.name) and section.module == name:
            return section
    raise NotebookError(f"no section has a module named {name!r}")


def _failure_message(exc: BaseException, hidden: bool = True) -> str:
    import pytest

    from grader.pytest_plugin import describe_failure

    return describe_failure(pytest.ExceptionInfo.from_exception(exc), hidden=hidden)


class _Request:
    """The part of pytest's ``request`` fixture that the suites use: ``getfixturevalue``."""

    def __init__(self, resolve):
        self.getfixturevalue = resolve


def run_case(case: TestCase, fixtures: dict, cache: dict | None = None) -> tuple[bool, str]:
    """Call one test with its fixtures; (passed, message). ``fixtures`` holds the course fixtures
    (the module, ``<module>_ref`` as a zero-argument factory, ``seed``); fixtures defined in the
    test file are computed once per ``cache`` (module scope: one grade_exercise call), errors
    included. The student's prints and warnings are swallowed (nbgrader scores a cell with
    stderr output 0)."""
    cache = {} if cache is None else cache

    def resolve(name):
        if name in case.params:
            return case.params[name]
        if name == "request":
            return _Request(resolve)
        if name == "record_property":  # what a passing test measured: not shown in a notebook cell
            return lambda key, value: None
        key = (id(case.fixtures), name)
        if key not in cache:
            if name in fixtures:
                value = fixtures[name]
                cache[key] = (value() if callable(value) and name.endswith("_ref") else value, None)
            elif name in case.fixtures:
                func = case.fixtures[name]
                try:
                    value = func(**{arg: resolve(arg) for arg in inspect.signature(func).parameters})
                    if inspect.isgenerator(value):
                        value = next(value)
                    cache[key] = (value, None)
                except KeyboardInterrupt:
                    raise
                except BaseException as e:
                    cache[key] = (None, e)
            else:
                raise NotebookError(f"the notebook runner has no fixture {name!r}")
        value, error = cache[key]
        if error is not None:
            raise error
        return value

    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            kwargs = {arg: resolve(arg) for arg in inspect.signature(case.function).parameters}
            case.function(**kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a test failing, pytest.fail/skip, or anything the student's code raises
        return False, _failure_message(e, case.hidden)
    return True, ""


def grade_exercise(
    module, exercise: str, suite: str = "public", *, seed: int | None = None, verbose: bool = True
) -> float:
    """Run the ``suite`` tests of ``exercise`` on ``module`` (the student's imported module) and
    return the points earned; print a summary and one line per failed test.

    Points are those of the module grade: the exercise's budget (``grader/points.toml``) shared
    among the tests of both suites (the public one only where the hidden tests are absent) by
    weight; an edge-case test (``needs_core``) counts only once every core test of the exercise,
    in both suites, passes (the other suite's core tests are run quietly to know)."""
    section = _section_of(module)
    if seed is None:
        seed = int(os.environ.get(SEED_ENV, "0") or 0)
    cases = collect_cases(section, exercise, suite)
    if not cases:
        if suite == "hidden" and not HIDDEN_TESTS.is_dir():
            return 0.0
        raise NotebookError(f"no {suite} tests for {exercise!r} in {section.name}")
    ref = section.module_file(SOLUTIONS)

    def reference():
        from grader.targets import load_module_file

        if not ref.is_file():
            raise NotebookError("the reference solutions are not in this checkout")
        return load_module_file(ref, section.module)

    fixtures = {section.module: module, f"{section.module}_ref": reference, "seed": seed}
    forbidden_names = _forbidden(module, section, exercise)
    other = "hidden" if suite == "public" else "public"
    other_cases = collect_cases(section, exercise, other) if other == "public" or HIDDEN_TESTS.is_dir() else []
    worth = _case_points(section, exercise, cases, other_cases)
    results, cache = [], {}
    for case in cases:
        passed, message = run_case(case, fixtures, cache)
        if passed and forbidden_names:
            passed, message = False, forbidden_names
        results.append((case, passed, message))
    gated = []
    if any(passed and case.needs_core for case, passed, _ in results):
        core_here = [passed for case, passed, _ in results if not case.needs_core]
        core_ok = all(core_here)
        if core_ok:
            other_core = [c for c in other_cases if not c.needs_core]
            other_cache: dict = {}
            core_ok = all(run_case(c, fixtures, other_cache)[0] for c in other_core)
            core_ok = core_ok and bool(core_here or other_core)
        if not core_ok:
            gated = [case for case, passed, _ in results if passed and case.needs_core]
    gated_ids = {id(case) for case in gated}
    earned = _dyadic(sum(worth[id(case)] for case, passed, _ in results if passed and id(case) not in gated_ids))
    total = _dyadic(sum(worth[id(case)] for case in cases))
    failures = [(case, message) for case, passed, message in results if not passed]
    if verbose:
        label = {"public": "公開テスト (public tests)", "hidden": "非公開テスト (hidden tests)"}[suite]
        mark = "✓" if not failures and not gated else "✗"
        counted = len(cases) - len(failures) - len(gated)
        from grader import points as budgets

        budget = budgets.budget(section.name, exercise)
        print(f"{mark} {exercise} — {label}: {earned:g} / {total:g} 点 (配点 (budget) {budget:g} 点のうち; "
              f"{counted}/{len(cases)} 合格)")  # fmt: skip
        for case, message in failures:
            print(f"  ✗ {case.name}: {message}")
        for case in gated:
            print(f"  ○ {case.name}: 基本テストがすべて通ってから加点 (counts once the core tests of {exercise} pass)")
    return earned


def _dyadic(points: float) -> float:
    """Points rounded to a multiple of 2**-20, so that the public and the hidden share of a
    budget add up to it exactly in floating point (the cell's ``score += ...``)."""
    return round(points * 2**20) / 2**20


def _case_points(section: Section, exercise: str, cases: list, other_cases: list) -> dict[int, float]:
    """id(case) → the points of each case of ``cases``: the exercise's budget shared by weight
    among the cases of both suites, as the module grade shares it."""
    from grader import points as budgets

    every = [*cases, *other_cases]
    weights = [c.points for c in every]
    if not any(c.hidden for c in every):  # no hidden tests here: they keep their share (grader/suite_weights.json)
        from grader import suite_weights

        weights.append(suite_weights.hidden_weight(section.name, exercise))
    worth = budgets.shares(budgets.budget(section.name, exercise), weights)
    return {id(c): w for c, w in zip(every, worth)}


def _forbidden(module, section: Section, exercise: str) -> str:
    """The module grade's forbidden-shortcut message for this exercise ('' when clean)."""
    from grader import forbidden

    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return ""
    try:
        found = forbidden.scan_file(Path(path), section.name)
    except Exception:
        return ""
    return forbidden.message(found[exercise]) if exercise in found else ""


# --- executing a notebook ---------------------------------------------------------------------


def execute_notebook(path: Path, timeout: int = 120, *, pythonpath: bool = True):
    """Run a notebook top to bottom with nbclient in its own folder; returns the executed notebook
    and raises ``nbclient.exceptions.CellExecutionError`` at the first failing cell. Without
    ``pythonpath`` the kernel must find ``grader`` itself (from a folder inside the repository)."""
    from nbclient import NotebookClient

    nb = read_notebook(path)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    )
    with _nbgrader_environment(pythonpath):
        client.execute()
    return nb


# --- Run All past unimplemented functions (in a notebook's kernel) ----------------------------

from grader.notebook_run_all import install as _install_run_all  # noqa: E402

_install_run_all()  # the notebooks' setup imports this module: Run All goes on past stubs
