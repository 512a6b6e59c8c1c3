"""The worker's filesystem view (grader/sandbox/fsview.py), Landlock (landlock.py) and the refusal
of hidden grading where the view cannot be built (grader/grade.py, the command line).

Oracles: the plan is compared with the host's own Python prefixes and the worker's own folders; a
worker's view is probed from inside with files the test planted on the host (and the same probes
find them when both layers are switched off, so they can fail); tmpfs limits with the sizes the
plan names; leftovers by looking on the host after the worker is gone.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from helpers import run_cli

from grader.grade import SIMULATE_ENV, view_unavailable
from grader.sandbox import fsview, landlock, pool
from grader.sandbox.pool import SandboxConfig, SandboxTarget
from grader.sections import REPO, Section

TOY = Section("sec97_fsprobe")
SOURCE = '''
import ctypes
import os
import sys

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read(64).decode("latin-1")
    except OSError as e:
        return e.errno

def exists(path):
    return os.path.lexists(path)

def fill(folder, chunk, count):
    """Write ``count`` files of ``chunk`` bytes; (bytes written, errno of the first failure)."""
    total, err, made = 0, 0, []
    for i in range(count):
        path = os.path.join(folder, f"fill{i}")
        try:
            made.append(path)
            with open(path, "wb") as f:
                f.write(b"x" * chunk)
            total += chunk
        except OSError as e:
            err = e.errno
            break
    for path in made:
        try:
            os.unlink(path)
        except OSError:
            pass
    return total, err

def touch(folder, name):
    try:
        with open(os.path.join(folder, name), "w") as f:
            f.write("written by the worker")
        return 0
    except OSError as e:
        return e.errno

def home():
    return os.environ["HOME"]

def site_dirs():
    return [p for p in sys.path if p and os.path.isdir(p)]

def umount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.umount2(path.encode(), 2) == 0
'''

MARKER = "course-fs-test-marker"


def _target(root: Path, **overrides) -> SandboxTarget:
    return SandboxTarget(TOY, root, SandboxConfig(call_timeout=20, **overrides))


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fsprobe")
    (root / TOY.name).mkdir()
    (root / TOY.name / "fsprobe.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def viewed(toy_root):
    if view_unavailable():
        pytest.skip(f"no filesystem view on this machine ({view_unavailable()})")
    target = _target(toy_root)
    yield target
    target.close()


@pytest.fixture(scope="module")
def host_secret():
    """A world-readable file in the host's /tmp, as another student's leftover would be."""
    d = Path(tempfile.mkdtemp(prefix="course-host-secret-", dir="/tmp"))
    os.chmod(d, 0o755)
    path = d / "secret.txt"
    path.write_text("host secret", encoding="utf-8")
    os.chmod(path, 0o644)
    yield path
    path.unlink()
    d.rmdir()


def _cfg(tmp_path: Path, uid=None) -> dict:
    sub = tmp_path / "sub" / "sec01_x"
    sub.mkdir(parents=True)
    (tmp_path / "home").mkdir()
    (tmp_path / "bin").mkdir()
    return {"home": str(tmp_path / "home"), "bin": str(tmp_path / "bin"), "module_file": str(sub / "x.py"),
            "uid": uid, "hide": [str(REPO)]}  # fmt: skip


# --- the plan (pure) ---------------------------------------------------------------------------


def test_plan_exposes_only_the_interpreter_system_libraries_devices_and_the_own_copy(tmp_path):
    cfg = _cfg(tmp_path)
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    allowed = [*prefixes, *fsview.SYSTEM_DIRS, *(os.path.realpath(f) for f in fsview.SYSTEM_FILES),
               *fsview.DEVICES, str(tmp_path / "sub"), str(tmp_path / "bin")]  # fmt: skip
    allowed += [os.path.realpath(d) for d in fsview.SYSTEM_DIRS if os.path.exists(d)]
    allowed += fsview.interpreter_paths([], sys.path, cfg["hide"])
    sources = fsview.visible_roots(fsview.plan(cfg))
    outside = [s for s in sources if not any(s == a or s.startswith(a.rstrip("/") + "/") for a in allowed)]
    assert not outside, f"the view exposes more of the host: {outside}"
    for never in ("/", "/home", "/tmp", "/srv", "/root", str(REPO), str(tmp_path)):
        assert never not in sources


def test_plan_keeps_the_prefixes_but_no_import_folder_inside_a_hidden_one(tmp_path):
    hidden, other, prefix = tmp_path / "repo", tmp_path / "elsewhere", tmp_path / "repo" / ".venv"
    for d in (hidden / "grader" / "sandbox", other, prefix):
        d.mkdir(parents=True, exist_ok=True)
    got = fsview.interpreter_paths([str(prefix)], [str(hidden / "grader" / "sandbox"), str(other), ""], [str(hidden)])
    assert got == sorted([str(prefix), str(other)])


def test_plan_binds_no_import_folder_that_holds_a_hidden_one(tmp_path):
    # oracle: the folders made here; a PYTHONPATH entry above the checkout would show all of it
    hidden, other = tmp_path / "work" / "repo", tmp_path / "elsewhere"
    for d in (hidden / "solutions", other):
        d.mkdir(parents=True, exist_ok=True)
    got = fsview.interpreter_paths([], [str(tmp_path / "work"), str(tmp_path), str(other)], [str(hidden)])
    assert got == [str(other)], "an import folder that contains the hidden checkout must not be bound"


def test_plan_gives_every_tmpfs_a_byte_and_inode_limit_and_a_private_home(tmp_path):
    cfg = _cfg(tmp_path, uid=1234)
    tmpfs = {e["target"]: e for e in fsview.plan(cfg) if e["kind"] == "tmpfs"}
    home = str(tmp_path / "home")
    assert {"/tmp", "/var/tmp", "/dev/shm", home} <= set(tmpfs)
    for target, e in tmpfs.items():
        assert e["bytes"] > 0 and e["inodes"] > 0 and not e["exec"], target
    assert tmpfs[home]["owner"] == 1234 and tmpfs[home]["mode"] == "0700"
    assert tmpfs["/tmp"]["owner"] is None and tmpfs["/tmp"]["mode"] == "1777"


def test_plan_binds_the_submission_read_only_after_the_tmp_tmpfs(tmp_path):
    entries = fsview.plan(_cfg(tmp_path))
    targets = [e["target"] for e in entries]
    sub = [e for e in entries if e.get("source") == str(tmp_path / "sub")]
    assert len(sub) == 1 and sub[0]["kind"] == "ro"
    assert targets.index("/tmp") < targets.index(str(tmp_path / "sub"))  # its mount point lives in /tmp


# --- a real worker -----------------------------------------------------------------------------


def test_report_lists_the_active_layers(viewed):
    viewed.exists("/")
    p = viewed.protections
    assert p["filesystem_view"] == "pivot_root", p.get("filesystem_view_error")
    assert p["landlock"] is (landlock.abi_version() > 0), p.get("landlock_error")
    assert p["tmpfs"] == fsview.tmpfs_sizes({}) and p["capabilities"] == "none"


def test_the_worker_sees_no_host_tmp_home_or_repository(viewed, host_secret):
    assert not isinstance(viewed.read(str(host_secret)), str), "a file of the host's /tmp is readable"
    for path in (str(host_secret.parent), "/home", str(REPO / "solutions"), str(REPO / "grader"), "/srv", "/root/.ssh"):
        assert not viewed.exists(path), f"{path} exists in the worker's view"


def test_probes_find_the_host_when_both_layers_are_off(toy_root, host_secret, monkeypatch):
    """The same probes on a worker without view and Landlock (a deliberately weakened sandbox)."""
    fork = pool.Zygote.fork
    monkeypatch.setattr(
        pool.Zygote,
        "fork",
        lambda self, c, fds, t: fork(self, {**c, "filesystem_view": False, "landlock": False}, fds, t),
    )
    weak = _target(toy_root)
    try:
        assert weak.read(str(host_secret)) == "host secret"
        assert weak.exists(str(host_secret.parent)) and weak.exists("/usr/bin")
        assert weak.protections["filesystem_view"] == "none" and not weak.protections["landlock"]
    finally:
        weak.close()


@pytest.mark.skipif(landlock.abi_version() < 1, reason="the kernel has no Landlock")
def test_landlock_alone_hides_the_host_tmp(toy_root, host_secret, monkeypatch):
    """Without any namespace (as on a machine without user namespaces), Landlock still confines."""
    plain = _target(toy_root, namespaces=False)
    try:
        assert not isinstance(plain.read(str(host_secret)), str)
        assert plain.protections["landlock"] and plain.protections["filesystem_view"] == "none"
    finally:
        plain.close()


@pytest.mark.parametrize("folder", ["/tmp", "/var/tmp", "/dev/shm", "$HOME"])
def test_tmpfs_bytes_are_bounded(viewed, folder):
    folder = viewed.home() if folder == "$HOME" else folder
    limit = fsview.tmpfs_sizes({})["$HOME" if folder == viewed.home() else folder]["bytes"]
    chunk = 4 << 20
    total, err = viewed.fill(folder, chunk, limit // chunk + 4)
    assert err == errno.ENOSPC and total <= limit, (total, err)


def test_tmpfs_inodes_are_bounded(viewed):
    inodes = fsview.tmpfs_sizes({})["/var/tmp"]["inodes"]
    total, err = viewed.fill("/var/tmp", 0, inodes + 10)
    assert err == errno.ENOSPC, err


def test_nothing_the_worker_wrote_outlives_it(toy_root):
    if view_unavailable():
        pytest.skip("no filesystem view on this machine")
    target = _target(toy_root)
    try:
        home = target.home()
        places = ["/tmp", "/var/tmp", "/dev/shm", home]
        assert [target.touch(p, MARKER) for p in places] == [0, 0, 0, 0]
        assert all(target.exists(os.path.join(p, MARKER)) for p in places)
    finally:
        target.close()
    left = [p for p in ("/tmp", "/var/tmp", "/dev/shm", home) if os.path.exists(os.path.join(p, MARKER))]
    assert not left, f"written by the worker, still on the host: {left}"
    again = _target(toy_root)
    try:
        assert not any(again.exists(os.path.join(p, MARKER)) for p in ("/tmp", "/var/tmp", "/dev/shm"))
    finally:
        again.close()


def test_the_interpreter_and_its_packages_are_read_only(viewed):
    dirs = viewed.site_dirs()
    assert dirs
    for d in dirs:
        assert viewed.touch(d, MARKER + ".pth") == errno.EROFS, d  # read-only mounts, whatever the uid
        assert not os.path.exists(os.path.join(d, MARKER + ".pth"))


def test_the_worker_cannot_unmount_its_view(viewed, host_secret):
    for point in ("/tmp", "/proc", "/", viewed.home()):
        assert not viewed.umount(point), point
    assert not isinstance(viewed.read(str(host_secret)), str)


# --- refusing unsafe hidden grading -------------------------------------------------------------


def test_hidden_grading_refuses_without_the_view(tmp_path):
    proc = run_cli("grade", "solutions", "--section", "sec38_attention", env={SIMULATE_ENV: "1"})
    assert proc.returncode == 3, proc.stdout[-1000:] + proc.stderr[-1000:]
    assert "filesystem view" in proc.stderr and "--trusted" in proc.stderr and "--public-only" in proc.stderr
    subs = tmp_path / "subs"
    (subs / "a").mkdir(parents=True)
    proc = run_cli("batch", str(subs), "--csv", str(tmp_path / "g.csv"), env={SIMULATE_ENV: "1"})
    assert proc.returncode == 3 and "filesystem view" in proc.stderr
    assert not (tmp_path / "g.csv").exists()


# as root: become uid 65534 in a user namespace of one uid whose limit of user namespaces is 0, as
# on a machine without root where unprivileged user namespaces are switched off
WITHOUT_USER_NAMESPACES = """
import ctypes, os, sys
assert ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0  # CLONE_NEWUSER
for name, text in (("setgroups", "deny"), ("uid_map", "65534 0 1"), ("gid_map", "65534 0 1")):
    with open(f"/proc/self/{name}", "w") as f:
        f.write(text)
