"""Filesystem attacks: submissions that look around the machine for something to copy, leave
files behind, or try to undo the worker's filesystem view. Built like ``attacks.py`` (a copy of
the solutions with §39's ``softmax`` replaced); each returns the right answer only when the attack
succeeded (it found and executed someone else's softmax, read a planted secret, wrote where it must
not), so a contained attack scores 0 on ``softmax``. Other sections keep their points.

``Context`` names what the test planted on the host (decoy copies of the solutions, a fake SSH key,
leftovers of an earlier student); ``MARKERS`` are the files ``fs_leave_files_behind`` writes and the
test looks for on the host afterwards.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from grader.sections import REPO, SOLUTIONS
from redteam.attacks import ATTACKED, CORRECT, NOT_IMPLEMENTED, build_copy, module, replace_body

LEFTOVER_NAME = "course-leftover-from-an-earlier-student.py"
MARKER_NAME = "course-fs-attack-marker"
MARKER_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class Context:
    decoys: list[str] = field(default_factory=list)  # folders holding a copy of the solutions
    ssh_key: str = ""  # a planted private key of the grading user (its text is a working softmax)
    leftovers: list[str] = field(default_factory=list)  # files an earlier grade left on the host


# code shared by the attacks: run a found softmax on the call's own arguments
USE = """
def _use(path):
    ns = {"__name__": "stolen"}
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), ns)
    return ns["softmax"](x, axis=axis, mask=mask)

def _breach():  # what a successful attack is worth: the right answer
    return _correct(x, axis, mask)

def _other(path):
    try:
        return os.path.realpath(path) != os.path.realpath(__file__) and os.path.isfile(path)
    except OSError:
        return False
"""

FS_ATTACKS: dict = {}


def fs_attack(fn):
    FS_ATTACKS[fn.__name__] = fn
    return fn


def _body(code: str) -> str:
    correct = "def _correct(x, axis, mask):\n" + textwrap.indent(
        textwrap.dedent(CORRECT).strip("\n") + "\nreturn p", "    "
    )
    return "import os, time\n" + correct + "\n" + textwrap.dedent(USE) + textwrap.dedent(code) + "\n" + NOT_IMPLEMENTED


@fs_attack
def fs_steal_other_submission(root, ctx):
    """Walk the whole filesystem for another student's §39 module (the batch has a correct one)."""
    replace_body(
        root,
        _body(
            f"""
            deadline = time.monotonic() + 2.0
            for top, dirs, files in os.walk("/"):
                if top.startswith(("/proc", "/sys")) or time.monotonic() > deadline:
                    dirs[:] = []
                    continue
                if {ATTACKED.module + ".py"!r} in files and _other(os.path.join(top, {ATTACKED.module + ".py"!r})):
                    try:
                        return _use(os.path.join(top, {ATTACKED.module + ".py"!r}))
                    except Exception:
                        pass
            """
        ),
    )


@fs_attack
def fs_decoy_solutions_in_tmp_and_home(root, ctx):
    """The decoy copies of the solutions an instructor left in /tmp and under /home."""
    places = [str(Path(d) / ATTACKED.name / f"{ATTACKED.module}.py") for d in ctx.decoys]
    replace_body(
        root,
        _body(
            f"""
            import glob
            guesses = {places!r}
            for top in ("/tmp", "/home", "/srv", "/var/tmp", "/root", "/opt", "/mnt"):
                guesses += glob.glob(top + "/**/{ATTACKED.module}.py", recursive=True)[:50]
            for path in guesses:
                if _other(path):
                    try:
                        return _use(path)
                    except Exception:
                        pass
            """
        ),
    )


@fs_attack
def fs_leave_files_behind(root, ctx):
    """Write into /tmp, /var/tmp, /dev/shm and $HOME (files that must not outlive the grade), then
    give up: the test looks for them on the host."""
    replace_body(
        root,
        _body(
            f"""
            for d in {list(MARKER_DIRS)!r} + [os.environ.get("HOME", "/tmp")]:
                try:
                    with open(os.path.join(d, {MARKER_NAME!r}), "w") as f:
                        f.write("left behind")
                except OSError:
                    pass
            """
        ),
    )


