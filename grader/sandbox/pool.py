"""The grader's side of the sandbox: worker processes and the proxy target the tests receive.

``SandboxTarget`` is what the section fixture (e.g. ``attention_math``) returns for a target spec
``sandbox:PATH``. Attribute access gives a :class:`RemoteFunction`; calling it encodes the
arguments (plain arrays as raw bytes, anything else as JSON + raw array bytes; see codec.py), sends them to the section's worker, waits at most ``call_timeout``
seconds, and decodes the reply into plain Python values, ndarrays and tensors — or re-raises the
student's exception as the nearest built-in exception type with the student's message. The pytest
process never imports the submission; it only ever sees data.

Behaviour that would otherwise differ from an in-process call is carried over explicitly:

* in-place changes the worker made to its copies of the arguments are written back into the
  caller's arrays/tensors/lists/dicts (so "does not modify its input" tests still see them);
* warning filters and ``np.errstate`` of the caller apply inside the worker, and warnings raised
  there are re-raised in the caller;
* autograd: when an argument requires grad, the outputs are connected to it through a
  ``torch.autograd.Function`` whose backward asks the worker for the vector-Jacobian product, so
  ``loss.backward()`` on a returned tensor fills ``W.grad`` as in-process;
* exact types: an ndarray/tensor subclass comes back as an inert subclass of the same name, and
  any other object as :class:`codec.Opaque`, so exact-type checks fail as they would in-process.

One worker per section, started on first use (or ahead of time by :func:`prestart`), restarted
after a crash or timeout. A function that timed out or killed its worker is not called again in
this run (its later calls fail at once with the same reason), which bounds the time a hostile
submission can cost.

Time budget: besides the per-call limit, all calls of a section share a budget of worker time
(:func:`time_budget`): ``factor`` × the reference's own time for the same suites, measured once on
an idle machine and committed in ``grader/time_budget.json`` (``benchmarks/bench_time_budget.py
--update``), at least ``minimum_seconds``, × the machine's load factor while the section runs
(:func:`load_factor`). A call never waits longer than what is left of it; once it is used up, every
later call of the section fails at once with "not run: time budget used up". A submission that
sleeps or loops in every function therefore costs about the budget, not the per-call limit times
the number of calls.
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import forbidden
from grader.errors import SandboxError, SubmissionCrash, SubmissionExit, TargetError
from grader.sandbox import codec
from grader.sections import HIDDEN_TESTS, MUTANTS, REPO, SOLUTIONS, Section, one_thread_env

HERE = Path(__file__).resolve().parent
PASS_VARS = ("OPENBLAS_CORETYPE", "LANG", "LC_ALL", "TZ")
MAX_COPY_FILES, MAX_COPY_BYTES = 200, 50 << 20
UID_BASE = 1_000_000
TIME_BUDGET_FILE = REPO / "grader" / "time_budget.json"
# a section graded in two runs (``grader.grade.section_parts``): its hidden training suites, and the rest
SPLIT_PARTS = ("main", "training")
BUDGET_USED_UP = "not run: time budget used up"
TAMPERED = "a way around the grader's shortcut check"  # the same text as guard.TAMPERED


@dataclass
class SandboxConfig:
    call_timeout: float = float(os.environ.get("COURSE_CALL_TIMEOUT", "60"))
    start_timeout: float = 120.0
    cpu_seconds: int = 600
    data_bytes: int = 4 << 30
    file_bytes: int = 64 << 20
    processes: int = 64
    open_files: int = 256
    max_reply_bytes: int = 256 << 20
    output_cap: int = 64 << 10
    namespaces: bool = True
    hide: list[str] = field(default_factory=list)
    time_budget: float | None = None  # seconds of calls per section; None: time_budget(section)


def time_budget(section: Section, suites: str | None = None, load: float = 1.0) -> tuple[float, str]:
    """(seconds, how they were derived) of worker time that the calls of ``section`` may use.

    ``$COURSE_TIME_BUDGET`` (seconds; ``inf`` for none) overrides everything; otherwise the
    reference's measured time for ``suites`` ("public" or "all" = public + hidden; default
    ``$COURSE_TIME_BUDGET_SUITES``, set by grader/run.py, else "all") times
    ``$COURSE_TIME_BUDGET_FACTOR`` (else the file's factor), at least the file's minimum, times
    ``load`` (how much slower than at the measurement the machine runs now, see :func:`load_factor`)."""
    base, minimum, source = _budget_parts(section, suites)
    if minimum is None:
        return base, source
    return max(minimum, base) * load, source


def _budget_parts(section: Section, suites: str | None) -> tuple[float, float | None, str]:
    """(factor x measured seconds, minimum or None when the budget does not scale, source)."""
    explicit = os.environ.get("COURSE_TIME_BUDGET")
    if explicit:
        return float(explicit), None, "set by $COURSE_TIME_BUDGET"
    suites = suites or os.environ.get("COURSE_TIME_BUDGET_SUITES") or "all"
    try:
        data = json.loads(TIME_BUDGET_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return math.inf, None, f"no time budget: {TIME_BUDGET_FILE.name} is missing or unreadable"
    factor = float(os.environ.get("COURSE_TIME_BUDGET_FACTOR") or data.get("factor", 3.0))
    minimum = float(data.get("minimum_seconds", 10.0))
    entry = data.get("sections", {}).get(section.name, {})
    measured = entry.get(suites)
    if measured is None:
        return math.inf, None, f"no time budget: the reference's time for {section.name} ({suites}) is not measured"
    if suites in SPLIT_PARTS:  # a part of the section's run: its share of the section's budget
        try:
            share = float(measured) / sum(float(entry[part]) for part in SPLIT_PARTS)
            whole = float(entry["all"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return math.inf, None, f"no time budget: the parts of {section.name} are not measured"
        source = (f"{share:.0%} ({suites} tests) of {factor:g} x the reference's {whole:.2f} s (all tests), "
                  f"at least {minimum:g} s, x the load factor")  # fmt: skip
        return share * factor * whole, share * minimum, source
    source = f"{factor:g} x the reference's {float(measured):.2f} s ({suites} tests), at least {minimum:g} s, x the load factor"
    return factor * float(measured), minimum, source


MAX_LOAD_FACTOR = 8.0


_LOAD: list[float] = [-1.0, 1.0]  # (monotonic time it was read, load factor)


def load_factor() -> float:
    """How many runnable processes share each CPU now (1-minute load average / CPUs), between 1 and
    ``MAX_LOAD_FACTOR``: the reference was measured on an idle machine, and on a busy one every
    call takes about this much longer. Read at most once a second (the kernel updates the average
    every 5 s; it is asked at every call)."""
    now = time.monotonic()
    if now - _LOAD[0] >= 1.0:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
        _LOAD[:] = [now, min(MAX_LOAD_FACTOR, max(1.0, load / _cpus()))]
    return _LOAD[1]


@functools.cache
def _cpus() -> int:
    """CPUs this process may run on (read once: the load factor is computed at every call)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def hidden_paths() -> list[str]:
    extra = [p for p in os.environ.get("COURSE_GRADER_HIDE", "").split(os.pathsep) if p]
    return sorted({str(REPO), str(HIDDEN_TESTS), str(SOLUTIONS), str(MUTANTS), *extra})


def secret_probe_files() -> list[str]:
    files = sorted(HIDDEN_TESTS.glob("test_*.py"))[:1] + sorted(SOLUTIONS.glob("sec*/*.py"))[:1]
    return [str(p) for p in files]


# --- messages must not quote grader files ---------------------------------------------------

_SECRET_LINES: list[str] | None = None
_SECRET_INDEX: dict[str, list[str]] | None = None  # the first SECRET_MIN characters → the lines
SECRET_MIN = 24  # characters of the shortest line that counts (shorter ones are too common)
WITHHELD = "(message withheld: it quotes the grader's files)"


def _secret_lines() -> list[str]:
    """Lines of the hidden tests and solutions that are in no file a student has."""
    global _SECRET_LINES
    if _SECRET_LINES is None:
        from grader.sections import EXERCISES, PUBLIC_TESTS

        def lines(paths):
            out = set()
            for p in paths:
                try:
                    out |= {
                        s.strip() for s in p.read_text(encoding="utf-8").splitlines() if len(s.strip()) >= SECRET_MIN
                    }
                except OSError:
                    pass
            return out

        secret = lines([*HIDDEN_TESTS.glob("*.py"), *SOLUTIONS.glob("sec*/*.py")])
        public = lines([*EXERCISES.glob("sec*/*.py"), *PUBLIC_TESTS.glob("*.py")])
        _SECRET_LINES = sorted(secret - public)
    return _SECRET_LINES


def withhold_secrets(text: str) -> str:
    """``text``, or :data:`WITHHELD` when any of :func:`_secret_lines` occurs in it. Each place in
    the text is looked up by the characters that start there (one dict lookup per character, not
    one search of the whole text per secret line: a call's error message is checked this way)."""
    global _SECRET_INDEX
    if _SECRET_INDEX is None:
        index: dict[str, list[str]] = {}
        for line in _secret_lines():
            index.setdefault(line[:SECRET_MIN], []).append(line)
        _SECRET_INDEX = index
    for i in range(len(text) - SECRET_MIN + 1):
        lines = _SECRET_INDEX.get(text[i : i + SECRET_MIN])
        if lines and any(text.startswith(line, i) for line in lines):
            return WITHHELD
    return text


# --- one worker process -----------------------------------------------------------------------


class _Output:
    """Drains the worker's stdout+stderr, keeping the first ``cap`` bytes."""

    def __init__(self, pipe, cap: int):
        self.cap, self.head, self.total = cap, bytearray(), 0
        self.thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self.thread.start()

    def _drain(self, pipe):
        try:
            while chunk := pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536):
                self.total += len(chunk)
                if len(self.head) < self.cap:
                    self.head += chunk[: self.cap - len(self.head)]
        except (OSError, ValueError):
            pass


