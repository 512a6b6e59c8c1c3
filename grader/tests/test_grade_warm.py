"""The warm runner (grader/warm.py) gives a section run the same records as a new pytest process,
and a run that outlives its timeout is stopped and reported as before. The zygote it forks holds
nothing of the grader's environment or folder."""

from __future__ import annotations

import os

import pytest

from grader.run import run_section
from grader.sections import SOLUTIONS, Section
from grader.warm import WarmRunner

SECTION = Section("sec38_attention")


@pytest.fixture(scope="module")
def runner():
    r = WarmRunner()
    yield r
    r.close()


def test_same_records_as_a_new_process(runner):
    warm = run_section(SECTION, str(SOLUTIONS), hidden=False, runner=runner)
    cold = run_section(SECTION, str(SOLUTIONS), hidden=False)
    assert not warm.problems and not cold.problems
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert strip(warm.records) == strip(cold.records) and len(warm.records) > 5


def test_timeout_stops_the_run(runner):
    # §42's hidden suites train two models (seconds of work): they cannot finish within one second
    outcome = run_section(Section("sec42_gpt"), str(SOLUTIONS), hidden=True, runner=runner, timeout=1)
    assert any("did not finish within" in p for p in outcome.problems), outcome.problems


# --- the zygote forked by the runner (WarmRunner(zygote=True), what ``grade`` and ``batch`` use) ---

MARKER = "course-grader-environment-marker-41c7"
PROBE = """
import os, sys

def environment():
    # the environment strings the process was started with (the zygote's, copied by every fork):
    # on the stack, just before the program's name (AT_EXECFN); /proc/self/environ is not readable
    import ctypes

    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    top = libc.getauxval(31)
    return ctypes.string_at(top - 8192, 8192).decode("latin-1")

def search_path():
    return list(sys.path)

def loaded(name):
    return name in sys.modules
"""


@pytest.fixture(scope="module")
def runner_with_zygote():
    os.environ["COURSE_TEST_SECRET"] = MARKER  # in the grader's environment only
    try:
        r = WarmRunner(zygote=True)
        r._wait_ready()
    finally:
        del os.environ["COURSE_TEST_SECRET"]
    yield r
    r.close()


def _probe(runner, root, monkeypatch):
    """A sandboxed PROBE submission whose worker comes from ``runner``'s zygote."""
    from grader.sandbox import pool

    toy = Section("sec99_toy")
    (root / toy.name).mkdir()
    (root / toy.name / "toy.py").write_text(PROBE, encoding="utf-8")
    monkeypatch.setattr(pool, "_ZYGOTE", pool.Zygote(runner.zygote_path))
    return pool.SandboxTarget(toy, root, pool.SandboxConfig(call_timeout=10))


@pytest.fixture
def probe_target(runner_with_zygote, tmp_path, monkeypatch):
    from grader.sandbox import pool

    target = _probe(runner_with_zygote, tmp_path, monkeypatch)
    yield target
    target.close()
    pool._ZYGOTE.close()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def test_runner_starts_without_the_graders_environment(runner_with_zygote):
    """Oracle: /proc/PID/environ, the environment block the runner (and so the zygote it forks)
    holds in memory. A runner started with the grader's environment fails here."""
    with open(f"/proc/{runner_with_zygote.proc.pid}/environ", "rb") as f:
        block = f.read().decode()
    assert MARKER not in block, "the runner's memory holds the grader's environment (its zygote's workers can read it)"


def test_zygote_is_the_runners_child_and_listens(runner_with_zygote):
    from grader.sandbox.pool import Zygote

    kids = _children(runner_with_zygote.proc.pid)
    assert kids, "the runner forked no zygote"
    z = Zygote(runner_with_zygote.zygote_path)
    try:
        z.connect(5)
    finally:
        z.close()


def test_worker_from_the_runners_zygote_sees_no_grader_environment(probe_target):
    """Oracle: the start-up environment block in the worker's own memory, read as a submission can."""
    block = probe_target.environment()
    assert "PATH=/usr/bin:/bin" in block, "the probe did not find the environment block (the check reads nothing)"
    assert MARKER not in block, "a worker read the grader's environment from its memory"