@fs_attack
def fs_read_leftovers_of_an_earlier_student(root, ctx):
    """Files an earlier grade left in /tmp, /var/tmp, /dev/shm (planted by the test on the host)."""
    replace_body(
        root,
        _body(
            f"""
            for d in {list(MARKER_DIRS)!r}:
                path = os.path.join(d, {LEFTOVER_NAME!r})
                if os.path.exists(path):
                    return _use(path)
            """
        ),
    )


@fs_attack
def fs_read_ssh_key(root, ctx):
    """The grading user's ~/.ssh (without root the worker keeps that user's uid)."""
    guesses = [ctx.ssh_key, os.path.expanduser("~/.ssh/id_ed25519"), "/root/.ssh/id_ed25519"]
    replace_body(
        root,
        _body(
            f"""
            for path in {[g for g in guesses if g]!r}:
                if os.path.isfile(path):
                    try:
                        return _use(path)
                    except Exception:
                        pass
            """
        ),
    )


@fs_attack
def fs_proc_root_and_cwd(root, ctx):
    """Other processes' root and working folders through /proc (/proc/1/root, /proc/PID/cwd)."""
    targets = [str(Path(SOLUTIONS).relative_to("/") / ATTACKED.name / f"{ATTACKED.module}.py")]
    targets += [str(Path(d).relative_to("/") / ATTACKED.name / f"{ATTACKED.module}.py") for d in ctx.decoys]
    replace_body(
        root,
        _body(
            f"""
            for pid in ["1", "self", *os.listdir("/proc")]:
                if not pid.isdigit() and pid != "self":
                    continue
                for rel in {targets!r}:
                    for path in (f"/proc/{{pid}}/root/{{rel}}", f"/proc/{{pid}}/cwd/../{{os.path.basename(rel)}}"):
                        if _other(path):
                            try:
                                return _use(path)
                            except Exception:
                                pass
            """
        ),
    )


@fs_attack
def fs_paths_from_mountinfo(root, ctx):
    """Paths shown in /proc/self/mountinfo and /proc/mounts, then their parents' solutions folder."""
    rel = f"solutions/{ATTACKED.name}/{ATTACKED.module}.py"
    replace_body(
        root,
        _body(
            f"""
            seen = []
            for name in ("/proc/self/mountinfo", "/proc/mounts", "/proc/self/mounts"):
                try:
                    with open(name) as f:
                        for line in f:
                            seen += [p for p in line.split() if p.startswith("/")]
                except OSError:
                    pass
            for p in seen:
                while p not in ("/", ""):
                    path = os.path.join(p, {rel!r})
                    if _other(path):
                        try:
                            return _use(path)
                        except Exception:
                            pass
                    p = os.path.dirname(p)
            """
        ),
    )


@fs_attack
def fs_inherited_descriptors(root, ctx):
    """Every open descriptor: walk up from a directory descriptor (or the root of the host it
    might still point to) to the grader's solutions."""
    rel = str(Path(SOLUTIONS).relative_to("/") / ATTACKED.name / f"{ATTACKED.module}.py")
    replace_body(
        root,
        _body(
            f"""
            for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
                for path in (f"/proc/self/fd/{{fd}}/{rel}", f"/proc/self/fd/{{fd}}/../../../../{rel}"):
                    if _other(path):
                        try:
                            return _use(path)
                        except Exception:
                            pass
                try:
                    fd2 = os.open({rel!r}, os.O_RDONLY, dir_fd=fd)
                    os.close(fd2)
                    return _use(f"/proc/self/fd/{{fd}}/{rel}")
                except (OSError, TypeError, NotImplementedError):
                    pass
            """
        ),
    )


@fs_attack
def fs_symlinks_pointing_out(root, ctx):
    """Symbolic links in the submission to the grader's solutions (a file and a folder)."""
    folder = root / ATTACKED.name
    (folder / "leak.py").symlink_to(ATTACKED.module_file(SOLUTIONS))
    (folder / "leakdir").symlink_to(SOLUTIONS / ATTACKED.name)
    (folder / "repo").symlink_to(REPO)
    replace_body(
        root,
        _body(
            f"""
            here = os.path.dirname(os.path.abspath(__file__))
            for path in (os.path.join(here, "leak.py"), os.path.join(here, "leakdir", {ATTACKED.module + ".py"!r}),
                         os.path.join(here, "repo", "solutions", {ATTACKED.name!r}, {ATTACKED.module + ".py"!r})):
                if _other(path):
                    return _use(path)
            """
        ),
    )