def zygote_env() -> dict[str, str]:
    """The whole environment a zygote starts with (its workers' memory holds it): a few locale and
    library settings of the grader's, one thread per library, nothing else of the grader's."""
    env = {k: os.environ[k] for k in PASS_VARS if k in os.environ}
    env.update(one_thread_env(), PATH="/usr/bin:/bin", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    return env


class Zygote:
    """A ``zygote.py`` process of this grader (see its docstring) and our connection to it: started
    here, or (``path``) one that another process started (``grader.warm.WarmRunner(zygote=True)``)."""

    def __init__(self, path: str | None = None):
        self.proc = None
        if path is None:
            self.dir = tempfile.mkdtemp(prefix="grade-zygote-")  # 0700: only the grader can connect
            path = os.path.join(self.dir, "zygote.sock")
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(HERE / "zygote.py"), path], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, env=zygote_env(), cwd=self.dir, start_new_session=True,
            )  # fmt: skip
            self._ready = self.proc.stdout
        else:
            self.dir, self._ready = os.path.dirname(path), None
        self.path = path
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()

    def connect(self, timeout: float) -> socket.socket:
        if self.sock is None:
            if self._ready is not None:
                if not select.select([self._ready], [], [], timeout)[0] or self._ready.readline() != b"ready\n":
                    raise SandboxError("the sandbox's zygote process did not start")
                self._ready = None
            deadline = time.monotonic() + timeout
            while True:  # a zygote started by another process may still be importing torch
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self.path)
                    break
                except OSError:
                    sock.close()
                    if time.monotonic() > deadline:
                        raise SandboxError("the sandbox's zygote process is not answering") from None
                    time.sleep(0.05)
            self.sock = sock
        return self.sock

    def fork(self, config: dict, fds: list[int], timeout: float) -> int:
        """A new worker with the given pipes; returns a pidfd of its first process."""
        import json

        with self.lock:
            sock = self.connect(timeout)
            socket.send_fds(sock, [json.dumps(config).encode()], fds)
            sock.settimeout(timeout)
            _, got, _, _ = socket.recv_fds(sock, 16, 1)
        if len(got) != 1:
            raise SandboxError("the zygote did not start a worker")
        return got[0]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            shutil.rmtree(self.dir, ignore_errors=True)


