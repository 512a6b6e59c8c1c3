"""Red team, filesystem: submissions that look for something to copy on the machine, leave files
behind, or try to undo the worker's filesystem view (grader/tests/redteam/fs_attacks.py), graded
by the real ``batch`` command next to a correct submission of another student (the victim).

Planted on the host before the batch, readable by everyone (so that only the view stands between
them and the worker): decoy copies of the solutions in /tmp and under /home, an SSH key of the
grading user whose text is a working softmax, and leftovers of an earlier student in /tmp,
/var/tmp and /dev/shm. Oracle: each attack scores 0 on softmax only if it was contained (it
returns the right answer exactly when it found or wrote what it looked for); §38 keeps full points;
no file an attack wrote is on the host afterwards.

The batch runs as the user running the tests; as root it also runs once more as an unprivileged
user (uid 65534, in a private mount namespace that makes the Python installation reachable), where
the worker keeps the grader's uid and only the view (in a user namespace) protects that user's
files.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import exercise_scores, run_cli
from redteam import fs_attacks
from redteam.attacks import ATTACKED, EXERCISE, build_copy

from grader.sandbox import fsview
from grader.sections import REPO, SOLUTIONS, Section

OTHER = Section("sec38_attention")
NOBODY = 65534
UNPRIVILEGED = [  # the attacks that matter most without root (the worker keeps the grader's uid)
    "fs_steal_other_submission", "fs_decoy_solutions_in_tmp_and_home", "fs_leave_files_behind",
    "fs_read_leftovers_of_an_earlier_student", "fs_read_ssh_key", "fs_write_site_packages",
    "fs_remount_and_unmount", "fs_ptrace_the_grader", "fs_inherited_descriptors",
]  # fmt: skip
TIME_LIMIT = 900


def _view_or_skip():
    from grader.grade import view_unavailable

    reason = view_unavailable()
    if reason:
        pytest.skip(f"no filesystem view on this machine ({reason}): hidden grading refuses here")


def _plant(owner: int | None) -> tuple[fs_attacks.Context, list[Path], Path]:
    """Decoys, a fake home with an SSH key, leftovers; everything world-readable."""
    made: list[Path] = []
    source = ATTACKED.module_file(SOLUTIONS).read_text(encoding="utf-8")
    decoys = []
    tops = [Path("/tmp")] + ([Path("/home")] if os.access("/home", os.W_OK) else [])
    for top in tops:
        d = Path(tempfile.mkdtemp(prefix="course-decoy-solutions-", dir=top))
        made.append(d)
        (d / ATTACKED.name).mkdir()
        (d / ATTACKED.name / f"{ATTACKED.module}.py").write_text(source, encoding="utf-8")
        decoys.append(str(d))
    home = Path(tempfile.mkdtemp(prefix="course-fake-home-", dir="/tmp"))
    made.append(home)
    (home / ".ssh").mkdir()
    key = home / ".ssh" / "id_ed25519"
    key.write_text(source, encoding="utf-8")
    leftovers = []
    for d in fs_attacks.MARKER_DIRS:
        path = Path(d) / fs_attacks.LEFTOVER_NAME
        if os.access(d, os.W_OK):
            path.write_text(source, encoding="utf-8")
            made.append(path)
            leftovers.append(str(path))
    for path in made:
        for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
            if owner is not None:
                os.chown(p, owner, owner)
    if owner is not None:  # the key belongs to the grading user and only to it, as on a laptop
        os.chmod(key, 0o600)
    return fs_attacks.Context(decoys=decoys, ssh_key=str(key), leftovers=leftovers), made, home


def _markers(home: Path) -> list[str]:
    places = [Path(d) for d in fs_attacks.MARKER_DIRS] + [home]
    found = [str(p / fs_attacks.MARKER_NAME) for p in places if (p / fs_attacks.MARKER_NAME).exists()]
    for d in {*sys.path, sys.prefix, sys.base_prefix}:
        for name in ("sitecustomize.py", fs_attacks.MARKER_NAME + ".pth"):
            if d and (Path(d) / name).exists() and name != "sitecustomize.py":
                found.append(str(Path(d) / name))
    return found


def _batch(folder: Path, names, ctx, home: Path, run=None, owner: int | None = None):
    """Grade the victim and the attacks; the grader's temporary folder (where it keeps the
    workers' copies) is private to this batch, so that leftovers can be counted."""
    subs = folder / "submissions"
    subs.mkdir(parents=True)
    grader_tmp = folder / "grader-tmp"
    grader_tmp.mkdir()
    build_copy(subs / "victim")
    for name in names:
        fs_attacks.build(name, subs / name, ctx)
    if owner is not None:
        for p in [folder, *folder.rglob("*")]:
            os.chown(p, owner, owner, follow_symlinks=False)
    out = folder / "grades.csv"
    args = ["batch", str(subs), "--csv", str(out), "--jobs", "2", "--call-timeout", "10", "--public-only",
            "--section", ATTACKED.name, "--section", OTHER.name]  # fmt: skip
    start = time.monotonic()
    proc = (run or run_cli)(*args, env={"HOME": str(home), "TMPDIR": str(grader_tmp)}, timeout=TIME_LIMIT + 60)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    reports = out.with_name("grades_reports")
    data = {n: json.loads((reports / f"{n}.json").read_text(encoding="utf-8")) for n in ["victim", *names]}
    with open(out, encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    left = sorted(p.name for p in grader_tmp.iterdir())
    return {"data": data, "rows": rows, "seconds": seconds, "markers": _markers(home), "left": left}


@pytest.fixture(scope="module")
def fs_batch(tmp_path_factory):
    _view_or_skip()
    ctx, made, home = _plant(None)
    try:
        yield _batch(tmp_path_factory.mktemp("redteam_fs"), sorted(fs_attacks.FS_ATTACKS), ctx, home)
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _reachable_python_script() -> str:
    """Shell lines (run as root in a private mount namespace) that make the Python installation
    reachable for another user when it lives under a private folder (e.g. /root, a 0700 .tox)."""
    lines, stash = ["set -e"], 0
    for prefix in sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}):
        parts = prefix.split("/")
        blocked = next(("/".join(parts[:i]) for i in range(2, len(parts) + 1)
                        if not os.stat("/".join(parts[:i])).st_mode & 0o001), None)  # fmt: skip
        if blocked is None:
            continue
        tmp = f"/tmp/.course-stash-{os.getpid()}-{stash}"
        stash += 1
        lines += [f"mkdir -p {tmp}", f"mount --bind {prefix} {tmp}", f"mount -t tmpfs -o mode=755,size=1m tmpfs {blocked}",
                  f"mkdir -p {prefix}", f"mount --move {tmp} {prefix}", f"rmdir {tmp}"]  # fmt: skip
    return "\n".join(lines)


