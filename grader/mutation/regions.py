"""The pure parts of the mutation check: where a solution file may be mutated, how the mutated
copy is named at import, how results are counted and how the triage files are read.

Only the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is what a student writes, so
only that code is mutated: every other line of a solution file (imports, docstrings, given code,
the ``def`` lines themselves) is handed to the mutation tool as a line it must not touch.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"

# the statuses the mutation tool reports, grouped the way this check counts them
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SURVIVED = {"survived", "no tests", "suspicious", "skipped"}


class RegionError(ValueError):
    """A solution file whose markers do not pair up."""


def solution_regions(source: str) -> list[tuple[int, int]]:
    """The 1-based, inclusive line ranges strictly inside each BEGIN/END SOLUTION pair."""
    regions: list[tuple[int, int]] = []
    start = None
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text == BEGIN:
            if start is not None:
                raise RegionError(f"line {number}: {BEGIN} inside another solution region")
            start = number
        elif text == END:
            if start is None:
                raise RegionError(f"line {number}: {END} without {BEGIN}")
            if number - start > 1:
                regions.append((start + 1, number - 1))
            start = None
    if start is not None:
        raise RegionError(f"line {start}: {BEGIN} is never closed")
    return regions


def lines_outside_regions(source: str) -> set[int]:
    """Every line number of ``source`` that is not inside a solution region (markers included)."""
    inside = {n for first, last in solution_regions(source) for n in range(first, last + 1)}
    total = len(source.splitlines())
    return {n for n in range(1, total + 1) if n not in inside}


def module_name(section: str, module: str) -> str:
    """The dotted name the mutation tool gives the mutated copy of ``<section>/<module>.py``."""
    return f"{section}.{module}"


def function_sources(source: str) -> dict[str, str]:
    """Every top-level function and class method of a module (named as :func:`function_of` names
    them: ``softmax``, ``Class.method``) → its syntax tree as text, without line numbers and without
    its docstring (the mutation tool never mutates a docstring, so it does not number its mutants):
    two versions of a module give the same text for a function exactly when its code is the same,
    wherever it moved in the file."""

    def code_of(fn) -> str:
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
            if isinstance(body[0].value.value, str):
                body = body[1:]
        return ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(fn.args) + str(fn.name)

    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = code_of(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out[f"{node.name}.{item.name}"] = code_of(item)
    return out


def mutant_pattern(module: str, function: str) -> str:
    """The mutation tool's name pattern for every mutant of ``function`` in ``module``
    (``sec39_attention_math.attention_math``)."""
    if "." in function:
        cls, name = function.split(".")
        return f"{module}.xǁ{cls}ǁ{name}__mutmut_*"
    return f"{module}.x_{function}__mutmut_*"


def naming_header(name: str) -> str:
    """One line of code that gives a module loaded under any name the name ``name``.

    The course loads a section's file under a name unique to its path; the mutation tool's
    switch between the original and a mutant compares a function's ``__module__`` with the name
    it gave the file, so the mutated copy renames itself before defining anything (and is
    registered under that name too, for code that looks a class's module up). One line, so that
    the line numbers the tool recorded for the file stay right."""
    return (
        "import sys as _course_mutation_sys; "
        f"_course_mutation_sys.modules.update({{{name!r}: _course_mutation_sys.modules[__spec__.name]}} "
        "if __spec__ is not None and __spec__.name in _course_mutation_sys.modules else {}); "
        f"__name__ = {name!r}; "
    )


def add_naming_header(source: str, name: str) -> str:
    """``source`` with :func:`naming_header` put in front of its first statement after the
    docstring and the ``__future__`` imports (the only statements that must come first); the
    line count does not change when that statement is a simple one."""
    tree = ast.parse(source)
    first = None
    for index, node in enumerate(tree.body):
        is_doc = index == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (is_doc or is_future):
            first = node
            break
    lines = source.splitlines(keepends=True)
    header = naming_header(name)
    if first is None:
        return source + ("" if source.endswith("\n") or not source else "\n") + header.rstrip("; ") + "\n"
    at = first.lineno - 1
    if not isinstance(first, _SIMPLE):  # a compound statement cannot follow ';' on its line
        return "".join(lines[:at]) + header.rstrip("; ") + "\n" + "".join(lines[at:])
    return "".join(lines[:at]) + header + "".join(lines[at:])


_SIMPLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Import,
    ast.ImportFrom,
    ast.Pass,
    ast.Delete,
    ast.Return,
    ast.Raise,
    ast.Global,
    ast.Nonlocal,
    ast.Assert,
    ast.Break,
    ast.Continue,
)


# --- counting -------------------------------------------------------------------------------


@dataclass
class Tally:
    statuses: dict[str, str]  # mutant name -> status
    equivalent: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def killed(self) -> list[str]:
        return sorted(n for n, s in self.statuses.items() if s in KILLED)

    @property
    def survivors(self) -> list[str]:
        return sorted(n for n, s in self.statuses.items() if s not in KILLED)

    def kill_rate(self) -> float | None:
        """Killed / all mutants."""
        return len(self.killed) / self.total if self.total else None

    def kill_rate_non_equivalent(self) -> float | None:
        """Killed / mutants not triaged as equivalent (the goal: at least 0.95)."""
        counted = self.total - len(self.equivalent & set(self.survivors))
        return len(self.killed) / counted if counted else None


def function_of(mutant: str) -> str:
    """``sec39_attention_math.attention_math.x_softmax__mutmut_3`` -> ``softmax``."""
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    if "ǁ" in mangled:  # a method: xǁClassǁname
        _, cls, name = mangled.split("ǁ")
        return f"{cls}.{name}"
    return mangled.removeprefix("x_")


_ROW = re.compile(r"^\|\s*`?([A-Za-z0-9_.ǁ]+__mutmut_\d+)`?\s*\|\s*([^|]+?)\s*\|\s*(.*?)\s*\|\s*$")


def read_triage(text: str) -> dict[str, tuple[str, str]]:
    """Triage rows ``| mutant | verdict | reason |`` -> {mutant: (verdict, reason)}.

    A verdict is ``equivalent`` (the reason says why no test can tell it apart),
    ``fixed by <test id>`` or ``not killed yet``."""
    rows = {}
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def equivalent_mutants(triage: dict[str, tuple[str, str]]) -> set[str]:
    """The mutants a triage marks as equivalent, each with a reason (one without is not counted)."""
    return {name for name, (verdict, reason) in triage.items() if verdict.lower() == "equivalent" and reason}


# --- triage helpers -----------------------------------------------------------------------------


def _diff_sides(diff: str) -> tuple[list[str], list[str]]:
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return removed, added


class _BlankText(ast.NodeTransformer):
    """Blank the literal text of strings (f-string pieces included), keep every expression."""

    def visit_Constant(self, node):
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node):
        self.generic_visit(node)
        node.values = [v for v in node.values if not (isinstance(v, ast.Constant) and v.value == "")]
        return node


def _literal_text(tree) -> str:
    return "".join(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def message_text_only(diff: str) -> bool:
    """True when a mutant's diff changes one ``raise`` statement only by adding ``XX`` to the
    literal text of its message (mutmut's string mutation): the exception raised, the words of the
    message (which must name the bad argument) and every value formatted into it stay, so the
    message still says the same. Upper/lower-casing the text is not counted (the argument's name
    may change), nor is a change to a formatted value (building the message could then fail)."""
    removed, added = _diff_sides(diff)
    if len(removed) != 1 or len(added) != 1:
        return False
    before, after = removed[0].strip(), added[0].strip()
    if not before.startswith("raise ") or not after.startswith("raise "):
        return False
    try:
        trees = [ast.parse(before), ast.parse(after)]
    except SyntaxError:
        return False
    text_before, text_after = (_literal_text(t) for t in trees)
    before_dump, after_dump = (ast.dump(_BlankText().visit(t)) for t in trees)
    return before_dump == after_dump and text_before != text_after and text_after.replace("XX", "") == text_before


def _one_line_change(diff: str) -> tuple[ast.AST, ast.AST] | None:
    """The statement a one-line diff replaces and its replacement, parsed (None otherwise)."""
    removed, added = _diff_sides(diff)
    if len(removed) != 1 or len(added) != 1:
        return None
    trees = []
    for line in (removed[0].strip(), added[0].strip()):
        for candidate in (line, line.rstrip(":") + ": pass", "if 1:\n " + line):
            try:
                trees.append(ast.parse(candidate))
                break
            except SyntaxError:
                continue
        else:
            return None
    return trees[0], trees[1]


class _NoAstypeCopy(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "astype":
            node.keywords = [k for k in node.keywords if k.arg != "copy"]
        return node


def astype_copy_only(diff: str) -> bool:
    """True when a mutant only changes (or drops) the ``copy=`` flag of ``.astype`` calls: the
    values, dtype and shape returned stay the same; only whether a new array is allocated
    changes (``copy=None`` means False, no flag means True), which no contract asks about."""
    trees = _one_line_change(diff)
    if trees is None:
        return False
    differs = ast.dump(trees[0]) != ast.dump(trees[1])
    before, after = (ast.dump(_NoAstypeCopy().visit(t)) for t in trees)
    return differs and before == after


def einsum_case_only(diff: str) -> bool:
    """True when a mutant only upper-cases the lower-case subscripts of an ``einsum`` call: the
    same letters in the same places, the same contraction."""
    trees = _one_line_change(diff)
    if trees is None:
        return False
    changed = []
    for b, a in zip(ast.walk(trees[0]), ast.walk(trees[1])):
        if type(b) is not type(a):
            return False
        if isinstance(b, ast.Constant) and b.value != a.value:
            changed.append((b.value, a.value))
        elif isinstance(b, ast.AST) and not isinstance(b, ast.Constant):
            fields_b = {k: v for k, v in ast.iter_fields(b) if not isinstance(v, (ast.AST, list))}
            fields_a = {k: v for k, v in ast.iter_fields(a) if not isinstance(v, (ast.AST, list))}
            if fields_b != fields_a:
                return False
    if len(changed) != 1 or not all(isinstance(v, str) for v in changed[0]):
        return False
    einsum_args = [
        c.args[0]
        for c in ast.walk(trees[0])
        if isinstance(c, ast.Call) and getattr(c.func, "attr", getattr(c.func, "id", None)) == "einsum" and c.args
    ]
    old, new = changed[0]
    is_subscripts = any(isinstance(x, ast.Constant) and x.value == old for x in einsum_args)
    return is_subscripts and old == old.lower() and new == old.upper()


def killing_test_id(nodeid: str, section: str) -> str:
    """A workspace test id (``tests/public/…``, ``tests/hidden/…``) as the repository's path."""
    path, sep, rest = nodeid.partition("::")
    name = path.rpartition("/")[2]
    if path.startswith("tests/hidden/"):
        return f"grader/hidden/{name}{sep}{rest}"
    if path.startswith("tests/public/"):
        return f"tests/{name}{sep}{rest}"
    return nodeid
