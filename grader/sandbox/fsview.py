"""The worker's minimal filesystem view: a new root built in a tmpfs, entered with ``pivot_root``.

The worker sees only what it needs to run: the interpreter and its packages (read-only), the
system libraries (read-only), a few device files, a fresh ``/proc`` of its own PID namespace, its
own copy of the submission (read-only), and private tmpfs mounts, each limited in bytes and inodes,
for ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``$HOME``. Nothing else of the host exists in it: no
other submission, no ``/home``, ``/srv``, ``/root``, host ``/tmp``, batch folder or grader
repository. The old root is unmounted, so no path leads back to the host, and everything the
worker writes lives in its tmpfs mounts, which vanish with its mount namespace.

:func:`plan` lists what to mount (pure: it only looks at the host's paths, testable without
namespaces); :func:`build` carries it out in a process that owns a private mount namespace (as root,
or inside a user namespace without root). The worker imports this file before confining itself
(its source is not visible afterwards), with nothing of the grader on its import path.
"""

from __future__ import annotations

import ctypes
import os
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MNT_DETACH = 2
ST_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME}
ST_RELATIME = 4096

# private tmpfs mounts: (bytes, inodes). $HOME is the worker's home folder (its path in the view).
TMPFS = {
    "/tmp": (64 << 20, 2048),
    "/var/tmp": (16 << 20, 512),
    "/dev/shm": (16 << 20, 512),
    "$HOME": (64 << 20, 2048),
}
SYSTEM_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/lib", "/lib64", "/lib32", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
DEV_LINKS = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
             "/dev/stderr": "/proc/self/fd/2"}  # fmt: skip
SKELETON_BYTES = 1 << 20
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}.get(os.uname().machine, 155)

_libc = ctypes.CDLL(None, use_errno=True)


