"""The grade command: collect → run → judge for every section, in parallel, with progress.

By default every section runs sandboxed (target ``sandbox:<root>``): the submission's code runs
only in worker processes forked from one zygote shared by all sections of this grade (see
``grader/sandbox/``); ``sandbox=False`` imports it into the test processes (trusted code only).
"""

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


def grade(
    root: Path,
    *,
    jobs: int = 2,
    seed: int = 0,
    hidden: bool = True,
    only=None,
    progress=None,
    sandbox: bool = True,
    call_timeout: float | None = None,
    zygote=None,
    section_timeout: float = 900,
) -> GradeResult:
    """Grade the folder ``root`` (laid out like ``exercises/``). ``progress(section_name)`` is called
    as each section finishes. ``zygote``: a running :class:`grader.sandbox.pool.Zygote` to share
    (batch grading); by default one is started for this grade."""
    from grader import tamper

    root = Path(root).resolve()
    root, tampered = tamper.locate(root)
    section_jobs = collect(root, only)
    hidden = hidden and hidden_available()
    result = GradeResult(target=str(root), hidden_included=hidden, seed=seed, sandboxed=sandbox, tampered=tampered)
    env = {}
    own_zygote = None
    if sandbox:
        from grader.sandbox.pool import ZYGOTE_ENV, Zygote

        if zygote is None:
            zygote = own_zygote = Zygote()
        env[ZYGOTE_ENV] = zygote.path
    if call_timeout is not None:
        env["COURSE_CALL_TIMEOUT"] = str(call_timeout)
    impl = f"sandbox:{root}" if sandbox else str(root)

    def one(job):
        outcome = run_section(job.section, impl, hidden=hidden, seed=seed, env=env, timeout=section_timeout)
        if progress:
            progress(job.section.name)
        return judge_section(job, outcome)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            result.sections = list(pool.map(one, section_jobs))
    finally:
        if own_zygote is not None:
            own_zygote.close()
    return result
