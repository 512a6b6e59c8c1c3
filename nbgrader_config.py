"""nbgrader configuration of the course: one assignment per section folder.

    solutions/<section>/<section>.ipynb   source notebook (instructor version, hidden tests, model answers)
    exercises/<section>/<section>.ipynb   released notebook (generated: `python -m grader release`)

Read by ``nbgrader ...`` run at the repository root and by ``grader/notebooks.py`` (which loads this
file and only moves ``root``, ``release``, ``submitted``… into a temporary course folder).

These settings guard against nbgrader's defaults:

* ``generate_assignment`` copies every non-notebook file of ``solutions/<section>/`` into the
  release — that would put the reference module into ``exercises/``. The course directory of the
  generate step therefore ignores ``*.py`` (the modules are released by ``grader/release.py``,
  which stubs them). ``python -m grader release`` generates into a temporary folder and copies
  only the notebooks, so it does not depend on this.
* ``autograde`` overwrites the submission's non-notebook files with the source versions — that
  would grade the reference module instead of the student's. ``Autograde.exclude_overwriting``
  lists each section's module, so the student's own ``<module>.py`` is what the notebook imports.
* ``generate_assignment --force`` replaces ``exercises/<section>/`` with what it generated — without
  the student modules. Its convert hooks (:func:`grader.notebooks.nbgrader_release_hooks`) sync
  the points table and the figures before and write the stub modules after, so nbgrader's own
  command releases exactly what ``python -m grader release`` does for that section.
* ``autograde`` compares each locked cell with the instructor's version, which holds the hidden
  tests the student never had: every untouched test cell would be reported as changed.
  ``grader.notebooks.OverwriteReleasedCells`` compares it with its released version instead.
* ``autograde`` runs the student's notebook in nbgrader's stock kernel, with the grader's files in
  reach, and scores the test cells from what that kernel printed. :func:`grader.notebooks.confine_cli_autograde`
  makes the kernel the confining launcher (``grader/sandbox/kernel.py``) and scores the test cells
  with the grader's sandboxed module grade, as ``grader.notebooks.autograde`` does
  (``COURSE_TRUSTED_NOTEBOOKS=1`` keeps nbgrader's defaults, for trusted notebooks only).
* ``generate_feedback`` renders the autograded notebook, whose test cells were restored with their
  hidden tests (nbgrader#1363). ``grader.notebooks.HideHiddenTests`` removes the hidden regions and
  shortens error tracebacks of those cells before the HTML is written.
"""

import os
import sys

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader reads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))
if ROOT not in sys.path:
    sys.path.append(ROOT)  # grader.notebooks (the feedback preprocessor)

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "chatgpt-ch6"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")

IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".pytest_cache"]
c.CourseDirectory.ignore = IGNORE
# only for `nbgrader generate_assignment`: never copy the reference modules into the release
c.GenerateAssignmentApp.CourseDirectory.ignore = [*IGNORE, "*.py"]

# `nbgrader generate_assignment SECTION [--force]` releases what `python -m grader release` does:
# the points table and figures first, the stub modules after (--force replaced exercises/SECTION)
from grader.notebooks import nbgrader_release_hooks  # noqa: E402

c.GenerateAssignment.pre_convert_hook, c.GenerateAssignment.post_convert_hook = nbgrader_release_hooks(
    os.path.join(ROOT, "solutions"), os.path.join(ROOT, "exercises"), os.path.join(ROOT, "figures")
)

# an untouched test cell (released without its hidden tests) is not reported as changed
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.notebooks.OverwriteReleasedCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# the student's module is graded, not the reference: {section: ["<module>.py"]}
_solutions = os.path.join(ROOT, "solutions")
c.Autograde.exclude_overwriting = {
    name: [f"{name.split('_', 1)[1]}.py"]
    for name in sorted(os.listdir(_solutions) if os.path.isdir(_solutions) else [])
    if name.startswith("sec") and "_" in name
}

# late submissions: the course's late policy (grader/classroom/course.toml [late]), as in the batch grade
c.AssignLatePenalties.plugin_class = "grader.nbgrader_plugins.CourseLatePenalty"

# the students' kernels run confined and the test cells are scored by the grader, not by the kernel
from grader.notebooks import confine_cli_autograde  # noqa: E402

confine_cli_autograde(c)

# each test cell runs a whole exercise's tests; the slowest (training) needs well under a minute
c.Execute.timeout = 120

c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.notebooks.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
