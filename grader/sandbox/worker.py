"""The worker: imports ONE section of a submission and answers calls (runs in its own process).

Started by :mod:`grader.sandbox.pool` as ``python -I worker.py CONFIG.json`` from a private copy
(this file and ``codec.py`` are copied next to the submission's copy; nothing of the grader is on
its import path). Before any student code runs it confines itself, as far as the OS allows:

* new network, mount and PID namespaces (``unshare``; as root directly, otherwise inside a new user
  namespace), and in them a minimal filesystem view (``fsview.py``: the interpreter and system
  libraries read-only, its own copy of the submission, private size-limited tmpfs for ``/tmp``,
  ``/var/tmp``, ``/dev/shm`` and ``$HOME``, a fresh ``/proc`` showing only its own processes; the
  host's root is unmounted). Where the view cannot be built, the grader's repository is covered
  by empty tmpfs mounts instead (and hidden grading refuses to run, see ``grade.py``);
* as root: a different unprivileged uid/gid of its own (no supplementary groups), so files the
  grader keeps 0700 are unreadable;
* resource limits: CPU seconds, data size (not address space: that breaks ``import torch``), file
  size, processes, open files, no core dumps; one thread per numerical library;
* no new privileges, no capabilities (not even inside its user namespace); killed with its parent;
* Landlock, where the kernel has it (``landlock.py``): file access only beneath the view's
  folders, no TCP, no signals or abstract sockets out of its own processes.

It then reports which protections are active, imports the section from the copy, and serves
requests (``call``, ``backward``, ``exit``) until its input closes. Only JSON, fixed binary headers
and raw array bytes cross (see codec.py); verdicts are never computed here.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
import traceback

try:  # loaded before confinement: the worker's own copy (next to this file), never the grader's path
    import fsview
    import landlock
except ImportError:  # imported as part of the grader package (its tests)
    from grader.sandbox import fsview, landlock

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWIPC, CLONE_NEWUTS = 0x08000000, 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
ACTIONS = ("error", "ignore", "always", "default", "module", "once")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else str(s).encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _is_under(path: str, root: str) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


# --- confinement (runs before any student code) -----------------------------------------------


def enter_namespaces(cfg: dict, done: dict) -> bool:
    """unshare net + mount + pid (+ user when not root). Returns True if a PID namespace was made
    (the caller must then fork: the child is the namespace's first process)."""
    if not cfg.get("namespaces", True):
        return False
    base = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    attempts = [base | CLONE_NEWPID, base, CLONE_NEWNET] if uid == 0 else []
    attempts += [] if uid == 0 else [CLONE_NEWUSER | base | CLONE_NEWPID, CLONE_NEWUSER | base]
    for flags in attempts:
        try:
            _unshare(flags)
        except OSError:
            continue
        if flags & CLONE_NEWUSER:
            try:
                with open("/proc/self/setgroups", "w") as f:
                    f.write("deny")
                with open("/proc/self/uid_map", "w") as f:
                    f.write(f"{uid} {uid} 1")
                with open("/proc/self/gid_map", "w") as f:
                    f.write(f"{gid} {gid} 1")
            except OSError:
                pass
            done["user_namespace"] = True
        done["network_namespace"] = bool(flags & CLONE_NEWNET)
        done["mount_namespace"] = bool(flags & CLONE_NEWNS)
        done["pid_namespace"] = bool(flags & CLONE_NEWPID)
        return bool(flags & CLONE_NEWPID)
    return False


def _blocked_ancestor(path: str) -> str | None:
    """The outermost folder on the way to ``path`` that other users cannot enter (e.g. /root)."""
    parts = os.path.realpath(path).split("/")
    for i in range(2, len(parts) + 1):
        folder = "/".join(parts[:i]) or "/"
        try:
            if not os.stat(folder).st_mode & 0o001:
                return folder
        except OSError:
            return None
    return None


def keep_paths() -> list[str]:
    """The Python installation the worker runs on (must stay visible and readable)."""
    return sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p})


