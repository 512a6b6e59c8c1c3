r"""Untrusted text made safe for each report format.

Any text a report shows may contain what a submission chose: its exception message (public
tests), its file and folder names (tamper findings, batch rows), its import error. Every report
passes every dynamic string through the function of its format here, so that nothing a student
writes can become a heading, a link, a mention, HTML, a broken table, an ANSI sequence, a GitHub
workflow command (``::error::``) or a forged ``Points X/Y`` line, or a spreadsheet formula.

* :func:`one_line` — the base of all of them: control characters (C0, C1, DEL, ANSI escape
  sequences, bidirectional overrides, zero-width characters) removed, whitespace runs collapsed to
  one space, length capped with an ellipsis.
* :func:`markdown_text` — for GitHub-flavoured Markdown (step summary, pull-request comment):
  every ASCII punctuation character that Markdown could read as markup is backslash-escaped
  (CommonMark shows an escaped character literally: ``\|`` cannot split a table cell, ``\<``
  cannot open HTML, ``\[`` cannot start a link); GitHub's own text filters (``@user`` mentions,
  ``#12`` references, bare ``https://`` and ``www.`` links) are broken with a zero-width space,
  which the reader does not see.
* :func:`log_text` — for the terminal and the GitHub log: one line, so every line the grader
  prints starts with the grader's own text (student text never starts at column 0).
* :func:`csv_cell` — for spreadsheets: a cell that begins with ``= + - @``, a tab or a carriage
  return is prefixed with ``'`` so that it is read as text, not as a formula.
* :func:`xml_text` — for JUnit XML: characters XML 1.0 cannot hold are dropped (ElementTree then
  escapes ``<``, ``&`` and quotes).
"""

from __future__ import annotations

import re
import unicodedata

MAX_MESSAGE = 300

# ESC [ ... final byte, ESC ] ... BEL/ST, and any other two-character ESC sequence
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format (bidi, zero-width), separators
_ZWSP = "\u200b"
# every ASCII punctuation character Markdown or GFM could read as markup, backslash-escaped
_MD_PUNCTUATION = set("\\`*_{}[]()<>#+-.!|~&$=:^")


def one_line(text, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one clean line of at most ``limit`` characters."""
    text = _ANSI.sub("", str(text))
    out = []
    for ch in text:
        if ch in "\t\n\r\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in _INVISIBLE:
            continue
        else:
            out.append(ch)
    line = re.sub(r" {2,}", " ", "".join(out)).strip()
    if len(line) > limit:
        line = line[: max(0, limit - 1)].rstrip() + "…"
    return line


def markdown_text(text, limit: int = MAX_MESSAGE) -> str:
    """One line of literal text for GitHub Markdown (table cells, list items)."""
    line = one_line(text, limit)
    safe = "".join("\\" + ch if ch in _MD_PUNCTUATION else ch for ch in line)
    # GitHub's post-processing works on the rendered text: break mentions, references and autolinks
    safe = safe.replace("@", "@" + _ZWSP).replace("\\#", "\\#" + _ZWSP).replace("://", ":" + _ZWSP + "//")
    return re.sub(r"(?i)\bwww\\\.", lambda m: m.group(0)[:3] + _ZWSP + "\\.", safe)


def log_text(text, limit: int = MAX_MESSAGE) -> str:
    """One line for the terminal / CI log; the caller prints it after its own prefix."""
    return one_line(text, limit)


def csv_cell(value):
    """A CSV cell that a spreadsheet reads as text (numbers pass through unchanged)."""
    if not isinstance(value, str):
        return value
    text = one_line(value, 1000)
    if text[:1] in ("=", "+", "-", "@") or value[:1] in ("\t", "\r"):
        text = "'" + text
    return text


def xml_text(text, limit: int = 2000) -> str:
    """Text XML 1.0 can hold (a student's message may contain any character)."""
    text = _ANSI.sub("", str(text))
    return "".join(c for c in text if c in "\t\n" or (ord(c) >= 32 and c not in "\ufffe\uffff"))[:limit]
