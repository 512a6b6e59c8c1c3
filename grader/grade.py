"""The grade command: collect → run → judge for every section, in parallel, with progress."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.collect import collect
from grader.judge import judge_section
from grader.results import GradeResult
from grader.run import run_section
from grader.sections import HIDDEN_TESTS


def hidden_available() -> bool:
    return any(HIDDEN_TESTS.glob("test_sec*.py"))


def grade(root: Path, *, jobs: int = 2, seed: int = 0, hidden: bool = True, only=None, progress=None) -> GradeResult:
    """Grade the folder ``root`` (laid out like ``exercises/``). ``progress(section_name)`` is called
    as each section finishes."""
    root = Path(root).resolve()
    section_jobs = collect(root, only)
    hidden = hidden and hidden_available()
    result = GradeResult(target=str(root), hidden_included=hidden, seed=seed)

    def one(job):
        outcome = run_section(job.section, str(root), hidden=hidden, seed=seed)
        if progress:
            progress(job.section.name)
        return judge_section(job, outcome)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        result.sections = list(pool.map(one, section_jobs))
    return result