def hide_paths(cfg: dict, done: dict) -> None:
    """Cover the grader's files with empty tmpfs mounts, keeping the Python installation visible
    (and reachable for the worker's uid even when it lives under a private folder like /root)."""
    if not done.get("mount_namespace"):
        return
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError:
        return
    keep = keep_paths()
    fds = {k: os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep}
    covers = [p for p in cfg.get("hide", []) if os.path.isdir(p)]
    if cfg.get("uid") is not None:
        covers += [a for k in keep if (a := _blocked_ancestor(k))]
    hidden = []
    for path in sorted(set(covers), key=len):
        try:
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        except OSError:
            continue
        hidden.append(path)
        for k in keep:
            if _is_under(k, path) or path == k:
                try:  # re-expose the interpreter's own files that lived inside the covered folder
                    os.makedirs(k, exist_ok=True)
                    _mount(f"/proc/self/fd/{fds[k]}", k, None, MS_BIND | MS_REC)
                except OSError:
                    pass
    for fd in fds.values():
        os.close(fd)
    done["hidden_paths"] = [p for p in hidden if p in cfg.get("hide", [])]
    if done.get("pid_namespace"):
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            done["private_proc"] = True
        except OSError:
            pass


def set_limits(cfg: dict, done: dict) -> None:
    import resource

    wanted = {
        "cpu_seconds": (resource.RLIMIT_CPU, cfg.get("cpu_seconds", 300)),
        "data_bytes": (resource.RLIMIT_DATA, cfg.get("data_bytes", 4 << 30)),
        "file_bytes": (resource.RLIMIT_FSIZE, cfg.get("file_bytes", 64 << 20)),
        "processes": (resource.RLIMIT_NPROC, cfg.get("processes", 64)),
        "open_files": (resource.RLIMIT_NOFILE, cfg.get("open_files", 256)),
        "core_bytes": (resource.RLIMIT_CORE, 0),
    }
    applied = {}
    for name, (which, value) in wanted.items():
        if value is None:
            continue
        if name == "processes" and os.getuid() == cfg.get("grader_uid") and cfg.get("grader_uid") != 0:
            # same uid as the grader (no uid switch): the process count is per user, so leave room
            value += len(os.listdir("/proc")) if os.path.isdir("/proc") else 0
        try:
            soft, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
            applied[name] = value
        except (ValueError, OSError):
            pass
    done["limits"] = applied


def drop_privileges(cfg: dict, done: dict) -> None:
    uid = cfg.get("uid")
    if uid is not None and not done.get("mount_namespace") and any(_blocked_ancestor(k) for k in keep_paths()):
        done["uid_note"] = "Python lives in a folder other users cannot read; kept the grader's uid"
        uid = None
    if os.getuid() == 0 and uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    done["uid"] = os.getuid()
    done["separate_uid"] = os.getuid() != cfg.get("grader_uid")
    if os.getuid() != 0:  # (root that kept its uid keeps what it needs to reach its own folders)
        drop_capabilities(done)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    done["no_new_privs"] = True


