"""The grade command: collect → run → judge for every section, in parallel, with progress.

Small steps, shared with ``grader.batch``: :func:`prepare` (once per submission: its folder, the
protected files it changed, its sections' files), :func:`run_part` (one run of a section's suites:
a section is one run, or two when its training suites are long, :func:`section_parts`),
:func:`assemble` (the runs judged per section, into one :class:`GradeResult`). The runs are tasks
of ``grader.schedule`` on ``jobs`` threads, the longest first (each :class:`Part`'s measured cost); a batch
puts the runs of all its submissions on one such pool.

By default every section runs sandboxed (target ``sandbox:<root>``): the submission's code runs
only in worker processes forked from one zygote shared by all sections of this grade (see
``grader/sandbox/``); ``sandbox=False`` imports it into the test processes (trusted code only).

Hidden grading of untrusted code needs the workers' minimal filesystem view (``fsview.py``: root,
or user namespaces without root). Where it cannot be built, :func:`grade` refuses (raises
:class:`UnsafeGrading`) unless the caller says the submission is trusted; public-only grading
still runs there (the public tests hold nothing a student does not have).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from grader.collect import GradingError, SectionJob, collect
from grader.judge import judge_section
from grader.results import GradeResult
from grader.run import RunOutcome, merge_outcomes, run_section, split_suites, suite_files
from grader.schedule import Done, Task, run_longest_first
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


def measured_seconds(section) -> dict[str, float]:
    """The reference's measured worker time for each of the section's suites ("public", "all", and
    for a section with a training suite "main" and "training"; ``grader/time_budget.json``)."""
    import json

    from grader.sandbox.pool import TIME_BUDGET_FILE

    try:
        entry = json.loads(TIME_BUDGET_FILE.read_text(encoding="utf-8")).get("sections", {}).get(section.name, {})
        return {str(k): float(v) for k, v in entry.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


SPLIT_SECONDS = 4.0  # a hidden training suite measured at least this long runs beside the rest


@dataclass(frozen=True)
class Part:
    """One run of a section's suites: ``suites`` names the part (and its time budget), ``files``
    its suite files, ``cost`` its expected seconds (the order of starting)."""

    suites: str
    files: tuple[Path, ...]
    cost: float


def section_parts(section, hidden: bool) -> list[Part]:
    """The runs a section is graded in: one with all its suites, or — when its hidden training
    suites take at least :data:`SPLIT_SECONDS` of the reference's time — two, the training suites
    and the rest ("training", "main"), so that a long section uses two cores instead of one while
    the others wait. Each part's time budget is its measured share of the section's (see
    ``grader.sandbox.pool``); their results are merged into one before judging."""
    from grader.sandbox.pool import SPLIT_PARTS

    measured = measured_seconds(section)
    rest, training = split_suites(section) if hidden else ([], [])
    if training and all(p in measured for p in SPLIT_PARTS) and measured["training"] >= SPLIT_SECONDS:
        return [Part(name, tuple(files), measured[name]) for name, files in zip(SPLIT_PARTS, (rest, training))]
    suites = "all" if hidden else "public"
    return [Part(suites, tuple(suite_files(section, hidden)), measured.get(suites, 0.0))]


@dataclass(eq=False)  # compared (and hashed) by identity: the group of its sections' tasks
class Submission:
    """One collected submission, ready to run: its folder, its section jobs (chapter order) and how
    they run. Made once per submission by :func:`prepare`, whatever the order its sections run in."""

    root: Path
    section_jobs: list[SectionJob]
    tampered: list[str]
    hidden: bool
    seed: int
    sandbox: bool

    @property
    def impl(self) -> str:
        return f"sandbox:{self.root}" if self.sandbox else str(self.root)


def prepare(
    root: Path, *, only=None, hidden: bool = True, seed: int = 0, sandbox: bool = True, trusted: bool | None = None
) -> Submission:
    """The steps of a submission before any section runs: find its sections' folder and the
    protected files it changed, collect its sections' files, and refuse hidden grading where it
    would be unsafe (:class:`UnsafeGrading`)."""
    import os

    from grader import tamper

    root, tampered = tamper.locate(Path(root).resolve())
    section_jobs = collect(root, only)
    hidden = hidden and hidden_available()
    if trusted is None:
        trusted = os.environ.get(TRUSTED_ENV) == "1"
    if sandbox and hidden and not trusted and (reason := view_unavailable()):
        raise UnsafeGrading(refusal(reason))
    return Submission(root, section_jobs, tampered, hidden, seed, sandbox)


@dataclass
class Services:
    """What every section run of one grade or one batch shares: the zygote's address and the call
    timeout (in ``env``), the warm runner (None: a new pytest process per section), the time limit,
    and the zygote itself (None: not sandboxed)."""

    env: dict[str, str]
    runner: object | None
    section_timeout: float
    zygote: object | None = None


@contextmanager
def services(*, sandbox: bool = True, call_timeout: float | None = None, zygote=None, runner=None,
             section_timeout: float = 900):  # fmt: skip
    """Start what is not given — the warm runner (unless ``$COURSE_WARM_RUNNER`` is "0"), the
    zygote (sandboxed grading: forked by a runner started here, else a process of its own) — and
    close on exit what was started here."""
    import os

    env: dict[str, str] = {}
    started = []
    try:
        if runner is None and os.environ.get(WARM_ENV, "1") != "0":
            from grader.warm import WarmRunner

            runner = WarmRunner(zygote=sandbox and zygote is None)  # one PyTorch import for both
            started.append(runner)
        if sandbox:
            from grader.sandbox.pool import ZYGOTE_ENV, Zygote

            if zygote is None and getattr(runner, "zygote_path", None):
                zygote = Zygote(runner.zygote_path)
                started.insert(0, zygote)  # our connection, closed before the runner that holds it
            if zygote is None:
                zygote = Zygote()
                started.append(zygote)
            env[ZYGOTE_ENV] = zygote.path
        if call_timeout is not None:
            env["COURSE_CALL_TIMEOUT"] = str(call_timeout)
        yield Services(env, runner, section_timeout, zygote if sandbox else None)
    finally:
        for service in started:
            service.close()


def run_part(sub: Submission, job: SectionJob, part: Part, shared: Services) -> RunOutcome:
    """One run of one section of one submission: the unit of work of ``grade`` and ``batch``."""
    return run_section(
        job.section, sub.impl, hidden=sub.hidden, seed=sub.seed, env=shared.env, timeout=shared.section_timeout,
        runner=shared.runner, files=list(part.files), suites=part.suites,
    )  # fmt: skip


def section_tasks(sub: Submission, shared: Services, progress=None) -> list[Task]:
    """One task per part of each section of ``sub`` (grouped by ``sub``; see :func:`section_parts`),
    costing its expected seconds, so that the longest start first. Each returns ``(job,
    RunOutcome)``; :func:`assemble` judges them. ``progress(section_name)`` once a section's last
    part has finished."""
    lock = threading.Lock()
    left: dict[str, int] = {}

    def work(job: SectionJob, part: Part) -> tuple[SectionJob, RunOutcome]:
        outcome = run_part(sub, job, part, shared)
        with lock:
            left[job.section.name] -= 1
            finished = left[job.section.name] == 0
        if progress and finished:
            progress(job.section.name)
        return job, outcome

    tasks = []
    for job in sub.section_jobs:
        parts = section_parts(job.section, sub.hidden)
        left[job.section.name] = len(parts)
        tasks += [Task(sub, part.cost, partial(work, job, part)) for part in parts]
    return tasks


def assemble(sub: Submission, dones: list[Done]) -> GradeResult:
    """The submission's result from its sections' finished tasks (chapter order): each section's
    parts merged and judged. A section that could not be graded (the grader itself failed) raises
    its error, the first in chapter order."""
    for done in dones:
        if done.error is not None:
            raise done.error
    by_job: dict[int, tuple[SectionJob, list[RunOutcome]]] = {}
    for done in dones:
        job, outcome = done.value
        by_job.setdefault(id(job), (job, []))[1].append(outcome)
    sections = [judge_section(job, merge_outcomes(outcomes)) for job, outcomes in by_job.values()]
    return GradeResult(
        target=str(sub.root), sections=sections, hidden_included=sub.hidden, seed=sub.seed,
        sandboxed=sub.sandbox, tampered=sub.tampered,
    )  # fmt: skip


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
    """Grade the folder ``root`` (laid out like ``exercises/``), ``jobs`` sections at a time, the
    longest first; the report keeps the chapter's order. ``progress(section_name)`` is called as
    each section finishes. ``zygote``: a running :class:`grader.sandbox.pool.Zygote` to share; by
    default one is started for this grade (and ``runner``, a :class:`grader.warm.WarmRunner`,
    likewise). ``trusted``: grade with hidden tests even where the filesystem view cannot be built
    (default: ``$COURSE_GRADE_TRUSTED == "1"``)."""
    sub = prepare(root, only=only, hidden=hidden, seed=seed, sandbox=sandbox, trusted=trusted)
    with services(
        sandbox=sandbox, call_timeout=call_timeout, zygote=zygote, runner=runner, section_timeout=section_timeout
    ) as shared:
        dones = run_longest_first(section_tasks(sub, shared, progress), jobs).get(sub, [])
    return assemble(sub, dones)
