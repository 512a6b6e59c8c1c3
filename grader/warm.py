"""The warm runner: one grader-side process that has imported pytest, NumPy and PyTorch once and
forks one child per section run, so that a grade does not pay those imports once per section.

It is the trusted side (the grader's own tests run in it, never the submission: that stays in the
sandbox's workers). Started by ``grade`` / ``batch`` (:class:`WarmRunner`) with the same scrubbed
environment as a ``python -m pytest`` child of ``grader/run.py`` (``run.child_env()``, so the
interpreter-wide settings — hash seed, no bytecode, one thread per library — are the same). It
imports no module of the grader before forking: each child imports the plugin and the suites
itself, after it has taken the request's environment, exactly as a fresh ``pytest`` process would.

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


def serve(path: str) -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader
    import _pytest.assertion.rewrite  # noqa: F401
    import _pytest.python  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401

    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    os.write(1, b"ready\n")
    while True:
        if select.select([listener], [], [], 0.2)[0]:
            conn = listener.accept()[0]
            if os.fork() == 0:
                listener.close()
                _child(conn)
            conn.close()
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


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

    def __init__(self, env: dict[str, str]):
        self.dir = tempfile.mkdtemp(prefix="grade-runner-")  # 0700: only the grader can connect
        self.path = os.path.join(self.dir, "runner.sock")
        self.env = dict(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.warm", self.path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            env=self.env, cwd=self.dir, start_new_session=True,
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
    serve(sys.argv[1])