def drop_capabilities(done: dict) -> None:
    """No capability left, in any namespace: inside its own user namespace the worker would
    otherwise keep CAP_SYS_ADMIN there (enough to unmount or remount what confines it)."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _libc.capset(header, data)
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            eff = [line.split()[1] for line in f if line.startswith("CapEff:")]
        done["capabilities"] = "none" if eff and int(eff[0], 16) == 0 else "some"
    except OSError:
        done["capabilities"] = "unknown"


def landlock_rules(cfg: dict, done: dict) -> list:
    """What the worker may open: the view's folders (or, without a view, the same host folders:
    the interpreter, system libraries, its copy and its home)."""
    entries = fsview.plan(cfg)
    read = [e["target"] for e in entries if e["kind"] == "ro"] + ["/proc", "/dev"]
    home = fsview.worker_paths(cfg)["home"]
    write = [home, *(e["target"] for e in entries if e["kind"] == "rw")]
    if done.get("filesystem_view") == "pivot_root":
        write += [e["target"] for e in entries if e["kind"] == "tmpfs" and e["target"] != "/dev"]
    devices = [e["target"] for e in entries if e["kind"] == "dev"]
    return landlock.rules_for(read, sorted(set(write)), devices)


def apply_landlock(cfg: dict, done: dict) -> None:
    done["landlock"] = False
    if not cfg.get("landlock", True):
        return
    try:
        info = landlock.restrict(landlock_rules(cfg, done))
    except OSError as e:
        done["landlock_error"] = str(e)[:200]
        return
    done["landlock"] = True
    done["landlock_abi"] = info["abi"]


def probe(cfg: dict, done: dict) -> dict:
    """What a submission can actually do from here (measured, not assumed)."""
    readable = []
    for path in cfg.get("secrets", []):
        try:
            with open(path, "rb") as f:
                f.read(1)
            readable.append(path)
        except OSError:
            pass
    done["grader_files_readable"] = bool(readable)
    try:
        with open("/proc/self/net/dev") as f:
            ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
        done["network"] = "none" if set(ifaces) <= {"lo"} else "host"
    except OSError:
        done["network"] = "unknown"
    return done


# --- serving ----------------------------------------------------------------------------------


def load_module(path: str, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    source = open(path, encoding="utf-8").read()  # noqa: SIM115
    code = compile(source, path, "exec")
    sys.modules[name] = module
    exec(code, module.__dict__)
    return module


def leaves(value, out):
    """Arrays and tensors of a nested value, in a fixed order (the same walk as the grader's)."""
    codec = sys.modules["codec"]
    if type(value) in (list, tuple):
        for v in value:
            leaves(v, out)
    elif type(value) is dict:
        for v in value.values():
            leaves(v, out)
    elif codec._is_tensor(value):
        out.append(value)
    return out


def describe_error(e: BaseException, module_file: str) -> dict:
    names = [f"{c.__module__}.{c.__qualname__}" for c in type(e).__mro__]
    frames = traceback.extract_tb(e.__traceback__)
    own = [f for f in frames if os.path.realpath(f.filename) == os.path.realpath(module_file)]
    last = own[-1] if own else (frames[-1] if frames else None)
    try:
        msg = str(e)
    except Exception:  # noqa: BLE001 - a student exception whose __str__ fails
        msg = ""
    return {"mro": names, "msg": msg[:2000], "func": last.name if last else "", "line": last.lineno if last else 0}


_GAUSS_CACHED = [True]  # NumPy's legacy generator may hold a cached normal (get_state()[3]); True: unknown
_RNG_READERS: list = []  # (NumPy's legacy generator, address of its key, reader of Python's state): found once


def _rng_readers() -> tuple:
    """Where the global generators keep their state, found once per worker (the objects are kept
    here, so that the addresses stay valid)."""
    if not _RNG_READERS:
        import numpy as np

        legacy = np.random.mtrand._rand
        _RNG_READERS.extend([legacy, legacy._bit_generator.ctypes.state_address, _python_rng_reader()])
    return tuple(_RNG_READERS)


def _python_rng_reader():
    """A function returning the state of ``random``'s generator: its raw Mersenne Twister words
    (``int index; uint32_t state[624]`` after the object header, checked here against
    ``getstate()``) and the cached gauss value, about 25 times cheaper than ``random.getstate()``;
    ``random.getstate`` itself where the layout is not the expected one."""
    import random
    import struct

    inst = random._inst
    address = id(inst) + object.__basicsize__
    index, *words = struct.unpack("<i624I", ctypes.string_at(address, 4 + 624 * 4))
    if (*words, index) != inst.getstate()[1]:
        return random.getstate
    return lambda: (ctypes.string_at(address, 4 + 624 * 4), inst.gauss_next)


def _cpu_seconds() -> float:
    """CPU-seconds of this process's threads (the nanosecond clock, not the 10 ms ticks of
    ``os.times``) plus those of its waited-for children (only ``os.times`` counts them)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def _global_rng_state() -> tuple:
    """The global generators' state (NumPy, torch, ``random``): a call must leave it unchanged.

    NumPy's Mersenne Twister is read as its raw key and position (``ctypes.string_at``, about a
    microsecond, instead of ``np.random.get_state()``). Its cached normal deviate can change alone
    only while one is cached, so the full state is read while one is (or may be) cached."""
    import numpy as np

    legacy, address, python_state = _rng_readers()
    mt = ctypes.string_at(address, 624 * 4 + 4)  # uint32 key[624]; int pos
    gauss = None
    if _GAUSS_CACHED[0]:
        gauss = np.random.get_state()[3:]
        _GAUSS_CACHED[0] = bool(gauss[0])
    torch = sys.modules.get("torch")
    rng = torch.random.get_rng_state().numpy().tobytes() if torch is not None else b""
    return id(np.random.mtrand._rand), id(legacy), mt, gauss, python_state(), rng


def _rng_changed(before: tuple, after: tuple) -> bool:
    if before[3] is None or after[3] is None:  # no normal was cached before: only the key and position count
        before, after = before[:3] + before[4:], after[:3] + after[4:]
    changed = before != after
    if changed:
        _GAUSS_CACHED[0] = True  # re-read the full state next time
    return changed


class Server:
    def __init__(self, cfg: dict, module, rfd: int, wfd: int):
        import codec

        self.codec, self.cfg, self.module = codec, cfg, module
        self.rfd, self.wfd = rfd, wfd
        self.graphs: dict[int, tuple] = {}
        self.contexts: dict[str, tuple] = {}  # a call's context as sent → (errstate, warning filters)
        self.filter_entries: dict[str, list] = {}  # a call's context → the ``warnings.filters`` it makes
        self.out = self.write  # where :meth:`send` puts a reply (``map`` keeps its calls' replies)

    def send(self, header: dict, blobs=()):
        self.out(header, list(blobs))

    def write(self, header: dict, blobs: list):
        self.codec.write_message(self.wfd, header, blobs)

    def serve(self):
        readinto = lambda view: os.readv(self.rfd, [view])  # noqa: E731
        while True:
            try:
                header, blobs = self.codec.read_message(readinto, 1 << 34)
            except EOFError:
                return
            op = header.get("op")
            if op == "exit":
                return
            try:
                if op == "call":
                    self.call(header, blobs)
                elif op == "map":
                    self.map(header, blobs)
                elif op == "backward":
                    self.backward(header, blobs)
                else:
                    self.send(
                        {"id": header.get("id"), "error": {"mro": ["builtins.RuntimeError"], "msg": f"unknown op {op}"}}
                    )
            except BaseException as e:  # noqa: BLE001 - report anything, including SystemExit
                self.send({"id": header.get("id"), "error": describe_error(e, self.cfg["module_file"])})

    def context(self, text: str) -> tuple[dict, list]:
        """(errstate, warning filters) of the caller, parsed once per distinct context."""
        found = self.contexts.get(text)
        if found is None:
            errstate, filters = json.loads(text)
            if type(errstate) is not dict or type(filters) is not list:
                raise ValueError("malformed call context")
            if len(self.contexts) > 64:
                self.contexts.clear()
                self.filter_entries.clear()
            found = self.contexts[text] = (errstate, filters)
        return found

    def set_filters(self, context, filters: list) -> None:
        """The caller's warning filters, in place of the worker's (inside ``catch_warnings``): made
        with ``simplefilter`` for a new context, copied for a known one."""
        import builtins
        import warnings

        warnings.resetwarnings()  # also tells the warning machinery that the filters change
        entries = self.filter_entries.get(context)
        if entries is not None:
            warnings.filters.extend(entries)
            return
        for action, category in reversed(filters):
            cls = getattr(builtins, str(category), Warning)
            if isinstance(cls, type) and issubclass(cls, Warning) and action in ACTIONS:
                warnings.simplefilter(action, cls)
        self.filter_entries[context] = list(warnings.filters)

    def arguments(self, header, blobs) -> tuple[tuple, dict, bool]:
        """The call's arguments: copies, so that ``blobs`` stay as they arrived (see :meth:`changed`),
        and whether a tensor among them requires grad."""
        if header.get("plain") == "tuple":
            return self.codec.read_plain(blobs), {}, False
        decoder = self.codec.Decoder(blobs)
        args, kwargs = decoder.decode(header["args"])
        return args, kwargs, decoder.requires_grad

    def changed(self, header, blobs, args, kwargs):
        """The arguments encoded (tree, blobs) when the call changed them in place, else None: they are
        compared with the message they were decoded from (encoding is deterministic)."""
        codec = self.codec
        if header.get("plain") == "tuple" and codec.plain_blobs(args) == blobs:
            return None
        after = codec.encode((args, kwargs), strict=False)
        if header.get("plain") != "tuple" and codec.same_tree(after[0], header["args"]) and after[1] == blobs:
            return None
        return after

    def result(self, result) -> tuple[dict, list]:
        """The reply's fields for the result, and its blobs: plain arrays go as they are."""
        single = type(result) is not tuple
        blobs = self.codec.plain_blobs((result,) if single else result)
        if blobs is not None:
            return {"plain": "array" if single else "tuple"}, blobs
        tree, blobs = self.codec.encode(result, strict=False)
        return {"result": tree}, blobs

    def call(self, header, blobs):
        import warnings

        import numpy as np

        args, kwargs, requires_grad = self.arguments(header, blobs)
        context = header.get("context", "[{}, []]")
        errstate, filters = self.context(context)
        torch = sys.modules.get("torch")
        grad_inputs = [t for t in leaves((args, kwargs), []) if t.requires_grad] if torch and requires_grad else []
        fn = getattr(self.module, header["name"])
        rng_before = _global_rng_state()
        cpu_before = _cpu_seconds()
        with warnings.catch_warnings(record=True) as caught:
            self.set_filters(context, filters)
            old = np.geterr()
            if old != errstate:
                np.seterr(**errstate)
            try:
                if torch is not None:
                    with torch.set_grad_enabled(bool(header.get("grad", True))):
                        result = fn(*args, **kwargs)
                else:
                    result = fn(*args, **kwargs)
            finally:
                if np.geterr() != old:
                    np.seterr(**old)
        cpu = _cpu_seconds() - cpu_before
        reply = {"id": header.get("id"), "global_rng": _rng_changed(rng_before, _global_rng_state()), "cpu": cpu}
        fields, out_blobs = self.result(result)
        reply.update(fields)
        after = self.changed(header, blobs, args, kwargs)
        if after is not None:
            reply["mutated"] = {"tree": after[0], "offset": len(out_blobs)}
            out_blobs = out_blobs + after[1]
        reply["warnings"] = [[type(w.message).__name__, str(w.message)[:500]] for w in caught[:20]]
        if grad_inputs and torch is not None:
            outs = [t for t in leaves(result, []) if t.requires_grad]
            if outs:
                self.graphs[header["id"]] = (outs, grad_inputs)
                while len(self.graphs) > 32:
                    self.graphs.pop(next(iter(self.graphs)))
        self.send(reply, out_blobs)

    def map(self, header, blobs):
        """Several calls of one function in one message: each item is run as a call of its own (its
        checks, its reply); the replies go back in one message, and the first error ends the batch."""
        items, counts = header["items"], header["counts"]
        if not (type(items) is list and type(counts) is list and len(items) == len(counts)
                and all(type(c) is int and c >= 0 for c in counts) and sum(counts) == len(blobs)):  # fmt: skip
            raise ValueError("malformed map request")
        replies, reply_counts, reply_blobs = [], [], []

        def keep(reply, out_blobs):
            replies.append(reply)
            reply_counts.append(len(out_blobs))
            reply_blobs.extend(out_blobs)

        self.out, start = keep, 0
        try:
            for tree, count in zip(items, counts):
                call = {"op": "call", "name": header["name"], "context": header.get("context", "[{}, []]"),
                        "grad": header.get("grad", True), "args": tree, "id": header.get("id")}  # fmt: skip
                try:
                    self.call(call, blobs[start : start + count])
                except BaseException as e:  # noqa: BLE001 - as serve() reports it
                    self.send({"id": header.get("id"), "error": describe_error(e, self.cfg["module_file"])})
                start += count
                if "error" in replies[-1]:
                    break
        finally:
            self.out = self.write
        self.send({"id": header.get("id"), "replies": replies, "counts": reply_counts}, reply_blobs)

    def backward(self, header, blobs):
        import torch

        outs, inputs = self.graphs[header["call"]]
        grads = self.codec.decode(header["grads"], blobs)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
        if pairs:
            got = torch.autograd.grad(
                [o for o, _ in pairs], inputs, [g.to(o.dtype) for o, g in pairs], allow_unused=True, retain_graph=True
            )
        else:
            got = [None] * len(inputs)
        tree, out_blobs = self.codec.encode([None if g is None else g.detach() for g in got], strict=False)
        self.send({"id": header.get("id"), "result": tree}, out_blobs)


