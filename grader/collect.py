"""Step 1 — collect: which sections a submission folder has, and what is wrong with their files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.sections import Section, all_sections


class GradingError(Exception):
    """Grading itself cannot proceed (not the student's fault, or nothing to grade at all)."""


@dataclass
class SectionJob:
    section: Section
    module_file: Path
    problems: list[str] = field(default_factory=list)


def collect(root: Path, only: list[str] | None = None) -> list[SectionJob]:
    """One job per section of the chapter. A missing folder, a missing module or a syntax error is
    recorded as a problem of that section (it will score 0); the other sections are unaffected."""
    root = Path(root)
    if not root.exists():
        raise GradingError(f"{root}: no such folder")
    if not root.is_dir():
        raise GradingError(f"{root}: not a folder")
    sections = all_sections()
    if only:
        unknown = set(only) - {s.name for s in sections} - {s.module for s in sections}
        if unknown:
            raise GradingError(f"unknown section(s): {', '.join(sorted(unknown))}")
        sections = [s for s in sections if s.name in only or s.module in only]
    jobs = []
    for section in sections:
        job = SectionJob(section, section.module_file(root))
        if not (root / section.name).is_dir():
            job.problems.append(f"{root / section.name}: section folder missing")
        elif not job.module_file.is_file():
            job.problems.append(f"{job.module_file}: file missing")
        else:
            job.problems.extend(_syntax_problems(job.module_file))
        jobs.append(job)
    return jobs


def _syntax_problems(path: Path) -> list[str]:
    try:
        compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as e:
        return [f"{path}:{e.lineno}: syntax error: {e.msg}"]
    except ValueError as e:  # e.g. NUL bytes
        return [f"{path}: cannot be compiled: {e}"]
    return []