@pytest.fixture(scope="module")
def nobody_batch(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the main batch already runs without root here")
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("unshare/setpriv not installed")
    _view_or_skip()
    folder = Path(tempfile.mkdtemp(prefix="course-unprivileged-", dir="/tmp"))
    copy = folder / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", ".tox", "__pycache__", "*.egg-info"))
    ctx, made, home = _plant(NOBODY)
    for p in [folder, *folder.rglob("*")]:
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    script = _reachable_python_script() + '\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"\n'

    def run(*args, env, timeout):
        full = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(copy), **env}
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
               sys.executable, "-m", "grader", *args]  # fmt: skip
        return subprocess.run(cmd, cwd=copy, env=full, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)  # fmt: skip

    try:
        result = _batch(folder / "work", UNPRIVILEGED, ctx, home, run=run, owner=NOBODY)
        yield result
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _sections(report):
    return {s["name"]: s for s in report["sections"]}


def _check_attack(batch, name):
    by_name = _sections(batch["data"][name])
    other, victim_other = by_name[OTHER.name], _sections(batch["data"]["victim"])[OTHER.name]
    assert other["score"] == victim_other["score"] > 0, f"{name} cost {OTHER.name} points"
    score, max_score = exercise_scores(by_name[ATTACKED.name])[EXERCISE]
    assert score == 0 < max_score, f"{name}: the attack succeeded ({EXERCISE} got {score}/{max_score})"