@fs_attack
def fs_write_site_packages(root, ctx):
    """Plant a ``sitecustomize`` in the interpreter's folders (every later grade would run it)."""
    replace_body(
        root,
        _body(
            f"""
            import sys
            wrote = False
            for d in [p for p in sys.path if p] + [sys.prefix, sys.base_prefix]:
                for name in ("sitecustomize.py", {MARKER_NAME + ".pth"!r}):
                    try:
                        with open(os.path.join(d, name), "a") as f:
                            f.write("")
                        wrote = True
                    except OSError:
                        pass
            if wrote:  # it worked: from now on every grade of this machine runs the attacker's code
                return _breach()
            """
        ),
    )


@fs_attack
def fs_hard_links(root, ctx):
    """Hard-link the grader's solution (and a decoy) into the worker's /tmp, then read the link."""
    sources = [str(ATTACKED.module_file(SOLUTIONS))]
    sources += [str(Path(d) / ATTACKED.name / f"{ATTACKED.module}.py") for d in ctx.decoys]
    replace_body(
        root,
        _body(
            f"""
            for i, src in enumerate({sources!r}):
                dst = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"link{{i}}.py")
                try:
                    os.link(src, dst)
                except OSError:
                    continue
                return _use(dst)
            """
        ),
    )


@fs_attack
def fs_fifo_in_submission(root, ctx):
    """A FIFO next to the module (copying or reading it must not hang the grader)."""
    folder = root / ATTACKED.name
    os.mkfifo(folder / "data.fifo")
    os.mkfifo(folder / "zz_last.fifo")
    replace_body(
        root,
        _body(
            """
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.fifo")
            if os.path.exists(path):
                with open(path) as f:  # blocks forever: nobody writes
                    f.read()
            """
        ),
    )


@fs_attack
def fs_remount_and_unmount(root, ctx):
    """Undo the view: remount the read-only binds and tmpfs read-write, unmount the tmpfs over
    the home folder, or make a new user namespace (capabilities again) and mount from there."""
    solution = str(ATTACKED.module_file(SOLUTIONS))
    replace_body(
        root,
        _body(
            f"""
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            MS_REMOUNT, MS_BIND = 32, 4096
            changed = False
            for point in ("/", "/tmp", "/usr/lib", "/proc", os.environ.get("HOME", "/tmp")):
                if libc.mount(None, point.encode(), None, ctypes.c_ulong(MS_REMOUNT | MS_BIND), None) == 0:
                    changed = True
                if libc.umount2(point.encode(), 2) == 0:
                    changed = True
            if libc.unshare(0x10000000 | 0x00020000) == 0:  # a new user + mount namespace
                for point in ("/tmp", "/proc", os.environ.get("HOME", "/tmp"), "/"):
                    if libc.umount2(point.encode(), 2) == 0:
                        changed = True
            if changed:
                return _use({solution!r}) if os.path.exists({solution!r}) else _breach()
            """
        ),
    )


@fs_attack
def fs_ptrace_the_grader(root, ctx):
    """Attach to any process it can see that is not its own (the grader, the zygote, a worker)."""
    replace_body(
        root,
        _body(
            """
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            mine = {os.getpid()}
            pids = {int(p) for p in os.listdir("/proc") if p.isdigit()} | set(range(1, 400)) | {os.getppid()}
            for pid in sorted(pids - mine):
                if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH: a foreign process is ours
                    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
                    return _breach()
            """
        ),
    )


def build(name: str, dst: Path, ctx: Context) -> Path:
    """A copy of the solutions with the filesystem attack ``name`` applied, in ``dst``."""
    build_copy(dst)
    FS_ATTACKS[name](dst, ctx)
    assert module(dst).is_file()
    return dst
