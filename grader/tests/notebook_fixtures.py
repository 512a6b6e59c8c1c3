"""Shared work of the notebook tests (grader/tests/test_notebooks.py).

Run All of every section's released notebook in a student's repository layout (untouched, and with
the reference module put in) takes a kernel per notebook. Those runs depend on nothing the other
tests do, so :class:`RunAll` starts them in a worker process when the module's first test starts:
the kernels use the second core while the nbgrader round trip keeps the first one busy. Each
Run All test then takes its executed notebook (same function, layout and kernel as running it
inline: ``grader.notebooks.execute_notebook`` in a fresh kernel per notebook).

The worker is a separate process (not a thread) because ``execute_notebook`` and nbgrader's
autograde both set environment variables (PATH, PYTHONPATH, JUPYTER_PATH) while they run.

Each autograde scores the test cells with a sandboxed module grade per section; by default every
such grade starts its own sandbox zygote and warm runner (each imports PyTorch).
:func:`shared_grading` starts one of each for all the module's autogrades, as the batch grade
shares them across a class.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import nbformat

from grader import notebooks as nbs
from grader.sections import EXERCISES, REPO, SOLUTIONS, Section


class RunAllError(AssertionError):
    """Run All stopped in the worker (its exception, as text: nbclient's errors do not pickle)."""


def student_layout(root: Path, section: str, *, solved: bool) -> Path:
    """A student repository's layout (the kernel finds `grader` from the notebook's folder)."""
    repo = root / "repo"
    (repo / "exercises").mkdir(parents=True)
    shutil.copytree(EXERCISES / section, repo / "exercises" / section, ignore=shutil.ignore_patterns("__pycache__"))
    if solved:
        module = Section(section).module_file(SOLUTIONS)
        shutil.copyfile(module, repo / "exercises" / section / module.name)
    for name in ("grader", "tests"):
        os.symlink(REPO / name, repo / name)
    return nbs.notebook_path(repo / "exercises", section)


def _run_all(path: str) -> tuple[str, str]:
    """In the worker: (the executed notebook as JSON, "") or ("", why Run All stopped)."""
    try:
        nb = nbs.execute_notebook(Path(path), pythonpath=False)
    except Exception:  # noqa: BLE001 - reported to the test that asked for this notebook
        return "", traceback.format_exc()
    return nbformat.writes(nb), ""


class RunAll:
    """Run All of notebooks, one after the other in one worker process, keyed by (section, solved)."""

    def __init__(self, root: Path, sections: list[str]):
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._runs: dict[tuple[str, bool], Future] = {}
        for solved in (False, True):
            for section in sections:
                folder = root / f"{section}-{'solved' if solved else 'untouched'}"
                self.submit(section, solved, student_layout(folder, section, solved=solved))

    def submit(self, section: str, solved: bool, path: Path) -> None:
        self._runs[section, solved] = self._pool.submit(_run_all, str(path))

    def executed(self, section: str, *, solved: bool):
        """The notebook after Run All; raises :class:`RunAllError` where it stopped."""
        text, error = self._runs[section, solved].result()
        if error:
            raise RunAllError(f"{section} ({'solved' if solved else 'untouched'}): Run All stopped:\n{error}")
        return nbformat.reads(text, as_version=4)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def shared_grading():
    """``zygote`` and ``runner`` keywords for ``grader.notebooks.autograde``: one sandbox zygote and
    one warm runner (unless ``$COURSE_WARM_RUNNER`` is "0", as in ``grader.grade.grade``)."""
    from grader.grade import services

    with services(sandbox=True) as shared:
        yield {"zygote": shared.zygote, "runner": shared.runner}
