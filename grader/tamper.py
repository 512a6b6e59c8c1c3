"""Tamper report: which protected files a submission changed (the grade always uses the grader's own).

Protected are the files that decide a grade or how tests run: the public tests, the root
``conftest.py``, ``tox.ini``, ``pyproject.toml``, the workflows and the grader's own modules. Their
SHA-256 hashes come from the grader's checkout (:func:`manifest`; :func:`write_manifest` stores
them for a released repository). A submission is either a student repository (a folder holding
``exercises/``) or a folder laid out like ``exercises/``; in the latter case its parent is checked
when it looks like a student repository. Files that would change a pytest run if they were read
(``conftest.py``, ``pytest.ini``, ``sitecustomize.py``, ``*.pth``, a shadow ``numpy/`` …) are reported
when added next to the exercises — they are never read: the worker imports only the section module,
and pytest runs with the grader's configuration and test files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader.sections import REPO, is_section_name

PROTECTED_GLOBS = ("tests/test_*.py", "tests/conftest.py", "conftest.py", "tox.ini", "pyproject.toml",
                   ".github/workflows/*.yml", "grader/*.py", "grader/report/*.py", "grader/sandbox/*.py",
                   "grader/pytest.ini")  # fmt: skip
SUSPICIOUS_NAMES = {"conftest.py", "pytest.ini", "setup.cfg", "tox.ini", "sitecustomize.py", "usercustomize.py",
                    "numpy", "torch", "pytest", "_pytest", "grader", "pluggy"}  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(root: Path = REPO) -> dict[str, str]:
    """Relative path → SHA-256 of every protected file of the grader's checkout."""
    out = {}
    for pattern in PROTECTED_GLOBS:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                out[str(path.relative_to(root))] = _sha256(path)
    return out


def write_manifest(dst: Path, root: Path = REPO) -> None:
    Path(dst).write_text(json.dumps(manifest(root), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _has_sections(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_dir() and is_section_name(p.name) for p in folder.iterdir())


def locate(path: Path) -> tuple[Path, list[str]]:
    """(the folder holding the section folders, tamper findings) for a submission path."""
    path = Path(path)
    repo = None
    if not _has_sections(path) and _has_sections(path / "exercises"):
        repo, path = path, path / "exercises"
    elif path.name == "exercises" and ((path.parent / "tests").is_dir() or (path.parent / "tox.ini").is_file()):
        repo = path.parent
    findings = []
    if repo is not None and repo.resolve() != REPO.resolve():
        findings += compare(repo)
    if path.is_dir():
        findings += suspicious(path)
    return path, findings


# files that a student repository gets from grader/student_template/ instead of this checkout
RELEASED_FROM_TEMPLATE = {"tox.ini": REPO / "grader" / "student_template" / "tox.ini"}


def compare(repo: Path) -> list[str]:
    findings = []
    for rel, digest in manifest().items():
        theirs = repo / rel
        allowed = {digest}
        if rel in RELEASED_FROM_TEMPLATE and RELEASED_FROM_TEMPLATE[rel].is_file():
            allowed.add(_sha256(RELEASED_FROM_TEMPLATE[rel]))
        if theirs.is_symlink() or (theirs.exists() and not theirs.is_file()):
            findings.append(f"modified: {rel} (not a regular file)")
        elif theirs.is_file():
            if _sha256(theirs) not in allowed:
                findings.append(f"modified: {rel}")
        elif rel.startswith("tests/test_sec"):
            findings.append(f"deleted: {rel}")
    for name in ("pytest.ini", "setup.cfg", "sitecustomize.py", "usercustomize.py"):
        if (repo / name).exists():
            findings.append(f"added: {name}")
    return findings


def suspicious(sections_root: Path) -> list[str]:
    findings = []
    for path in sorted(sections_root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.name in SUSPICIOUS_NAMES or path.suffix == ".pth":
            findings.append(f"added: {path.relative_to(sections_root.parent)} (ignored)")
    return findings[:50]
