"""The zygote: a fresh Python process that has imported NumPy and PyTorch once and forks a worker
for each request, so that a worker starts in milliseconds instead of importing torch again.

Started before any test or submission is loaded — forked by the grader's warm runner right after
it has imported NumPy and PyTorch (``grader/warm.py``: one PyTorch import for both; the zygote
then imports :data:`LAZY_TORCH_MODULES` itself), or on its own (``python -I
zygote.py SOCKET``) — so its memory holds no hidden test, no solution, no seed and none of the
grader's environment (``grader.sandbox.pool.zygote_env``). What it shares with its workers is
frozen (``gc.freeze``): their collections never touch, and so never copy, those pages.

Requests come over a Unix socket in a 0700 folder of the grader: a JSON worker config plus four
file descriptors (the worker's request pipe, reply pipe and output pipe, passed with SCM_RIGHTS).
The reply is a pidfd of the forked worker (so that the grader can kill exactly that process, never
a reused PID). The forked child closes everything else and runs :func:`worker.run`, which confines
it before importing the submission. The worker's own modules (``codec``, ``worker``, ``fsview``, ``landlock``) are all
imported here, before any fork: once a worker has entered its filesystem view, their files are no
longer visible to it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

# Modules PyTorch imports only on first use, each time in a new process: ``torch._dynamo`` on the
# first optimiser, ``symbolic_shapes`` (and SymPy) on the first ``autograd.grad`` with explicit
# gradients (their cost: ``benchmarks/bench_call_overhead.py``). Loaded once here, before any fork,
# they cost nothing in a worker.
LAZY_TORCH_MODULES = ("torch._dynamo", "torch.fx.experimental.symbolic_shapes")


def preload(lazy: tuple[str, ...] = LAZY_TORCH_MODULES) -> None:
    """NumPy and PyTorch (one thread), with ``lazy``: modules PyTorch would import later (by
    default all of :data:`LAZY_TORCH_MODULES`)."""
    import importlib

    import numpy  # noqa: F401

    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    for name in lazy:
        importlib.import_module(name)


def serve(path: str) -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import codec  # noqa: F401 - the worker's modules, loaded once
    import worker  # noqa: F401

    preload()
    import gc

    gc.freeze()  # never collected: a worker's collections skip what it shares with the zygote
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers' first processes are reaped automatically
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    os.write(1, b"ready\n")
    conns: list[socket.socket] = []
    while True:
        ready, _, _ = select.select([listener, *conns], [], [])
        for sock in ready:
            if sock is listener:
                conns.append(listener.accept()[0])
                continue
            try:
                data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                conns.remove(sock)
                sock.close()
                continue
            cfg = json.loads(data.decode("utf-8"))
            pid = os.fork()
            if pid == 0:
                _child(cfg, fds, keep=set(fds))
            pidfd = os.pidfd_open(pid)
            for fd in fds:
                os.close(fd)
            socket.send_fds(sock, [b"ok"], [pidfd])
            os.close(pidfd)


def _child(cfg: dict, fds: list[int], keep: set[int]) -> None:
    try:
        req, rep, out, life = fds
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        # renumber the pipes the config names, close every other descriptor (sockets of the zygote)
        os.dup2(req, 3)
        os.dup2(rep, 4)
        os.dup2(life, 5)
        os.closerange(6, 1 << 16)
        cfg["request_fd"], cfg["reply_fd"], cfg["lifeline_fd"] = 3, 4, 5
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.argv = ["worker"]
        sys.modules["worker"].run(cfg)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


if __name__ == "__main__":
    serve(sys.argv[1])
