"""A Jupyter kernel that confines itself before it runs a notebook (nbgrader's autograde).

``python -m grader.sandbox.kernel -f CONNECTION_FILE`` is the command of the ``course-sandbox``
kernelspec that :func:`kernelspec` writes into a temporary course folder. It starts in the
grader's environment, then, before any of the notebook's code can run:

1. enters new network, mount, PID, IPC and UTS namespaces (as the sandbox worker does:
   ``grader/sandbox/worker.py``) — no network at all, so the kernel talks to nbgrader over Unix
   sockets (the kernel manager's ``ipc`` transport) in a folder made for it;
2. builds the worker's minimal filesystem view (``grader/sandbox/fsview.py``): the interpreter and
   its packages read-only, the notebook's own folder read-only, the socket folder, private
   size-limited tmpfs for ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``$HOME`` — no grader repository,
   no hidden tests, no solutions, no other student;
3. sets the worker's resource limits, drops to an unprivileged uid of its own (as root) and adds
   Landlock where the kernel offers it;
4. replaces itself (``exec``) with a fresh ``python -I -m ipykernel_launcher``, so nothing of the
   grader stays in its memory.

Where the view cannot be built it exits with a message (the caller refuses the grade unless the
notebooks are trusted). The scores of the test cells never come from this kernel anyway
(``grader/notebook_verdicts.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "course-sandbox"
UID_BASE = 1_500_000


def kernelspec(folder: Path) -> Path:
    """Write the ``course-sandbox`` kernelspec under ``folder/kernels`` (put ``folder`` on
    ``JUPYTER_PATH``); returns its folder."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "grader.sandbox.kernel", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (confined)", "language": "python"}), encoding="utf-8"
    )
    return spec


def socket_folder(root: Path) -> Path:
    """A folder for the kernel's Unix sockets, writable by the kernel's uid (short path: a Unix
    socket path has at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="k-", dir="/tmp" if len(str(root)) > 60 else str(root)))
    os.chmod(path, 0o700)
    return path


def kernel_config(cfg, ipc_folder: Path) -> None:
    """Kernel manager settings for nbgrader's ``Execute``: the confined kernel over ``ipc``."""
    cfg.Execute.kernel_name = KERNEL_NAME
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(Path(ipc_folder) / "kernel")


def _config(connection_file: str, cwd: str) -> dict:
    from grader.sandbox.pool import THREAD_VARS, hidden_paths, secret_probe_files

    conn = json.loads(Path(connection_file).read_text(encoding="utf-8"))
    if conn.get("transport") != "ipc":
        raise SystemExit("grader.sandbox.kernel: the confined kernel needs the ipc transport (no network)")
    ipc = os.path.dirname(conn["ip"])
    home = tempfile.mkdtemp(prefix="kernel-home-")
    uid = UID_BASE + os.getpid() % 100_000 if os.getuid() == 0 else None
    env = {k: "1" for k in THREAD_VARS}
    env.update(PATH="/usr/bin:/bin", HOME=home, TMPDIR="/tmp", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"), LANG=os.environ.get("LANG", "C.UTF-8"))  # fmt: skip
    if os.environ.get("NBGRADER_EXECUTION"):
        env["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    own_conn = os.path.join(ipc, "connection.json")
    shutil.copyfile(connection_file, own_conn)
    if uid is not None:
        for path in (ipc, own_conn, home):
            os.chown(path, uid, uid)
    return {
        "home": home, "bin": None, "env": env, "uid": uid, "grader_uid": os.getuid(),
        "module_file": os.path.join(os.path.realpath(cwd), "notebook.py"),  # the notebook's folder is its view
        "writable": [ipc], "hide": hidden_paths(), "secrets": secret_probe_files(),
        "cpu_seconds": 900, "data_bytes": 4 << 30, "file_bytes": 64 << 20, "processes": 64, "open_files": 256,
        "connection_file": own_conn, "cwd": os.path.realpath(cwd),
    }  # fmt: skip


def _wait_for(child: int) -> None:
    """The namespace's parent: pass interrupts on to the kernel, exit with it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) if status else 0)


def confine_and_exec(connection_file: str) -> None:
    from grader.sandbox import fsview, worker

    cfg = _config(connection_file, os.getcwd())
    done: dict = {}
    if worker.enter_namespaces(cfg, done):
        child = os.fork()
        if child:
            _wait_for(child)
        worker._libc.prctl(worker.PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if not done.get("network_namespace") or not fsview.build(cfg, done):
        why = done.get("filesystem_view_error", "no private namespaces")
        print(f"grader.sandbox.kernel: cannot confine the kernel ({why}); refusing to run it", file=sys.stderr)
        os._exit(3)
    os.environ.clear()
    os.environ.update(cfg["env"])
    worker.set_limits(cfg, done)
    worker.drop_privileges(cfg, done)
    worker.apply_landlock(cfg, done)
    os.chdir(cfg["cwd"])
    python = sys.executable
    # -E -s: no PYTHON* variables, no user site; -m puts the notebook folder first on sys.path
    os.execv(python, [python, "-E", "-s", "-m", "ipykernel_launcher", "-f", cfg["connection_file"]])


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "-f":
        raise SystemExit("usage: python -m grader.sandbox.kernel -f CONNECTION_FILE")
    confine_and_exec(argv[1])


if __name__ == "__main__":
    main()
