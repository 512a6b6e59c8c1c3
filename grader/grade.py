"""The grade command: collect → run → judge for every section, in parallel, with progress.

By default every section runs sandboxed (target ``sandbox:<root>``): the submission's code runs
only in worker processes forked from one zygote shared by all sections of this grade (see
``grader/sandbox/``); ``sandbox=False`` imports it into the test processes (trusted code only).

Hidden grading of untrusted code needs the workers' minimal filesystem view (``fsview.py``: root,
or user namespaces without root). Where it cannot be built, :func:`grade` refuses (raises
:class:`UnsafeGrading`) unless the caller says the submission is trusted; public-only grading
still runs there (the public tests hold nothing a student does not have).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.collect import GradingError, collect
from grader.judge import judge_section
from grader.results import GradeResult
from grader.run import run_section
from grader.sections import HIDDEN_TESTS

TRUSTED_ENV = "COURSE_GRADE_TRUSTED"  # "1": the instructor said the submissions are trusted
SIMULATE_ENV = "COURSE_SANDBOX_SIMULATE_NO_VIEW"  # "1": behave as on a machine without the view
WARM_ENV = "COURSE_WARM_RUNNER"  # "0": one new pytest process per section instead of the warm runner


class UnsafeGrading(GradingError):
    """Hidden grading refused: the sandbox's filesystem view cannot be built on this machine."""


def hidden_available() -> bool:
    return any(HIDDEN_TESTS.glob("test_sec*.py"))


_VIEW_PROBE: dict[str, str | None] = {}


def view_unavailable() -> str | None:
    """Why the workers' filesystem view cannot be built here (None: it can). Measured once per
    process by a short-lived probe that tries what a worker does (a private mount namespace with
    tmpfs mounts, inside a user namespace when not root)."""
    import os
    import subprocess
    import sys

    if os.environ.get(SIMULATE_ENV) == "1":
        return f"simulated by ${SIMULATE_ENV}"
    if "reason" not in _VIEW_PROBE:
        from grader.sandbox import fsview

        try:
            proc = subprocess.run(
                [sys.executable, "-I", fsview.__file__, "--probe"], stdin=subprocess.DEVNULL,
                capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            ok = proc.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        who = "as root" if os.geteuid() == 0 else "without root, user namespaces"
        _VIEW_PROBE["reason"] = None if ok else f"{who}: no private mount namespace could be made"
    return _VIEW_PROBE["reason"]


def refusal(reason: str) -> str:
    return (
        f"the sandbox cannot build its filesystem view on this machine ({reason}), so a submission "
        "could read other files of this machine (other submissions, your home folder). Hidden tests "
        "are not run like that. Grade as root or where user namespaces are enabled "
        "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), grade with "
        "--public-only, or pass --trusted if you trust the submission's code."
    )


def expected_seconds(section, hidden: bool) -> float:
    """The reference's measured worker time for the section's suites (``grader/time_budget.json``)."""
    import json

    from grader.sandbox.pool import TIME_BUDGET_FILE

    try:
        sections = json.loads(TIME_BUDGET_FILE.read_text(encoding="utf-8")).get("sections", {})
        return float(sections.get(section.name, {}).get("all" if hidden else "public", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def longest_first(section_jobs: list, hidden: bool) -> list:
    return sorted(section_jobs, key=lambda job: -expected_seconds(job.section, hidden))


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
    trusted: bool | None = None,
    runner=None,
) -> GradeResult:
    """Grade the folder ``root`` (laid out like ``exercises/``). ``progress(section_name)`` is called
    as each section finishes. ``zygote``: a running :class:`grader.sandbox.pool.Zygote` to share
    (batch grading); by default one is started for this grade. ``trusted``: grade with hidden tests
    even where the filesystem view cannot be built (default: ``$COURSE_GRADE_TRUSTED == "1"``)."""
    import os

    from grader import tamper

    root = Path(root).resolve()
    root, tampered = tamper.locate(root)
    section_jobs = collect(root, only)
    hidden = hidden and hidden_available()
    if trusted is None:
        trusted = os.environ.get(TRUSTED_ENV) == "1"
    if sandbox and hidden and not trusted and (reason := view_unavailable()):
        raise UnsafeGrading(refusal(reason))
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
    own_runner = None
    if runner is None and os.environ.get(WARM_ENV, "1") != "0":
        from grader.run import child_env
        from grader.warm import WarmRunner

        runner = own_runner = WarmRunner(child_env())

    def one(job):
        outcome = run_section(
            job.section, impl, hidden=hidden, seed=seed, env=env, timeout=section_timeout, runner=runner
        )
        if progress:
            progress(job.section.name)
        return judge_section(job, outcome)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            # longest first (the reference's measured time), so that no long section starts last;
            # the report keeps the chapter's order
            futures = {id(job): pool.submit(one, job) for job in longest_first(section_jobs, hidden)}
            result.sections = [futures[id(job)].result() for job in section_jobs]
    finally:
        if own_zygote is not None:
            own_zygote.close()
        if own_runner is not None:
            own_runner.close()
    return result
