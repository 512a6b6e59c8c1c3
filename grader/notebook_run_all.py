"""Run All goes on past unfinished work: a cell that reaches an unimplemented function says so.

A released module's stubs raise ``NotImplementedError``; without help, Jupyter's Run All (and
``nbclient``) stops at the first cell that calls one, so the autograded cells of finished
exercises further down never run. :func:`install` (called when a notebook's setup imports
``grader.notebooks``) registers an IPython handler that, for such a cell,

* prints one line instead of a traceback: 「まだ実装されていません (not implemented yet): <function>…」,
* reports the cell as finished (the kernel's reply is ``ok``), so every frontend runs the next cell,
* remembers the names the cell would have assigned: a later cell that fails only because one of
  them is missing (``NameError``) says so in one line and goes on too.

Every other error keeps its traceback and stops Run All as usual. The autograded cells are not
affected: ``grade_exercise`` catches the stub's error itself and scores the exercise 0.
"""

from __future__ import annotations

import ast

NOT_IMPLEMENTED = "まだ実装されていません (not implemented yet)"
SKIPPED = "前のセルが未実装の関数で止まったため、まだありません (not defined yet: an earlier cell stopped at an unimplemented function)"


def assigned_names(source: str) -> set[str]:
    """Names a cell's code binds (assignments, imports, definitions, loop targets)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def install(shell=None) -> bool:
    """Register the handler in the running IPython shell (once); False outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or getattr(shell, "_course_run_all", False):
        return False
    missing: set[str] = set()  # names that cells stopped by a stub did not bind

    def handler(shell, etype, value, tb, tb_offset=None):
        if isinstance(value, NameError) and getattr(value, "name", None) not in missing:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)  # a real mistake: stop as usual
            return None
        result = getattr(shell.displayhook, "exec_result", None)
        if result is not None:
            missing.update(assigned_names(shell.transform_cell(result.info.raw_cell or "")))
            result.error_in_exec = None  # the cell is done: Run All goes on
        if isinstance(value, NameError):
            print(f"⚠ {value.name}: {SKIPPED}")
        else:
            print(f"⚠ {NOT_IMPLEMENTED}: {value} — 次のセルへ進みます (going on with the next cell)")
        return None

    shell.set_custom_exc((NotImplementedError, NameError), handler)
    shell._course_run_all = True
    return True
