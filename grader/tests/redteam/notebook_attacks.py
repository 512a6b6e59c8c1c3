"""The hostile notebook: an attack on notebook grading (nbgrader's kernel and its test cells).

Built on a copy of the untouched release (``exercises/``): the §39 module patches the grader's
test-cell helper at import so that every test cell would hand out full marks, and a code cell of the
notebook reads the reference solution and the hidden tests, tries the network and prints its uid.
Contained when the cell's reads are denied, the network is closed, the kernel is not root, the
autograded cells score 0 and the feedback quotes no line of the solutions or hidden tests
(``test_notebooks.py``, ``test_notebooks_cli_confined.py``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader import notebooks as nbs
from grader.sections import SOLUTIONS, Section

SECTION = Section("sec39_attention_math")

SPY = """import os, socket
for path in {paths!r}:
    try:
        print("SPY read", open(path, encoding="utf-8").read())
    except OSError as e:
        print("SPY denied", type(e).__name__)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    print("SPY network open")
except OSError as e:
    print("SPY network closed", type(e).__name__)
print("SPY uid", os.getuid())
"""

PATCH = """
# hostile: make the notebook's test-cell helper hand out full marks
try:
    import grader.notebooks as _helper

    _helper.grade_exercise = lambda *args, **kwargs: 1000.0
except ImportError:
    pass
"""


def hostile_notebook(sub: Path) -> None:
    """Edit the copy ``sub`` (laid out like ``exercises/``) in place: the module's patch and the spy cell."""
    module = SECTION.module_file(sub)
    module.write_text(module.read_text(encoding="utf-8") + PATCH, encoding="utf-8")
    path = nbs.notebook_path(sub, SECTION.name)
    nb = nbformat.read(str(path), as_version=4)
    secrets = [str(SECTION.module_file(SOLUTIONS)), *map(str, SECTION.hidden_test_files())]
    nb.cells.insert(3, nbformat.v4.new_code_cell(SPY.format(paths=secrets)))
    nbformat.write(nb, str(path))