def test_there_are_at_least_nine_filesystem_attacks():
    assert len(fs_attacks.FS_ATTACKS) >= 9


def test_the_victim_loses_nothing_in_the_view(fs_batch):
    """Oracle: the reference solutions pass every public test (only the grader's own time limit
    on a loaded machine may cost a test)."""
    report = fs_batch["data"]["victim"]
    lost = [(t["name"], t["message"]) for s in report["sections"] for e in s["exercises"] for t in e["tests"]
            if t["status"] != "passed" and "time limit of the grader" not in t["message"]]  # fmt: skip
    assert not lost, lost
    score, max_score = exercise_scores(_sections(report)[ATTACKED.name])[EXERCISE]
    assert score == max_score > 0


@pytest.mark.parametrize("name", sorted(fs_attacks.FS_ATTACKS))
def test_filesystem_attack_is_contained(fs_batch, name):
    _check_attack(fs_batch, name)


def test_nothing_written_outlives_the_grade(fs_batch):
    assert fs_batch["markers"] == [], "files written by a worker are still on the host"
    assert fs_batch["left"] == [], "the grader left folders in its temporary folder"


def test_report_lists_the_layers(fs_batch):
    from grader.sandbox import landlock

    p = fs_batch["data"]["victim"]["protections"]
    assert p["filesystem_view"] == "pivot_root", p
    assert p["landlock"] is (landlock.abi_version() > 0), p
    assert p["tmpfs"] == fsview.tmpfs_sizes({}), p


def test_batch_finishes_in_bounded_time(fs_batch):
    assert fs_batch["seconds"] < TIME_LIMIT


@pytest.mark.parametrize("name", UNPRIVILEGED)
def test_filesystem_attack_is_contained_without_root(nobody_batch, name):
    _check_attack(nobody_batch, name)


def test_without_root_the_view_is_built_in_a_user_namespace(nobody_batch):
    p = nobody_batch["data"]["victim"]["protections"]
    assert p["filesystem_view"] == "pivot_root" and not p["separate_uid"], p
    assert nobody_batch["markers"] == [] and nobody_batch["left"] == []


def test_the_attacks_succeed_when_the_layers_are_off(tmp_path, monkeypatch):
    """The oracle can fail: against a deliberately weakened worker (no view, no Landlock) the decoy
    attack finds the planted copy and returns the right answer; with both layers it scores nothing."""
    import numpy as np

    from grader.sandbox import pool

    _view_or_skip()
    decoy = Path(tempfile.mkdtemp(prefix="course-decoy-solutions-", dir="/tmp"))
    try:
        (decoy / ATTACKED.name).mkdir()
        shutil.copyfile(ATTACKED.module_file(SOLUTIONS), decoy / ATTACKED.name / f"{ATTACKED.module}.py")
        for p in (decoy, decoy / ATTACKED.name, *(decoy / ATTACKED.name).iterdir()):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        ctx = fs_attacks.Context(decoys=[str(decoy)])
        sub = fs_attacks.build("fs_decoy_solutions_in_tmp_and_home", tmp_path / "sub", ctx)
        x = np.random.default_rng(0).normal(size=(3, 4))
        expected = np.exp(x - x.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        fork = pool.Zygote.fork
        weak = lambda self, c, fds, t: fork(self, {**c, "filesystem_view": False, "landlock": False}, fds, t)  # noqa: E731
        monkeypatch.setattr(pool.Zygote, "fork", weak)
        target = pool.SandboxTarget(ATTACKED, sub, pool.SandboxConfig(call_timeout=20))
        try:
            np.testing.assert_allclose(target.softmax(x), expected, rtol=1e-7)
        finally:
            target.close()
        monkeypatch.setattr(pool.Zygote, "fork", fork)
        target = pool.SandboxTarget(ATTACKED, sub, pool.SandboxConfig(call_timeout=20))
        try:
            with pytest.raises(NotImplementedError):
                target.softmax(x)
        finally:
            target.close()
    finally:
        shutil.rmtree(decoy, ignore_errors=True)