class ViewError(OSError):
    """The view could not be built (the caller falls back and reports it)."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise ViewError(err, f"{what}: {os.strerror(err)}")


def _enc(s):
    return None if s is None else str(s).encode()


def mount(src, target, fstype, flags, data=None) -> None:
    _check(_libc.mount(_enc(src), _enc(target), _enc(fstype), ctypes.c_ulong(flags), _enc(data)), f"mount {target}")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _minimal(paths) -> list[str]:
    """The paths without those inside another one of them (a bind of the outer covers them)."""
    out: list[str] = []
    for p in sorted(set(paths), key=lambda s: (len(s), s)):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return sorted(out)


# --- what to mount (pure) ---------------------------------------------------------------------


def interpreter_paths(prefixes, path_entries, hidden) -> list[str]:
    """Folders of the Python installation: its prefixes (even inside a hidden folder: a virtual
    environment may live in the grader's repository) and the import path's folders that neither lie
    inside a hidden folder (the zygote puts the grader's sandbox folder first on its path) nor hold
    one (a ``PYTHONPATH`` entry that is a parent of the checkout would expose all of it)."""
    keep = [os.path.realpath(p) for p in prefixes if p]
    for entry in path_entries:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if any(_under(real, k) for k in keep):
            continue
        if any(_under(real, os.path.realpath(h)) or _under(os.path.realpath(h), real) for h in hidden):
            continue  # inside a hidden folder, or holding one (a parent of the grader's checkout)
        keep.append(real)
    return _minimal(p for p in keep if os.path.isdir(p))


def worker_paths(cfg: dict) -> dict:
    """Where the worker's own things are: its copy of the submission, its home, its bin folder."""
    module_dir = os.path.dirname(os.path.realpath(cfg["module_file"]))
    return {
        "submission": os.path.dirname(module_dir),
        "home": os.path.realpath(cfg["home"]),
        "bin": os.path.realpath(cfg["bin"]) if cfg.get("bin") else None,
    }


def tmpfs_sizes(cfg: dict) -> dict[str, dict]:
    """The tmpfs mounts of the view with their limits (the report shows them)."""
    sizes = dict(TMPFS)
    sizes.update({k: tuple(v) for k, v in cfg.get("tmpfs", {}).items() if k in TMPFS})
    return {k: {"bytes": int(b), "inodes": int(n)} for k, (b, n) in sizes.items()}


def plan(cfg: dict, *, prefixes=None, path_entries=None) -> list[dict]:
    """Everything the view holds, in mount order. Entries are dicts with ``kind``:

    * ``ro`` (bind read-only ``source`` at ``target``; ``file`` when it is a file),
    * ``dev`` (bind a device file), ``link`` (a symlink to ``to``),
    * ``tmpfs`` (``bytes``, ``inodes``, ``mode``, ``owner``: the worker's uid or None = root),
    * ``proc`` (a fresh proc for the worker's PID namespace),
    * ``seal`` (remount an already mounted tmpfs read-only).

    Every ``ro`` target equals its source, so paths (and tracebacks) are the same inside and out."""
    if prefixes is None:
        prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix)
    if path_entries is None:
        path_entries = sys.path
    own = worker_paths(cfg)
    sizes = tmpfs_sizes(cfg)
    uid = cfg.get("uid")
    entries: list[dict] = []
    python = interpreter_paths(prefixes, path_entries, cfg.get("hide", []))
    system = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            entries.append({"kind": "link", "target": d, "to": os.readlink(d)})
        elif os.path.isdir(d):
            system.append(os.path.realpath(d))
    for d in _minimal(system + python):
        entries.append({"kind": "ro", "target": d, "source": d})
    for f in SYSTEM_FILES:
        if os.path.isfile(f):
            real = os.path.realpath(f)
            entries.append({"kind": "ro", "target": f, "source": real, "file": True})
    entries.append({"kind": "tmpfs", "target": "/dev", "bytes": 64 << 10, "inodes": 64, "mode": "0755",
                    "owner": None, "exec": False})  # fmt: skip
    for dev in DEVICES:
        if os.path.exists(dev):
            entries.append({"kind": "dev", "target": dev, "source": dev})
    for link, to in DEV_LINKS.items():
        entries.append({"kind": "link", "target": link, "to": to})
    for path, size in sizes.items():
        target = own["home"] if path == "$HOME" else path
        home = path == "$HOME"
        entries.append({"kind": "tmpfs", "target": target, "bytes": size["bytes"], "inodes": size["inodes"],
                        "mode": "0700" if home else "1777", "owner": uid if home else None, "exec": False})  # fmt: skip
    entries.append({"kind": "ro", "target": own["submission"], "source": own["submission"]})
    if own["bin"] and os.path.isdir(own["bin"]):
        entries.append({"kind": "ro", "target": own["bin"], "source": own["bin"]})
    for path in cfg.get("writable", []):  # e.g. the confined notebook kernel's socket folder
        real = os.path.realpath(path)
        entries.append({"kind": "rw", "target": real, "source": real})
    entries.append({"kind": "proc", "target": "/proc"})
    # a folder is mounted before anything inside it: the interpreter (or this checkout) may live
    # under /tmp, whose private tmpfs would otherwise cover it (a stable sort: same depth, same order)
    entries.sort(key=lambda e: e["target"].rstrip("/").count("/"))
    entries.append({"kind": "seal", "target": "/dev"})  # no new files next to the devices
    return entries


def visible_roots(entries: list[dict]) -> list[str]:
    """The host paths the view exposes (sources of bind mounts)."""
    return sorted({e["source"] for e in entries if "source" in e})


# --- building it (in a private mount namespace) ------------------------------------------------


def _locked_flags(path: str) -> int:
    """Flags of the mount holding ``path`` that a remount must keep (a user namespace may not drop
    them; keeping them is harmless as root)."""
    try:
        st = os.statvfs(path).f_flag
    except OSError:
        return 0
    flags = 0
    for bit, ms in ST_FLAGS.items():
        if st & bit:
            flags |= ms
    if st & ST_RELATIME:
        flags |= MS_RELATIME
    return flags & ~MS_RDONLY


def _submounts(target: str) -> list[str]:
    out = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                point = line.split()[4].encode().decode("unicode_escape")
                if point != target and _under(point, target):
                    out.append(point)
    except OSError:
        pass
    return out


def _make_point(path: str, is_file: bool) -> None:
    if is_file:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if not os.path.lexists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    else:
        os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(source: str, dest: str, extra: int, recursive: bool = True) -> list[str]:
    """Bind ``source`` at ``dest`` and remount it (and its submounts) with ``extra`` flags.
    Returns submounts that could not be remounted."""
    mount(source, dest, None, MS_BIND | (MS_REC if recursive else 0))
    failed = []
    for point in [dest, *(_submounts(dest) if recursive else [])]:
        try:
            mount(None, point, None, MS_BIND | MS_REMOUNT | extra | _locked_flags(point))
        except ViewError:
            if point == dest:
                raise
            failed.append(point)
    return failed


def build(cfg: dict, done: dict) -> bool:
    """Build the view and enter it (``pivot_root``). Needs a private mount namespace in which this
    process may mount (root, or the owner of a user namespace). Returns False (and says why in
    ``done["filesystem_view_error"]``) when it cannot; the process is then unchanged except for
    mounts in its own namespace."""
    if not done.get("mount_namespace"):
        done["filesystem_view_error"] = "no mount namespace"
        return False
    entries = plan(cfg)
    old_umask = os.umask(0o022)
    new = os.path.realpath(cfg["home"])  # an empty folder of the worker: the skeleton's mount point
    skeleton = pivoted = False
    try:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        skeleton = True
        mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, f"size={SKELETON_BYTES},nr_inodes=4096,mode=0755")
        not_ro: list[str] = []
        for e in entries:
            dest = new + e["target"]
            kind = e["kind"]
            if kind == "ro":
                _make_point(dest, e.get("file", False))
                not_ro += _bind(e["source"], dest, MS_RDONLY | MS_NOSUID | MS_NODEV)
            elif kind == "rw":
                _make_point(dest, False)
                _bind(e["source"], dest, MS_NOSUID | MS_NODEV | MS_NOEXEC)
            elif kind == "dev":
                _make_point(dest, True)
                _bind(e["source"], dest, MS_NOSUID | MS_NOEXEC, recursive=False)
            elif kind == "link":
                os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
                os.symlink(e["to"], dest)
            elif kind == "tmpfs":
                _make_point(dest, False)
                data = f"size={e['bytes']},nr_inodes={e['inodes']},mode={e['mode']}"
                if e.get("owner") is not None:
                    data += f",uid={e['owner']},gid={e['owner']}"
                flags = MS_NOSUID | MS_NODEV | (0 if e.get("exec") else MS_NOEXEC)
                mount("tmpfs", dest, "tmpfs", flags, data)
            elif kind == "proc":
                _make_point(dest, False)
                if done.get("pid_namespace"):
                    mount("proc", dest, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                    done["private_proc"] = True
                else:  # the host's processes stay visible (a different uid still protects them)
                    _bind("/proc", dest, MS_NOSUID | MS_NODEV | MS_NOEXEC)
            elif kind == "seal":
                mount(None, dest, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
        old = new + "/.old-root"
        os.mkdir(old, 0o700)
        _check(_libc.syscall(SYS_PIVOT_ROOT, _enc(new), _enc(old)), "pivot_root")
        pivoted = True
        os.chdir("/")
        _check(_libc.umount2(b"/.old-root", MNT_DETACH), "umount the old root")
        os.rmdir("/.old-root")
        mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except (OSError, KeyError) as e:
        if pivoted:  # half inside: never run the submission with the old root still reachable
            raise
        if skeleton:
            _libc.umount2(_enc(new), MNT_DETACH)  # the worker's home is itself again
        done["filesystem_view_error"] = str(e)[:300]
        return False
    finally:
        os.umask(old_umask)
    done["filesystem_view"] = "pivot_root"
    done["tmpfs"] = tmpfs_sizes(cfg)
    done["view_paths"] = visible_roots(entries)
    if not_ro:
        done["view_not_read_only"] = not_ro
    return True


def _probe_child() -> int:
    """In a fresh process: can this machine give a worker a private mount namespace with tmpfs
    mounts (as root, or inside a user namespace)? Exit status 0 = yes."""
    uid, gid = os.getuid(), os.getgid()
    flags = 0x00020000 if uid == 0 else 0x00020000 | 0x10000000  # CLONE_NEWNS (| CLONE_NEWUSER)
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        return 1
    if uid != 0:
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        except OSError:
            return 1
    try:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=16")
    except OSError:
        return 1
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:
    sys.exit(_probe_child())
