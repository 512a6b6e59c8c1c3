"""Forbidden shortcuts: an exercise must not call the library function it teaches.

Each section may have ``grader/forbidden_rules/<section>.py`` with
``RULES = {"<exercise>": ["scaled_dot_product_attention", "MultiheadAttention", ...]}``.
The check reads the submission's source (it never runs it): every name, attribute and string
used by the exercise's function — and, transitively, by the module-level functions and variables
it refers to — is compared with the rule's names. A match gives that exercise 0 points.

This scan is the early hint (it also runs where nothing is sandboxed, e.g. in notebooks). A name
built at run time (``getattr(F, "scaled_dot_" + "product_attention")``, ``importlib``, ``exec``, a
helper module) is caught where it runs: in a sandboxed grading run the worker's guard
(``grader/sandbox/guard.py``) records every banned function an exercise calls, the sandbox facts
carry them as ``"forbidden": {exercise: [names]}``, and the judge merges them with this scan.
"""

from __future__ import annotations

import ast
import importlib
import threading
from pathlib import Path

# CPython 3.11's ast.parse is not safe in two threads at once: a garbage collection in the middle
# of building the tree can switch threads and the second parse fails with "SystemError: AST
# constructor recursion depth mismatch". `grade --jobs` and `batch --jobs` judge sections in
# threads, so every parse here goes through this lock.
_PARSE_LOCK = threading.Lock()


def parse_source(source: str) -> ast.Module:
    """``ast.parse`` that may be called from several threads."""
    with _PARSE_LOCK:
        return ast.parse(source)


def rules_for(section_name: str) -> dict[str, list[str]]:
    try:
        module = importlib.import_module(f"grader.forbidden_rules.{section_name}")
    except ModuleNotFoundError:
        return {}
    return dict(getattr(module, "RULES", {}))


def _identifiers(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names read, attributes + imported names + short strings) used in a statement."""
    names, others = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            others.add(sub.attr)
        elif isinstance(sub, ast.alias):
            others.update(filter(None, (sub.name.split(".")[-1], sub.asname)))
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) < 200:
            others.add(sub.value)
    return names, others


def _module_definitions(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """Top-level name → the statements that define it (functions, classes, assignments, imports)."""
    defs: dict[str, list[ast.AST]] = {}
    for stmt in tree.body:
        names: list[str] = []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [stmt.name]
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in stmt.names]
        for name in names:
            defs.setdefault(name, []).append(stmt)
    return defs


def scan_source(source: str, rules: dict[str, list[str]]) -> dict[str, list[str]]:
    """Exercise → forbidden names it uses (directly or through module-level helpers)."""
    tree = parse_source(source)
    defs = _module_definitions(tree)
    star = any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree))
    violations: dict[str, list[str]] = {}
    for exercise, banned in rules.items():
        if exercise not in defs:
            continue
        seen, todo, used = {exercise}, [exercise], set()
        while todo:
            for stmt in defs.get(todo.pop(), []):
                names, others = _identifiers(stmt)
                # a bare name is the module's own definition (followed below); one defined nowhere
                # in the module can only come from a star import
                used |= others | (names - defs.keys() if star else set())
                for name in names & defs.keys():
                    if name not in seen:
                        seen.add(name)
                        todo.append(name)
        hits = sorted(b for b in banned if b in used)
        if hits:
            violations[exercise] = hits
    return violations


def scan_file(path: Path, section_name: str) -> dict[str, list[str]]:
    rules = rules_for(section_name)
    if not rules or not Path(path).is_file():
        return {}
    try:
        return scan_source(Path(path).read_text(encoding="utf-8"), rules)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return {}  # reported elsewhere as a syntax error; every test fails anyway


def message(names: list[str]) -> str:
    from grader.messages import t

    return t("forbidden", names=", ".join(names))
