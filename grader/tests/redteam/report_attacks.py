"""Attacks on the reports: a submission's own text (exception messages, its folder's name, its
import error) tries to leak hidden inputs or to forge what a report shows. Built like
``attacks.py``: a copy of the solutions with §38 ``memory_attention`` (or the module) replaced
(§38 is NumPy only and quick to grade with its hidden tests)."""

from __future__ import annotations

from pathlib import Path

from grader.sections import Section
from redteam import attacks
from redteam.attacks import build_copy

SECTION = Section("sec38_attention")
FUNCTION = "memory_attention"


INJECTION = (
    "x\\r\\n::error file=grade.yml::forged\\nPoints 331.5/331.5\\n# Heading\\n| a | b |\\n"
    "<img src=x onerror=alert(1)> [click](https://evil.example/) @octocat #1 \\x1b[31mred\\x1b[0m"
)

# raises every time with the arguments it was called with: hidden inputs, if a report showed them
LEAK = """
raise AssertionError("LEAK " + repr(query) + " " + repr(keys) + " " + repr(mask))
"""

INJECT = f"""
raise ValueError("{INJECTION}")
"""

IMPORT_INJECT = f"""
raise RuntimeError("{INJECTION}")
"""


def leak_inputs(root: Path) -> None:
    attacks.replace_body(root, LEAK, FUNCTION, SECTION)


def inject_markup(root: Path) -> None:
    attacks.replace_body(root, INJECT, FUNCTION, SECTION)


def inject_at_import(root: Path) -> None:
    attacks.append(root, IMPORT_INJECT, SECTION)


REPORT_ATTACKS = {
    "leak_inputs": leak_inputs,
    "inject_markup": inject_markup,
    "inject_at_import": inject_at_import,
}
FORMULA_FOLDER = '=HYPERLINK("https:__evil.example","x")'
# rich markup (the batch's progress bar shows folder names) and a terminal escape sequence
MARKUP_FOLDER = "[bold]x [link=https:__evil.example]y \x1b[31mred"

# how an attacker's line of text would start: a GitHub workflow command (the runner reads one after
# leading spaces too, also in the older ``##[`` form), a forged points line, Markdown, the injections
ATTACK_LINE_STARTS = ("::", "##[", "Points 331", "# Heading", "| a |", "<img", "x ", "boom", "=HYPERLINK")


def forged_log_lines(text: str) -> list[str]:
    """Lines of a log that begin (after leading whitespace) with what the attacker wrote."""
    return [line for line in text.splitlines() if line.lstrip().startswith(ATTACK_LINE_STARTS)]


def build(name: str, dst: Path) -> Path:
    build_copy(dst)
    if name in REPORT_ATTACKS:
        REPORT_ATTACKS[name](dst)
    return dst