def test_worker_from_the_runners_zygote_has_no_grader_folder_on_its_path(probe_target):
    from grader.sections import REPO

    path = probe_target.search_path()
    assert str(REPO) not in path, f"`import grader` would search the grader's folder: {path}"


def test_probe_finds_what_the_zygote_was_started_with(tmp_path, monkeypatch):
    """The mutant: a runner started with the marker in its environment. The probe of the test
    above must find it there (else that test could not fail)."""
    from grader.sandbox import pool

    plain = pool.zygote_env
    monkeypatch.setattr(pool, "zygote_env", lambda: {**plain(), "COURSE_TEST_SECRET": MARKER})
    runner = WarmRunner(zygote=True)
    target = _probe(runner, tmp_path, monkeypatch)
    try:
        assert MARKER in target.environment()
    finally:
        target.close()
        pool._ZYGOTE.close()
        runner.close()


def test_runner_child_takes_its_temporary_folder_from_its_request(runner, tmp_path):
    """As a fresh pytest process would: the runner's own imports found /tmp (its environment has
    no TMPDIR); a run whose environment names another folder must get that one."""
    from grader.run import child_env

    (tmp_path / "own-tmp").mkdir()
    (tmp_path / "test_tmp.py").write_text(
        "import os, tempfile\n"
        "def test_tmp():\n"
        "    assert tempfile.gettempdir() == os.environ['TMPDIR'], tempfile.gettempdir()\n",
        encoding="utf-8",
    )
    env = {**child_env(), "TMPDIR": str(tmp_path / "own-tmp")}
    rc, output = runner.run(["-q", "-p", "no:cacheprovider", str(tmp_path / "test_tmp.py")], cwd=str(tmp_path),
                            env=env, timeout=120)  # fmt: skip
    assert rc == 0, output[-1500:]


# --- what is imported where: the optimiser's torch._dynamo in the zygote only --------------------


def test_worker_from_the_runners_zygote_has_the_optimisers_modules_loaded(probe_target):
    """Oracle: ``sys.modules`` in the worker. The zygote imports torch._dynamo (a submission's first
    optimiser step would import it, about a second in every worker) before it forks."""
    assert probe_target.loaded("torch._dynamo"), "a worker imports torch._dynamo again at its first optimiser step"


def test_runner_children_import_what_the_tests_need_and_not_the_optimisers_modules(runner_with_zygote, tmp_path):
    """Oracle: ``sys.modules`` in a section's pytest process forked by a runner with a zygote:
    symbolic_shapes (the tests' autograd.grad) is shared from the runner, torch._dynamo (only the
    submission's training uses it, in the workers) was left to the zygote."""
    from grader.run import child_env

    (tmp_path / "test_modules.py").write_text(
        "import sys\n"
        "def test_modules():\n"
        "    assert 'torch.fx.experimental.symbolic_shapes' in sys.modules\n"
        "    assert 'torch._dynamo' not in sys.modules\n",
        encoding="utf-8",
    )
    rc, output = runner_with_zygote.run(["-q", "-p", "no:cacheprovider", str(tmp_path / "test_modules.py")],
                                        cwd=str(tmp_path), env=child_env(), timeout=120)  # fmt: skip
    assert rc == 0, output[-1500:]


def test_runner_ends_when_its_zygote_does_not_start(tmp_path):
    """The runner says it is ready before its zygote is (the zygote finishes its imports meanwhile);
    a zygote that cannot listen (its socket's folder does not exist) ends the runner, with why."""
    import subprocess
    import sys

    from grader.sandbox.pool import zygote_env
    from grader.sections import REPO

    proc = subprocess.run(
        [sys.executable, "-B", "-m", "grader.warm", str(tmp_path / "runner.sock"), str(tmp_path / "no" / "zygote.sock")],
        env={**zygote_env(), "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.stdout.startswith("ready"), proc.stdout
    assert proc.returncode != 0 and "the zygote did not start" in proc.stderr, (proc.returncode, proc.stderr[-800:])