def run(cfg: dict) -> None:
    """Confine this process, import the section, serve. Never returns normally to the caller's code."""
    rfd, wfd = cfg["request_fd"], cfg["reply_fd"]
    done: dict = {"started": time.time()}
    import signal
    import struct

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if enter_namespaces(cfg, done):
        sync_r, sync_w = os.pipe()
        child = os.fork()
        if child:
            # the namespace's parent: tell the grader which process to kill, then stay (never
            # reaping it) so that its PID cannot be reused before the grader has killed it
            os.close(sync_r)
            os.write(wfd, struct.pack("<q", child))
            os.close(sync_w)
            os.close(rfd)
            os.close(wfd)
            _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
            _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # its memory and /proc files stay out of reach
            life = cfg.get("lifeline_fd")
            while True:
                if life is None:
                    signal.pause()
                elif not os.read(life, 1):  # the grader's end closed: it is gone or done with us
                    os.kill(child, signal.SIGKILL)
                    os._exit(0)
        os.close(sync_w)
        os.read(sync_r, 1)  # wait until the parent has written the pid
        os.close(sync_r)
    else:
        os.write(wfd, struct.pack("<q", 0))  # no PID namespace: the grader kills this process itself
    if cfg.get("lifeline_fd") is not None:
        os.close(cfg["lifeline_fd"])
    os.environ.clear()
    os.environ.update(cfg.get("env", {}))
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # found again from this environment (the zygote's imports kept theirs)
    done["filesystem_view"] = "none"
    if not (cfg.get("namespaces", True) and cfg.get("filesystem_view", True) and fsview.build(cfg, done)):
        hide_paths(cfg, done)
    else:
        done["hidden_paths"] = [p for p in cfg.get("hide", []) if p]
    done.setdefault("tmpfs", {})
    set_limits(cfg, done)
    drop_privileges(cfg, done)
    apply_landlock(cfg, done)
    os.chdir(cfg["home"])
    if "codec" not in sys.modules:
        sys.path.insert(0, cfg["bin"])
        import codec  # noqa: F401 - the worker's copy

        sys.path.remove(cfg["bin"])
    codec = sys.modules["codec"]
    import numpy  # noqa: F401

    probe(cfg, done)
    sys.modules["guard"].install(cfg, Server)  # forbidden shortcuts checked where they run (guard.py)
    try:
        module = load_module(cfg["module_file"], cfg["module_name"])
    except SyntaxError as e:
        codec.write_message(wfd, {"hello": done, "import_error": f"{e.lineno}: syntax error: {e.msg}"})
        return
    except BaseException as e:  # noqa: BLE001 - SystemExit at import too
        info = describe_error(e, cfg["module_file"])
        kind = info["mro"][0].removeprefix("builtins.")
        codec.write_message(wfd, {"hello": done, "import_error": f"error while importing: {kind}: {info['msg']}"})
        return
    done["import_seconds"] = round(time.time() - done["started"], 3)
    manifest = {}
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        if callable(value):
            manifest[name] = {"kind": "function"}
        elif type(value) in (int, str, bool) or value is None or (type(value) is float and value - value == 0):
            manifest[name] = {"kind": "value", "value": value}
    codec.write_message(wfd, {"hello": done, "attributes": manifest})
    Server(cfg, module, rfd, wfd).serve()


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        cfg = json.load(f)
    run(cfg)


if __name__ == "__main__":
    main()
