"""nbgrader configuration of the course: one assignment per section folder.

    solutions/<section>/<section>.ipynb   source notebook (instructor version, hidden tests, model answers)
    exercises/<section>/<section>.ipynb   released notebook (generated: `python -m grader release`)

Read by ``nbgrader ...`` run at the repository root and by ``grader/notebooks.py`` (which loads this
file and only moves ``root``, ``release``, ``submitted``… into a temporary course folder).

Three settings guard against nbgrader's defaults:

* ``generate_assignment`` copies every non-notebook file of ``solutions/<section>/`` into the
  release — that would put the reference module into ``exercises/``. The course directory of the
  generate step therefore ignores ``*.py`` (the modules are released by ``grader/release.py``,
  which stubs them). ``python -m grader release`` generates into a temporary folder and copies
  only the notebooks, so it does not depend on this.
* ``autograde`` overwrites the submission's non-notebook files with the source versions — that
  would grade the reference module instead of the student's. ``Autograde.exclude_overwriting``
  lists each section's module, so the student's own ``<module>.py`` is what the notebook imports.
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

# the student's module is graded, not the reference: {section: ["<module>.py"]}
_solutions = os.path.join(ROOT, "solutions")
c.Autograde.exclude_overwriting = {
    name: [f"{name.split('_', 1)[1]}.py"]
    for name in sorted(os.listdir(_solutions) if os.path.isdir(_solutions) else [])
    if name.startswith("sec") and "_" in name
}

# each test cell runs a whole exercise's tests; the slowest (training) needs well under a minute
c.Execute.timeout = 120

c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.notebooks.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
