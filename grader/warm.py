"""The warm runner: one grader-side process that has imported pytest, NumPy and PyTorch once and
forks one child per section run, so that a grade does not pay those imports once per section.

It is the trusted side (the grader's own tests run in it, never the submission: that stays in the
sandbox's workers). Started by ``grade`` / ``batch`` (:class:`WarmRunner`) with the sandbox zygote's
minimal environment (``grader.sandbox.pool.zygote_env``), never the grader's own: each run brings
its whole environment in its request (``run.child_env()``, the same as for a ``python -m pytest``
child of ``grader/run.py``). It imports no module of the grader package before forking: each child
imports the plugin and the suites itself, after it has taken the request's environment, exactly as
a fresh ``pytest`` process would.

**The zygote** (``zygote=True``): once it has imported NumPy and PyTorch, and before anything else,
the runner forks the sandbox's zygote (``grader/sandbox/zygote.py``, loaded by its path), so that
one process imports PyTorch for both. The zygote's memory is then the runner's at that moment: the
interpreter, NumPy, PyTorch, the minimal environment — no pytest, no test, no solution, no seed,
nothing of the grader's environment. It then imports what only the submission's training needs
(``torch._dynamo``) while the runner imports pytest and starts the first sections; the runner
says "ready" without waiting for it (a worker is forked once the zygote listens) and ends if the
zygote fails to start. It strips the grader's folder from ``sys.path`` (as ``python -I`` would
leave it), listens on its socket in the runner's 0700 folder, and dies with the runner.

Protocol (a Unix socket in a 0700 folder): one connection per run; the request is one JSON line
``{"args": [...], "cwd": ..., "env": {...}, "log": ...}``; the runner forks; the child answers
``{"pid": N}``, runs ``pytest.main(args)`` in ``cwd`` with ``env`` as its whole environment and its
output in ``log``, then answers ``{"rc": code}`` and exits. The runner reaps its children (so that
their CPU time is counted in its own, and in its parent's once it ends).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# what the grader's own tests make PyTorch import (``autograd.grad`` with explicit gradients, in
# ``grader.calls.call_with_grad``): loaded before the zygote is forked, so that both share it
GRADER_LAZY_MODULES = ("torch.fx.experimental.symbolic_shapes",)
ZYGOTE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox", "zygote.py")


def serve(path: str, zygote_path: str | None = None) -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader
    zygote = _zygote_module()
    # NumPy, PyTorch and what the tests' autograd.grad imports: shared with the zygote. With a
    # zygote, it is forked now and imports what only the submission's training needs (the first
    # optimiser's torch._dynamo, about a second) itself, while this process goes on and starts
    # the first sections (their workers are forked once the zygote listens).
    zygote.preload(GRADER_LAZY_MODULES if zygote_path else zygote.LAZY_TORCH_MODULES)
    zygote_ready = _start_zygote(zygote, zygote_path) if zygote_path else None
    import gc

    import _pytest.assertion.rewrite  # noqa: F401
    import _pytest.python  # noqa: F401
    import pytest  # noqa: F401

    gc.freeze()  # what is loaded now is never collected: a child's collections skip it (no copy-on-write)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    os.write(1, b"ready\n")
    while True:
        readable = select.select([listener, *([zygote_ready] if zygote_ready is not None else [])], [], [], 0.2)[0]
        if zygote_ready in readable:
            if os.read(zygote_ready, 6) != b"ready\n":
                raise SystemExit("the zygote did not start")  # this runner ends: its clients see it
            os.close(zygote_ready)
            zygote_ready = None
        if listener in readable:
            conn = listener.accept()[0]
            if os.fork() == 0:
                listener.close()
                if zygote_ready is not None:
                    os.close(zygote_ready)
                _child(conn)
            conn.close()
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


def _zygote_module():
    """``grader/sandbox/zygote.py`` as a module of its own (by path, not as part of the grader
    package: it imports only the standard library, and the runner's children import the grader
    themselves)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_course_zygote", ZYGOTE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start_zygote(zygote, path: str) -> int:
    """Fork the zygote (see the module docstring); returns the pipe on which it writes "ready"
    once it listens on ``path`` (clients wait for that themselves: ``pool.Zygote.connect``)."""
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        try:
            os.close(ready_r)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(ready_w, 1)  # its "ready" line comes here
            os.close(ready_w)
            import site

            # as under ``python -I``: not the runner's folder, the grader's or the user's site-packages
            repo = os.path.dirname(os.path.dirname(os.path.dirname(ZYGOTE_FILE)))
            dropped = {repo, os.path.abspath(site.getusersitepackages())}
            sys.path[:] = [p for p in sys.path[1:] if p and os.path.abspath(p) not in dropped]
            os.environ.pop("PYTHONPATH", None)
            sys.argv = [ZYGOTE_FILE, path]
            zygote.serve(path)
        finally:
            os._exit(1)
    os.close(ready_w)
    return ready_r


