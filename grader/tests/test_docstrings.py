"""Every exercise function documents itself as the contract asks: a docstring with a hint, and the
figures it names exist in figures/ (names exactly as the book's index)."""

from __future__ import annotations

import ast
import re

import pytest

from grader.release import BEGIN
from grader.sections import REPO, SOLUTIONS, all_sections

FIGURE_RE = re.compile(r"chatgpt-book-ch6-[\w-]+\.png")


def exercise_functions(section):
    source = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(
            lines[i].strip() == BEGIN for i in range(node.lineno - 1, node.end_lineno)
        ):
            yield node


@pytest.mark.parametrize("section", all_sections(), ids=lambda s: s.name)
def test_every_exercise_has_a_docstring_with_a_hint(section):
    missing = [f.name for f in exercise_functions(section) if "Hint:" not in (ast.get_docstring(f) or "")]
    assert not missing, f"exercise functions without a 'Hint:' line in their docstring: {missing}"


@pytest.mark.parametrize("section", all_sections(), ids=lambda s: s.name)
def test_figures_named_in_the_module_exist(section):
    text = section.module_file(SOLUTIONS).read_text(encoding="utf-8")
    names = set(FIGURE_RE.findall(text))
    assert names, "the module names no figure of the chapter"
    missing = sorted(n for n in names if not (REPO / "figures" / n).is_file())
    assert not missing, f"figures named in {section.module}.py that are not in figures/: {missing}"
