"""The grader's modules import each other without cycles at import time, the target loaders and the
sandbox not even through imports inside functions (oracle: the import graph read from the source
with ``ast``), and the two import in either order."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sections import REPO

GRADER = REPO / "grader"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _grader_modules() -> dict[str, Path]:
    skip = ("tests", "hidden", "mutants", "student_template")
    return {
        _module_name(p): p
        for p in GRADER.rglob("*.py")
        if not any(part in skip for part in p.relative_to(GRADER).parts)
    }


def _imports(path: Path, known: set[str], deferred: bool = True) -> set[str]:
    """Grader modules a file imports; ``deferred``: also those imported inside functions."""
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not deferred:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found.update(n for n in names if n in known)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_reports_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_are_told_apart(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import grader.a\ndef f():\n    from grader import b\n", encoding="utf-8")
    known = {"grader.a", "grader.b"}
    assert _imports(path, known, deferred=False) == {"grader.a"}
    assert _imports(path, known, deferred=True) == known


def _graph(deferred: bool) -> dict[str, set[str]]:
    modules = _grader_modules()
    # a package's __init__ is imported with any of its modules: ignore the package→own-module edges
    return {
        name: {m for m in _imports(path, set(modules), deferred) if m != name and not m.startswith(name + ".")}
        for name, path in modules.items()
    }


def test_no_import_cycle_between_grader_modules_at_import_time():
    graph = _graph(deferred=False)
    assert "grader.targets" in graph and "grader.sandbox.pool" in graph
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_targets_and_sandbox_share_no_cycle_even_through_imports_inside_functions():
    graph = _graph(deferred=True)
    near = {m for m in graph if m in ("grader.targets", "grader.errors") or m.startswith("grader.sandbox")}
    cycle = _cycle({m: graph[m] & near for m in near})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize(
    "order", [("grader.targets", "grader.sandbox.pool"), ("grader.sandbox.pool", "grader.targets")]
)
def test_targets_and_pool_import_in_either_order(order):
    code = (
        "; ".join(f"import {m}" for m in order)
        + "; import grader.errors as e, grader.targets as t, grader.sandbox.pool as p; assert t.TargetError is e.TargetError and p.SubmissionCrash is e.SubmissionCrash"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_grade_command_imports_neither_pytest_nor_torch(tmp_path):
    """The process of ``python -m grader grade`` only schedules and judges: pytest and PyTorch are
    loaded once, in the warm runner (``grader/warm.py``), not again in the process that starts it.
    Oracle: ``sys.modules`` after a real (public-only, one-section) grade of the reference."""
    code = (
        "import sys\n"
        "import grader.cli\n"
        f"sys.argv = ['grader', 'grade', {str(REPO / 'solutions')!r}, '--section', 'sec38_attention', "
        f"'--public-only', '--json', {str(tmp_path / 'g.json')!r}]\n"
        "try:\n"
        "    grader.cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('pytest', 'torch') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "g.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]", f"the grading process imports {proc.stdout.strip()[-200:]}"