def _forget_environment() -> None:
    """What the runner's imports derived from its own environment, made again from the new one,
    as in a fresh process: the temporary folder (``tempfile`` keeps the first it finds)."""
    import tempfile

    tempfile.tempdir = None


def _child(conn: socket.socket) -> None:
    rc = 3
    try:
        request = json.loads(conn.makefile("rb").readline())
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _forget_environment()
        sys.path[0] = request["cwd"]  # as for ``python -m pytest`` started in cwd
        sys.argv = ["pytest", *request["args"]]
        import pytest

        rc = int(pytest.main(request["args"]))
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(json.dumps({"rc": rc}).encode() + b"\n")
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)


class RunnerError(Exception):
    pass


class WarmRunner:
    """A :func:`serve` process of this grader and the way to run pytest in it."""

    def __init__(self, *, zygote: bool = False):
        """``zygote``: the runner also forks the sandbox's zygote, listening at :attr:`zygote_path`
        (connect with ``grader.sandbox.pool.Zygote(zygote_path)``; it ends with the runner)."""
        from grader.sandbox.pool import zygote_env
        from grader.sections import REPO

        self.dir = tempfile.mkdtemp(prefix="grade-runner-")  # 0700: only the grader can connect
        self.path = os.path.join(self.dir, "runner.sock")
        self.zygote_path = os.path.join(self.dir, "zygote.sock") if zygote else None
        self.env = {**zygote_env(), "PYTHONPATH": str(REPO)}  # the grader's package, nothing else
        self.proc = subprocess.Popen(
            [sys.executable, "-B", "-m", "grader.warm", self.path, *([self.zygote_path] if zygote else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=self.env, cwd=self.dir, start_new_session=True,
        )  # fmt: skip
        self._ready = False
        self._lock = threading.Lock()  # sections start in threads: one of them reads "ready"

    def _wait_ready(self, timeout: float = 120) -> None:
        with self._lock:
            if not self._ready:
                ready = select.select([self.proc.stdout], [], [], timeout)[0]
                if not ready or self.proc.stdout.readline() != b"ready\n":
                    raise RunnerError("the grader's warm runner did not start")
                self._ready = True

    def run(self, args: list[str], *, cwd: str, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
        """(pytest's exit code, None after ``timeout`` seconds; its output)."""
        self._wait_ready()
        log = os.path.join(cwd, "pytest-output.txt")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        try:
            sock.connect(self.path)
            sock.sendall(json.dumps({"args": args, "cwd": cwd, "env": env, "log": log}).encode() + b"\n")
            reader = sock.makefile("rb")
            pid = int(json.loads(_line(sock, reader, deadline))["pid"])
            try:
                rc = int(json.loads(_line(sock, reader, deadline))["rc"])
            except TimeoutError:
                try:
                    os.killpg(pid, signal.SIGKILL)  # the child leads its own session
                except OSError:
                    pass
                rc = None
        finally:
            sock.close()
        try:
            with open(log, encoding="utf-8", errors="replace") as f:
                output = f.read()[-20000:]
        except OSError:
            output = ""
        return rc, output

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            shutil.rmtree(self.dir, ignore_errors=True)


def _line(sock: socket.socket, reader, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
    try:
        line = reader.readline()
    except TimeoutError:
        raise TimeoutError from None
    if not line:
        raise RunnerError("the warm runner's child ended without an answer")
    return line


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
