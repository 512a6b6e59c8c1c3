"""``python -m grader release --out DIR``: write a complete student repository.

What goes in: the generated ``exercises/``, the public ``tests/``, ``figures/``, the grader package
without its hidden suites, mutants and self-tests, the pinned requirements, and the student's own
README, tox.ini and grade workflow from ``grader/student_template/``. What never goes in:
``solutions/``, ``grader/hidden/``, ``grader/mutants/``, ``grader/tests/`` — and :func:`leaked_lines`
proves that no line of a solution region appears anywhere in the written tree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader.release import BEGIN, END, release_exercises
from grader.sections import REPO, SOLUTIONS

TEMPLATE = REPO / "grader" / "student_template"
COPIED = ["exercises", "tests", "figures", "conftest.py", "requirements.txt", "pyproject.toml"]
GRADER_LEFT_OUT = {"hidden", "mutants", "mutation", "tests", "student_template", "__pycache__"}
WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")


class StudentRepoError(Exception):
    pass


def write_student_repo(out: Path) -> list[Path]:
    """Write the student repository into ``out`` (which must not exist or be empty)."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise StudentRepoError(f"{out}: folder exists and is not empty")
    if out == REPO or REPO in out.parents and out.parts[len(REPO.parts)] in ("solutions", "exercises", "grader"):
        raise StudentRepoError(f"{out}: choose a folder outside the course sources")
    drift = release_exercises(check=True)
    if drift:
        raise StudentRepoError("exercises/ is out of date; run `python -m grader release` first: " + ", ".join(drift))
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=IGNORE)
        elif src.is_file():
            shutil.copy2(src, out / name)
    grader_ignore = shutil.ignore_patterns(*GRADER_LEFT_OUT, "*.pyc")
    shutil.copytree(
        REPO / "grader",
        out / "grader",
        ignore=lambda d, names: grader_ignore(d, names) if Path(d) == REPO / "grader" else IGNORE(d, names),
    )
    for name in ("README.md", "tox.ini"):
        shutil.copy2(TEMPLATE / name, out / name)
    (out / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, out / ".github" / "workflows" / "grade.yml")
    (out / ".gitignore").write_text((REPO / ".gitignore").read_text(encoding="utf-8"), encoding="utf-8")
    leaked = leaked_lines(out)
    if leaked:
        raise StudentRepoError(f"solution text found in the release: {leaked[:3]}")
    return sorted(p for p in out.rglob("*") if p.is_file())


def solution_regions() -> list[list[str]]:
    """The code of every solution region: its stripped, non-empty, non-comment lines."""
    regions: list[list[str]] = []
    for path in sorted(SOLUTIONS.rglob("*.py")):
        current = None
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped == BEGIN:
                current = []
            elif stripped == END:
                regions.append(current)
                current = None
            elif current is not None and stripped and not stripped.startswith("#"):
                current.append(stripped.split("  #")[0].rstrip())
    return [r for r in regions if r]


def _windows(lines: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(lines[i : i + size]) for i in range(len(lines) - size + 1)}


def leaked_lines(root: Path, window: int = 3) -> list[str]:
    """Pieces of solution code found in any text file under ``root``: any ``window`` consecutive
    lines of a region (a whole region when it is shorter), compared without indentation and comments."""
    pieces: set[tuple[str, ...]] = set()
    for region in solution_regions():
        pieces |= _windows(region, min(window, len(region)))
    found = []
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.suffix in {".png", ".jpg", ".pdf", ".pyc", ".db"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ipynb":  # compare the cells' code, not the JSON
                text = "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            continue
        lines = [ln.strip().split("  #")[0].rstrip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        for size in {len(p) for p in pieces}:
            for piece in _windows(lines, size) & {p for p in pieces if len(p) == size}:
                found.append(f"{path.relative_to(root)}: {' / '.join(piece)}")
    return found
