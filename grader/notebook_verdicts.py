"""Notebook test cells scored by the grader, not by the kernel.

nbgrader scores an autograded code cell from the outputs the kernel produced — and the kernel runs
the student's code, which can patch any helper the test cell calls or print any number. So when
``grader.notebooks.autograde`` grades a class's notebooks, the score of every autograded test cell
comes from the grader's own, sandboxed module grade of the same submission:

1. :func:`module_verdicts` grades the submission's section with ``grader.grade.grade`` (sandboxed
   workers, public + hidden tests) and keeps, per exercise, the points and the grader's one-line
   messages (hidden tests: only what the grader wrote);
2. the kernel executes the notebook as usual (confined: see ``grader/sandbox/kernel.py``), so the
   student's plots and written answers are there for the feedback and the formgrader;
3. :class:`CourseVerdicts` (an nbgrader preprocessor placed right after ``Execute``) replaces the
   outputs of each autograded test cell with the grader's verdict for the exercise that cell names
   (``grade_exercise(module, "<exercise>", ...)`` in the instructor's locked source): a summary on
   stdout and the points as the cell's result, which nbgrader's ``SaveAutoGrades`` records.

Whatever the kernel printed in a test cell is discarded; a test cell whose exercise the grader
does not know scores 0 with a message saying so.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from grader.report.escape import one_line

EXERCISE_IN_CELL = re.compile(r"""grade_exercise\(\s*[A-Za-z_][A-Za-z0-9_]*\s*,\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def module_verdicts(
    submission: Path, section: str, *, seed: int = 0, hidden: bool = True, zygote=None, runner=None
) -> dict:
    """Exercise → ``{"score", "max_score", "lines"}`` from the sandboxed module grade of one section
    (``zygote``, ``runner``: shared with other grades, see ``grader.grade.grade``)."""
    from grader.grade import grade

    result = grade(Path(submission), jobs=1, seed=seed, hidden=hidden, only=[section], zygote=zygote, runner=runner)
    verdicts = {}
    for s in result.sections:
        problems = [one_line(p, 200) for p in s.problems]
        for e in s.exercises:
            failed = [t for t in e.tests if t.score < t.max_score or t.status != "passed"]
            passed = len(e.tests) - len(failed)
            mark = "✓" if e.score >= e.max_score else "✗"
            lines = [
                f"{mark} {e.name} — 公式採点 (official grade, sandboxed): {e.score:g} / {e.max_score:g} 点 "
                f"({passed}/{len(e.tests)} 合格)"
            ]
            lines += [f"  ✗ {t.name}: {one_line(t.message, 200)}" for t in failed[:10]]
            if len(failed) > 10:
                lines.append(f"  … ほか {len(failed) - 10} 件 (and {len(failed) - 10} more)")
            lines += [f"  ! {p}" for p in problems]
            verdicts[e.name] = {"score": float(e.score), "max_score": float(e.max_score), "lines": lines}
    return verdicts


def verdicts_of_folder(folder: Path, names: dict) -> dict:
    """The verdicts of the section being autograded in ``folder`` (``autograded/<student>/<section>``,
    holding the student's own module), with the official seed of ``$COURSE_GRADING_SEED``."""
    section = names["assignment"]
    if Path(folder).name != section:
        return {}  # not a section folder: every test cell scores 0 with the grader's message
    return module_verdicts(Path(folder).parent, section, seed=int(os.environ.get("COURSE_GRADING_SEED") or 0))


def write_verdicts(verdicts: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(verdicts, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def cell_exercise(source: str) -> str | None:
    """The exercise an autograded test cell grades (from the instructor's locked source)."""
    match = EXERCISE_IN_CELL.search(source)
    return match.group(1) if match else None


def verdict_outputs(verdict: dict | None, exercise: str | None, max_points: float) -> list:
    """The outputs nbgrader will score: grader text on stdout, then the points as the result."""
    from nbformat.v4 import new_output

    if verdict is None:
        name = exercise or "?"
        text = f"✗ {name}: 採点結果がありません (the grader has no result for this exercise): 0 点\n"
        score = 0.0
    else:
        text = "\n".join(verdict["lines"]) + "\n"
        score = min(float(verdict["score"]), float(max_points))
    return [
        new_output("stream", name="stdout", text=text),
        new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None),  # all digits
    ]


def _course_verdicts_class():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Bool, Unicode

    class CourseVerdicts(NbGraderPreprocessor):
        """Replace the outputs of every autograded test cell with the grader's verdict (module doc)."""

        verdicts_file = Unicode("", help="JSON file written by grader.notebook_verdicts.write_verdicts").tag(
            config=True
        )
        grade_submission = Bool(
            False, help="without a verdicts file: grade the notebook's own folder (nbgrader's autograde CLI)"
        ).tag(config=True)

        def preprocess(self, nb, resources):
            self._verdicts = {}
            if self.verdicts_file and Path(self.verdicts_file).is_file():
                self._verdicts = json.loads(Path(self.verdicts_file).read_text(encoding="utf-8"))
            elif self.grade_submission:
                self._verdicts = verdicts_of_folder(Path(resources["metadata"]["path"]), resources["nbgrader"])
            return super().preprocess(nb, resources)

        def preprocess_cell(self, cell, resources, cell_index):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                exercise = cell_exercise(cell.source)
                cell.outputs = verdict_outputs(self._verdicts.get(exercise), exercise, meta.get("points", 0))
            return cell, resources

    return CourseVerdicts


def __getattr__(name):  # nbgrader imports the preprocessor by its dotted name
    if name == "CourseVerdicts":
        cls = _course_verdicts_class()
        cls.__module__ = __name__
        globals()[name] = cls
        return cls
    raise AttributeError(name)