if sys.argv[1] == "off":
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
os.execv(sys.executable, [sys.executable, "-m", "grader", *sys.argv[2:]])
"""


def _unprivileged_cli(user_namespaces: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", WITHOUT_USER_NAMESPACES, user_namespaces, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make an unprivileged user without user namespaces")
def test_an_unprivileged_user_without_user_namespaces_is_refused_hidden_grading(tmp_path):
    """Not simulated: a real unprivileged process that cannot make a user namespace. Hidden
    grading stops (exit 3), public-only grading runs without the view; the same user with user
    namespaces grades the hidden tests in the view (so the refusal comes from the namespaces)."""
    args = ["grade", "solutions", "--section", "sec38_attention"]
    refused = _unprivileged_cli("off", *args)
    assert refused.returncode == 3, refused.stdout[-1000:] + refused.stderr[-1000:]
    assert "filesystem view" in refused.stderr and "--trusted" in refused.stderr
    public = _unprivileged_cli("off", *args, "--public-only", "--json", str(tmp_path / "public.json"))
    assert public.returncode == 0, public.stderr[-1000:]
    report = json.loads((tmp_path / "public.json").read_text(encoding="utf-8"))
    assert report["score"] > 0 and report["protections"]["filesystem_view"] == "none", report["protections"]
    allowed = _unprivileged_cli("on", *args, "--json", str(tmp_path / "hidden.json"))
    assert allowed.returncode == 0, allowed.stderr[-1000:]
    report = json.loads((tmp_path / "hidden.json").read_text(encoding="utf-8"))
    assert report["hidden_included"] and report["protections"]["filesystem_view"] == "pivot_root"


def test_public_only_grading_still_runs_without_the_view(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("grade", "solutions", "--section", "sec38_attention", "--public-only", "--json", str(out),
                   env={SIMULATE_ENV: "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert not report["hidden_included"] and report["score"] > 0


def test_trusted_flag_runs_the_hidden_tests_without_the_view(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("grade", "solutions", "--section", "sec38_attention", "--trusted", "--json", str(out),
                   env={SIMULATE_ENV: "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert json.loads(out.read_text(encoding="utf-8"))["hidden_included"]


def test_the_probe_agrees_with_what_a_worker_builds(viewed):
    viewed.exists("/")
    assert (view_unavailable() is None) == (viewed.protections["filesystem_view"] == "pivot_root")


def test_the_skeleton_and_dev_take_no_new_files(viewed):
    for folder in ("/", "/dev", "/etc", "/usr/lib"):
        assert viewed.touch(folder, MARKER) == errno.EROFS, folder


def test_plan_mounts_a_folder_before_what_lies_inside_it(tmp_path):
    # an interpreter (e.g. a checkout's .tox venv) under /tmp must not be covered by the private /tmp
    venv = tmp_path / "checkout" / ".tox" / "tests"
    venv.mkdir(parents=True)
    entries = fsview.plan(_cfg(tmp_path), prefixes=[str(venv)], path_entries=[])
    order = [e["target"] for e in entries if e["kind"] != "seal"]
    for i, inner in enumerate(order):
        covering = [j for j, outer in enumerate(order) if outer != inner and inner.startswith(outer.rstrip("/") + "/")]
        assert all(j < i for j in covering), f"{inner} is mounted before {[order[j] for j in covering]}"
    assert os.path.realpath(str(venv)) in order