_ZYGOTE: Zygote | None = None
ZYGOTE_ENV = "COURSE_SANDBOX_ZYGOTE"


def zygote() -> Zygote:
    """This process's zygote: the one named by $COURSE_SANDBOX_ZYGOTE (started by ``grade`` for all
    its sections), else one of our own."""
    global _ZYGOTE
    if _ZYGOTE is None:
        _ZYGOTE = Zygote(os.environ.get(ZYGOTE_ENV) or None)
    return _ZYGOTE


class Worker:
    def __init__(self, section: Section, root: Path, config: SandboxConfig, index: int):
        self.section, self.root, self.config, self.index = section, Path(root), config, index
        self.pidfd: int | None = None
        self.ns_pid = 0
        self.dir: Path | None = None
        self.hello: dict = {}
        self.attributes: dict = {}
        self.import_error: str | None = None
        self.outputs: list[_Output] = []
        self.call_id = 0
        self.lock = threading.RLock()
        self.ready_state = None
        self.wfd = self.rfd = None

    # start -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Copy the section and fork the worker from the zygote (does not wait: see :meth:`ready`)."""
        cfg = self.config
        self.dir = Path(tempfile.mkdtemp(prefix=f"grade-worker-{self.section.name}-"))
        bin_dir, home, sub = self.dir / "bin", self.dir / "home", self.dir / "sub"
        for d in (bin_dir, home, sub):
            d.mkdir()
        copy_section(self.root / self.section.name, sub / self.section.name)
        module_file = sub / self.section.name / f"{self.section.module}.py"
        uid = UID_BASE + os.getpid() * 8 + self.section.number % 8 if os.getuid() == 0 else None
        env = {k: os.environ[k] for k in PASS_VARS if k in os.environ}
        env.update(one_thread_env())
        env.update(PATH="/usr/bin:/bin", HOME=str(home), TMPDIR=str(home), PYTHONHASHSEED="0",
                   PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")  # fmt: skip
        z = zygote()
        config = {
            "home": str(home), "bin": str(bin_dir), "env": env,
            "module_file": str(module_file), "module_name": self.section.module, "uid": uid,
            "grader_uid": os.getuid(), "namespaces": cfg.namespaces,
            "hide": (cfg.hide or hidden_paths()) + [z.dir], "secrets": secret_probe_files(),
            "cpu_seconds": cfg.cpu_seconds, "data_bytes": cfg.data_bytes,
            "file_bytes": cfg.file_bytes, "processes": cfg.processes, "open_files": cfg.open_files,
            "forbidden_rules": forbidden.rules_for(self.section.name),
        }  # fmt: skip
        if uid is not None:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, uid, uid, follow_symlinks=False)
        r_req, w_req = os.pipe()
        r_rep, w_rep = os.pipe()
        r_out, w_out = os.pipe()
        r_life, w_life = os.pipe()  # we never write: when this process ends, the worker ends too
        try:
            self.pidfd = z.fork(config, [r_req, w_rep, w_out, r_life], cfg.start_timeout)
        except (OSError, SandboxError) as e:
            for fd in (w_req, r_rep, r_out, w_life):
                os.close(fd)
            self.ready_state = SandboxError(f"cannot start a worker for {self.section.name}: {e}")
            return
        finally:
            for fd in (r_req, w_rep, w_out, r_life):
                os.close(fd)
        self.wfd, self.rfd, self.lifeline = w_req, r_rep, w_life
        self.outputs.append(_Output(os.fdopen(r_out, "rb", buffering=0), cfg.output_cap))
        self.private_module_file = str(module_file)

    def ready(self, timeout: float | None = None) -> None:
        """Wait for the worker's hello (protections, attributes or the import error), at most the
        start limit (or ``timeout`` seconds, when that is shorter)."""
        if self.ready_state is not None:
            if self.ready_state is not True:
                raise self.ready_state
            return
        try:
            limit = self.config.start_timeout if timeout is None else min(self.config.start_timeout, timeout)
            deadline = time.monotonic() + limit
            readinto = self._reader(deadline)
            (self.ns_pid,) = struct.unpack("<q", codec.read_exact(readinto, 8))
            header, _ = codec.read_message(readinto, 1 << 20)
            self.hello = header.get("hello", {})
            self.attributes = header.get("attributes", {})
            self.import_error = header.get("import_error")
            self.ready_state = True
        except (EOFError, TimeoutError, OSError, codec.CodecError, ValueError, struct.error) as e:
            self.kill()
            what = "did not start in time" if isinstance(e, TimeoutError) else f"ended while starting ({e})"
            self.ready_state = SandboxError(f"the worker for {self.section.name} {what}")
            raise self.ready_state from None

    def _exit_note(self) -> str:
        return ""

    def _reader(self, deadline: float):
        """``readinto(view)`` of the reply pipe that waits until ``deadline`` at most (TimeoutError)."""
        fd = self.rfd
        poll = select.poll()
        poll.register(fd, select.POLLIN)

        def readinto(view) -> int:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poll.poll(remaining * 1000):
                raise TimeoutError
            return os.readv(fd, [view])

        return readinto

    # calls ------------------------------------------------------------------------------------

    def request(self, header: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        with self.lock:
            self.call_id += 1
            header = {**header, "id": self.call_id}
            try:
                codec.write_message(self.wfd, header, blobs)
            except OSError:
                raise EOFError("the worker is gone") from None
            reply, reply_blobs = codec.read_message(
                self._reader(time.monotonic() + timeout), self.config.max_reply_bytes
            )
            if reply.get("id") != self.call_id:
                raise codec.CodecError("reply out of order")
            return reply, reply_blobs

    def kill(self) -> None:
        """Kill the worker: its PID namespace (all its processes) and its first process."""
        if self.pidfd is not None:
            if self.ns_pid > 0:
                try:  # still a child of the first process, which never reaps it: the PID is valid
                    os.kill(self.ns_pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
            os.close(self.pidfd)
            self.pidfd = None
        for fd in (self.wfd, self.rfd, getattr(self, "lifeline", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.wfd = self.rfd = self.lifeline = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self.ready_state is True:
            self.ready_state = SandboxError("the worker was stopped")

    def alive(self) -> bool:
        return self.pidfd is not None and self.ready_state is True

    def output_bytes(self) -> int:
        return sum(o.total for o in self.outputs)


def copy_section(src: Path, dst: Path) -> None:
    """Copy the regular files of a section folder (never following a link: a link to the grader's
    files must not become a copy of them), within a file count and size budget."""
    dst.mkdir(parents=True, exist_ok=True)
    if not src.is_dir() or src.is_symlink():
        return
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink() and d != "__pycache__"]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            size += path.stat().st_size
            if count > MAX_COPY_FILES or size > MAX_COPY_BYTES:
                return
            (dst / rel).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / rel / name, follow_symlinks=False)


# --- encoding helpers on the grader side -------------------------------------------------------


def _leaves(value, out):
    if type(value) in (list, tuple):
        for v in value:
            _leaves(v, out)
    elif type(value) is dict:
        for v in value.values():
            _leaves(v, out)
    elif codec._is_tensor(value):
        out.append(value)
    return out


def _write_back(original, new) -> None:
    """Make the caller's arguments look like the worker's after the call (in-place changes)."""
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.flags.writeable:
            np.copyto(original, new, casting="unsafe")
    elif codec._is_tensor(original) and codec._is_tensor(new):
        if original.shape == new.shape and not original.requires_grad:
            import torch

            with torch.no_grad():
                original.copy_(new)
    elif type(original) is list and type(new) is list:
        if len(original) == len(new):
            for i, (a, b) in enumerate(zip(original, new)):
                if _in_place(a, b):
                    _write_back(a, b)
                elif not _same(a, b):
                    original[i] = b
        else:
            original[:] = new
    elif type(original) is tuple and type(new) is tuple and len(original) == len(new):
        for a, b in zip(original, new):
            _write_back(a, b)
    elif type(original) is dict and type(new) is dict:
        if list(original) == list(new):
            for k in original:
                if _in_place(original[k], new[k]):
                    _write_back(original[k], new[k])
                elif not _same(original[k], new[k]):
                    original[k] = new[k]
        else:
            original.clear()
            original.update(new)


def _in_place(a, b) -> bool:
    """The worker's value ``b`` can be written into the caller's ``a`` in place (else ``a`` was
    replaced, e.g. a dict value set to an array of another shape, and is replaced here too)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and a.flags.writeable
    if codec._is_tensor(a):
        return codec._is_tensor(b) and a.shape == b.shape and not a.requires_grad
    return _mutable(a) and type(a) is type(b)


def _mutable(x) -> bool:
    return isinstance(x, (np.ndarray, list, dict, tuple)) or codec._is_tensor(x)


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _warning_filters() -> list[list[str]]:
    out = []
    for action, message, category, module, _lineno in warnings.filters:
        message, module = getattr(message, "pattern", message), getattr(module, "pattern", module)
        plain = not message and (not module or module == ".*")
        if plain and getattr(builtins, category.__name__, None) is category:
            out.append([action, category.__name__])
    return out


def _exception_class(mro: list[str]) -> type[BaseException]:
    for name in mro:
        module, _, cls_name = name.rpartition(".")
        if module != "builtins":
            continue
        if cls_name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"):
            return SubmissionExit
        cls = getattr(builtins, cls_name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            return cls
    return RuntimeError


# --- the proxy ---------------------------------------------------------------------------------


class RemoteFunction:
    def __init__(self, target: SandboxTarget, name: str):
        self._target, self.__name__ = target, name

    def __repr__(self):
        return f"<function {self.__name__} of {self._target._section.name} (sandboxed)>"

    def __call__(self, *args, **kwargs):
        return self._target._call(self.__name__, args, kwargs)


class SandboxTarget:
    """The section as the tests see it: attributes are the section's functions and constants."""

    def __init__(self, section: Section, root: Path, config: SandboxConfig | None = None, index: int = 0):
        self._section, self._root = section, Path(root).resolve()
        self._config = config or SandboxConfig()
        self._worker: Worker | None = None
        self._broken: dict[str, str] = {}  # function → why it is not called again
        self._starts = 0
        self._index = index
        self._lock = threading.Lock()
        self.__name__ = section.module
        self.__file__ = str(section.module_file(self._root))
        self.crashes: list[str] = []
        self.output_total = 0
        self._last_call_facts: dict = {}  # what the worker measured during the last call (RNG use, CPU-s)
        if self._config.time_budget is not None:
            self._budget_base, self._budget_min = float(self._config.time_budget), None
            self._budget_source = "set by the caller"
        else:
            self._budget_base, self._budget_min, self._budget_source = _budget_parts(section, None)
        self._load = 1.0  # the highest load factor seen during this section's calls
        self._rules = forbidden.rules_for(section.name)
        self.forbidden: dict[str, set[str]] = {}  # exercise → banned names the worker saw it use
        self._attributes: dict | None = None  # of the last worker that started
        self._used = 0.0  # seconds of calls so far (worker wall time as seen from here)
        self._calls = 0
        self._budget_stop: str | None = None  # why the budget ended, once it has
        self._context_key: tuple | None = None  # (errstate, warning filters) of the last call, and its JSON
        self._context_text = ""

    # worker management
    def _ensure_worker(self) -> Worker:
        with self._lock:
            if self._worker is None or self._worker.pidfd is None and self._worker.ready_state is not None:
                if self._worker is not None:
                    self.output_total += self._worker.output_bytes()
                    self._worker.kill()
                self._starts += 1
                self._worker = Worker(self._section, self._root, self._config, self._index)
                self._worker.start()
            return self._worker

    def start(self) -> None:
        self._ensure_worker()

    def _ready(self) -> Worker:
        begin = time.monotonic()
        worker = self._ensure_worker()
        restart = worker.ready_state is None and self._starts > 1  # after a timeout or crash
        limit = None
        if restart:  # a restart uses the budget too, and may not outlast what is left of it
            left = self._budget - self._used
            if left <= 0:
                self._budget_stop = f"{BUDGET_USED_UP} (a time limit of the grader: the section's calls may take {self._budget:.0f} s in all, {self._budget_source})"
                raise SubmissionCrash(self._budget_stop)
            limit = left if math.isfinite(left) else None
        try:
            worker.ready(limit)
        except SandboxError:
            if limit is not None and limit < self._config.start_timeout and time.monotonic() - begin >= limit:
                self._budget_stop = (
                    f"{BUDGET_USED_UP} (a time limit of the grader: the section's calls may take {self._budget:.0f} s in all, "
                    f"{self._budget_source}; the module was being imported again when it ran out)"
                )
                raise SubmissionCrash(self._budget_stop) from None
            raise
        finally:
            if restart:
                self._used += time.monotonic() - begin
        self._attributes = worker.attributes
        if worker.import_error:
            raise TargetError(f"{self.__file__}: {self._clean(worker.import_error, worker)}")
        return worker

    @property
    def protections(self) -> dict:
        return dict(self._worker.hello) if self._worker is not None else {}

    @property
    def _budget(self) -> float:
        if self._budget_min is None:
            return self._budget_base
        return max(self._budget_min, self._budget_base) * self._load

    @property
    def budget_facts(self) -> dict:
        budget = self._budget if math.isfinite(self._budget) else None
        return {
            "seconds": None if budget is None else round(budget, 3), "source": self._budget_source,
            "used": round(self._used, 3), "calls": self._calls, "used_up": self._budget_stop is not None,
            "load_factor": round(self._load, 2),
        }  # fmt: skip

    def _timed_request(self, worker: Worker, name: str, header: dict, blobs: list[bytes]):
        """``worker.request`` within the per-call limit and what is left of the section's budget."""
        if self._budget_stop is not None:
            raise SubmissionCrash(self._budget_stop)
        self._load = max(self._load, load_factor())  # reported always, applied to a measured budget only
        left = self._budget - self._used
        if left <= 0:
            self._budget_stop = f"{BUDGET_USED_UP} (a time limit of the grader: the section's calls may take {self._budget:.0f} s in all, {self._budget_source})"
            raise SubmissionCrash(self._budget_stop)
        timeout = min(self._config.call_timeout, left)
        start = time.monotonic()
        try:
            return worker.request(header, blobs, timeout)
        except TimeoutError:
            if timeout < self._config.call_timeout:
                self._budget_stop = (
                    f"{BUDGET_USED_UP} (a time limit of the grader: the section's calls may take {self._budget:.0f} s in all, "
                    f"{self._budget_source}; {name} was running when it ran out)"
                )
                self._fail(name, self._budget_stop)
            raise
        finally:
            self._used += time.monotonic() - start
            self._calls += 1

    def close(self) -> None:
        if self._worker is not None:
            self.output_total += self._worker.output_bytes()
            self._worker.kill()
            self._worker = None

    def _clean(self, text: str, worker: Worker | None = None) -> str:
        worker = worker or self._worker
        if worker is not None and worker.dir is not None:
            text = text.replace(str(worker.dir / "sub"), str(self._root))
        return withhold_secrets(text[:2000])

    # attributes
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._budget_stop is not None and self.__dict__.get("_attributes") is not None:
            attributes = self._attributes  # no new worker once no call can run any more
        else:
            attributes = self._ready().attributes
        info = attributes.get(name)
        if info is None:
            raise AttributeError(f"module {self._section.module!r} has no attribute {name!r}")
        if info["kind"] == "value":
            return info["value"]
        return RemoteFunction(self, name)

    def __dir__(self):
        return sorted(self._ready().attributes)

    # calls
    def _callable(self, name: str) -> None:
        """:class:`SubmissionCrash` when no call of ``name`` may run any more (the section's budget is
        used up, or the function broke its worker)."""
        if self._budget_stop is not None:
            raise SubmissionCrash(self._budget_stop)
        if name in self._broken:
            raise SubmissionCrash(self._broken[name])

    def _call(self, name: str, args: tuple, kwargs: dict):
        self._callable(name)
        grad_inputs = _grad_inputs((args, kwargs))
        if grad_inputs:
            return _call_with_autograd(self, name, args, kwargs, grad_inputs)
        result, _ = self._remote(name, args, kwargs)
        return result

    def _context(self) -> str:
        """The caller's ``np.errstate`` and warning filters, as the worker applies them (JSON, made
        again only when they change)."""
        key = (np.geterr(), tuple(warnings.filters))
        if key != self._context_key:
            self._context_key, self._context_text = key, json.dumps([key[0], _warning_filters()])
        return self._context_text

    def _remote(self, name, args, kwargs, grad: bool | None = None):
        """One call in the worker. Returns (decoded result, call id)."""
        worker = self._ready()
        header = self._call_header("call", name, grad)
        blobs = None if kwargs else codec.plain_blobs(tuple(args))
        if blobs is not None:
            header["plain"] = "tuple"  # only plain arrays: they are the blobs (no JSON, see codec.py)
        else:
            header["args"], blobs = codec.encode((tuple(args), dict(kwargs)), strict=True)
        reply, reply_blobs = self._exchange(worker, name, header, blobs)
        return self._finish(name, reply, reply_blobs, args, kwargs), reply.get("id")

    def _call_many(self, name: str, items: list[tuple[tuple, dict]]) -> list:
        """``[fn(*args, **kwargs) for args, kwargs in items]`` for the section's function ``name``, in
        one round trip (``op: map``): the worker runs each item as a call of its own, with the same
        checks and a reply of its own; an error is raised here as the loop would raise it at that
        item (later items are not run). Arguments that require grad go one call at a time."""
        self._callable(name)
        items = [(tuple(args), dict(kwargs)) for args, kwargs in items]
        if _grad_inputs(items):
            return [self._call(name, args, kwargs) for args, kwargs in items]
        if not items:
            return []
        worker = self._ready()
        header = self._call_header("map", name, None)
        trees, counts, blobs = [], [], []
        for item in items:
            tree, item_blobs = codec.encode(item, strict=True)
            trees.append(tree)
            counts.append(len(item_blobs))
            blobs += item_blobs
        header["items"], header["counts"] = trees, counts
        reply, reply_blobs = self._exchange(worker, name, header, blobs)
        self._note_forbidden(reply.get("forbidden"))
        replies, reply_counts = reply.get("replies"), reply.get("counts")
        if not (
            type(replies) is list and type(reply_counts) is list and 0 < len(replies) == len(reply_counts) <= len(items)
            and all(type(r) is dict for r in replies) and all(type(c) is int and c >= 0 for c in reply_counts)
            and sum(reply_counts) == len(reply_blobs)
        ):  # fmt: skip
            self._fail(name, f"{name}: the submission's process sent an invalid reply (calls in one message)")
        self._calls += len(replies) - 1  # one request, but each item is a call
        results, start = [], 0
        for (args, kwargs), sub, count in zip(items, replies, reply_counts):
            results.append(self._finish(name, sub, reply_blobs[start : start + count], args, kwargs))
            start += count
        if len(results) < len(items):  # no error, yet items missing
            self._fail(name, f"{name}: the submission's process sent an invalid reply (calls missing)")
        return results

    def _call_header(self, op: str, name: str, grad: bool | None) -> dict:
        torch = sys.modules.get("torch")
        return {
            "op": op, "name": name, "context": self._context(),
            "grad": (torch is None or bool(torch.is_grad_enabled())) if grad is None else bool(grad),
        }  # fmt: skip

    def _exchange(self, worker: Worker, name: str, header: dict, blobs: list):
        """The request and its reply, or :class:`SubmissionCrash` (the worker stopped or broken)."""
        timeout = self._config.call_timeout
        try:
            return self._timed_request(worker, name, header, blobs)
        except TimeoutError:
            self._fail(name, f"{name} did not return within {timeout:g} s (stopped; a time limit of the grader)")
        except (EOFError, OSError):
            self._fail(name, f"{name} ended the submission's process{worker._exit_note()}")
        except (codec.CodecError, ValueError, KeyError, RecursionError) as e:
            self._fail(name, f"{name}: the submission's process sent an invalid reply ({type(e).__name__})")

    def _finish(self, name: str, reply: dict, reply_blobs: list, args, kwargs):
        """A call's reply turned into its result (or its exception, raised): the worker's facts
        noted, warnings re-issued, changed arguments written back."""
        self._note_forbidden(reply.get("forbidden"))
        cpu = reply.get("cpu")
        self._last_call_facts = {
            "global_rng": reply.get("global_rng") is True,
            "cpu_seconds": float(cpu) if type(cpu) in (int, float) and 0 <= cpu < math.inf else None,
        }
        for category, message in _pairs(reply.get("warnings"))[:20]:
            cls = getattr(builtins, str(category), None)
            cls = cls if isinstance(cls, type) and issubclass(cls, Warning) else UserWarning
            warnings.warn(self._clean(str(message)), cls, stacklevel=5)
        if "error" in reply:
            info = reply["error"] if type(reply["error"]) is dict else {}
            exc = _exception_class(list(info.get("mro", [])))(self._clean(str(info.get("msg", ""))))
            exc.course_origin = (str(info.get("func", name))[:100], Path(self.__file__).name)
            raise exc
        try:
            result = _reply_value(reply, reply_blobs)
            if "mutated" in reply:
                offset = int(reply["mutated"]["offset"])
                new_args, new_kwargs = codec.decode(reply["mutated"]["tree"], reply_blobs[offset:], copy=False)
                _write_back(args, new_args)
                _write_back(kwargs, new_kwargs)
        except (codec.CodecError, ValueError, KeyError, TypeError, RecursionError) as e:
            self._fail(name, f"{name} returned a value that cannot be read back ({type(e).__name__})", kill=False)
        return result

    @property
    def forbidden_facts(self) -> dict[str, list[str]]:
        """Exercise → the banned names the worker's guard saw its calls use (sorted)."""
        return {exercise: sorted(names) for exercise, names in sorted(self.forbidden.items())}

    def _note_forbidden(self, found) -> None:
        """Keep what the worker's guard (guard.py) saw: only exercises with a rule and its names."""
        if not isinstance(found, dict):
            return
        for exercise, names in found.items():
            allowed = set(self._rules.get(exercise, ())) | {TAMPERED}
            if exercise in self._rules and isinstance(names, list):
                kept = {n for n in names if isinstance(n, str) and n in allowed}
                if kept:
                    self.forbidden.setdefault(exercise, set()).update(kept)

    def _fail(self, name: str, why: str, kill: bool = True):
        if kill:
            self._broken[name] = why + "; not called again"
            self._drop_worker(why)
        raise SubmissionCrash(why)

    def _drop_worker(self, why: str) -> None:
        """Record the crash and kill the worker: it may still answer the stopped request later, so
        the next call starts a fresh one."""
        self.crashes.append(why)
        if self._worker is not None:
            self.output_total += self._worker.output_bytes()
            self._worker.kill()
            self._worker = None

    def _backward(self, call_id: int, grads: list):
        worker = self._worker
        if worker is None or not worker.alive():
            raise SubmissionCrash("the submission's process is gone; cannot compute gradients")
        tree, blobs = codec.encode(list(grads), strict=True)
        try:
            reply, reply_blobs = self._timed_request(
                worker, "backward", {"op": "backward", "grads": tree, "call": call_id}, blobs
            )
        except (TimeoutError, EOFError, OSError, codec.CodecError) as e:
            why = f"gradient computation failed ({type(e).__name__})"
            self._drop_worker(why)
            raise SubmissionCrash(why) from None
        self._note_forbidden(reply.get("forbidden"))
        if "error" in reply:
            info = reply["error"]
            raise _exception_class(list(info.get("mro", [])))(self._clean(str(info.get("msg", ""))))
        return codec.decode(reply["result"], reply_blobs, copy=False)


def _grad_inputs(value) -> list:
    """The tensors in ``value`` that require grad, while autograd records (else none)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.is_grad_enabled():
        return []
    return [t for t in _leaves(value, []) if t.requires_grad]


def _pairs(value) -> list:
    """The ``[category, message]`` pairs of a reply's warnings (anything else in it is dropped)."""
    if type(value) is not list:
        return []
    return [v for v in value if type(v) in (list, tuple) and len(v) == 2]


def _reply_value(reply: dict, blobs: list):
    """The result of a call's reply: plain arrays (the blobs before the changed arguments'), or a
    tagged tree. Arrays are views of the reply's own buffer (no copy)."""
    plain = reply.get("plain")
    if plain is None:
        return codec.decode(reply["result"], blobs, copy=False)
    end = int(reply["mutated"]["offset"]) if "mutated" in reply else len(blobs)
    values = codec.read_plain(blobs[:end], copy=False)
    if plain == "tuple":
        return values
    if plain == "array" and len(values) == 1:
        return values[0]
    raise codec.CodecError("malformed reply")


def _call_with_autograd(target: SandboxTarget, name, args, kwargs, grad_inputs):
    """Run the call inside an autograd Function so gradients flow back through the worker."""
    import torch

    box = {}

    class RemoteCall(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            result, call_id = target._remote(name, args, kwargs, grad=True)
            outs = _leaves(result, [])
            box["result"], box["outs"], ctx.call_id = result, outs, call_id
            ctx.rg = [bool(o.requires_grad) for o in outs]
            plain = [o.detach().clone() if o.requires_grad else o for o in outs]
            non_diff = [p for p, rg in zip(plain, ctx.rg) if not rg or not (p.is_floating_point() or p.is_complex())]
            if not plain:
                plain = [torch.zeros(())]
                non_diff = plain
                ctx.rg = [False]
            ctx.mark_non_differentiable(*non_diff)
            return tuple(plain)

        @staticmethod
        def backward(ctx, *grads):
            sent = [g for g, rg in zip(grads, ctx.rg) if rg]
            got = target._backward(ctx.call_id, sent)
            return tuple(got)

    outputs = RemoteCall.apply(*grad_inputs)
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    replacement = dict(zip(map(id, box["outs"]), outputs))
    return _replace(box["result"], replacement)


def _replace(value, table):
    if type(value) in (list, tuple):
        return type(value)(_replace(v, table) for v in value)
    if type(value) is dict:
        return {k: _replace(v, table) for k, v in value.items()}
    return table.get(id(value), value)


# --- registry: one target per (root, section) in this process --------------------------------

_TARGETS: dict[tuple[str, str], SandboxTarget] = {}


def get_target(root: Path, section: Section) -> SandboxTarget:
    key = (str(Path(root).resolve()), section.name)
    if key not in _TARGETS:
        _TARGETS[key] = SandboxTarget(section, Path(root), index=len(_TARGETS))
    return _TARGETS[key]


def prestart(root: Path, section: Section) -> None:
    """Launch the section's worker now, in the background (it imports while pytest collects)."""
    target = get_target(root, section)
    threading.Thread(target=_quietly, args=(target.start,), daemon=True).start()


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the fixture reports a failed start when a test needs it
        pass


def close_all() -> dict[str, dict]:
    """Stop every worker; return per-section facts for the report."""
    facts = {}
    for (_, name), target in _TARGETS.items():
        facts[name] = {
            "protections": target.protections, "crashes": target.crashes, "time_budget": target.budget_facts,
            "forbidden": target.forbidden_facts,
        }  # fmt: skip
        target.close()
        facts[name]["output_bytes"] = target.output_total
    _TARGETS.clear()
    return facts


def close_zygote() -> None:
    global _ZYGOTE
    if _ZYGOTE is not None:
        _ZYGOTE.close()
        _ZYGOTE = None
