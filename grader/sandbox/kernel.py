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

The socket folder the kernel manager names may serve several kernels in turn (nbgrader's own
``autograde`` of a whole class, :func:`grader.notebooks.confine_cli_autograde`): the launcher never
hands it to a kernel. Each kernel binds its sockets in a fresh folder of its own inside it, and the
names the manager connects to are symbolic links to them, made by the launcher; the kernel's
folder and its home are removed when it exits (by the launcher's first process, which stays
outside the kernel's namespaces).
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


PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def kernelspec(folder: Path, env: dict | None = None) -> Path:
    """Write the ``course-sandbox`` kernelspec under ``folder/kernels`` (put ``folder`` on
    ``JUPYTER_PATH``); ``env``: variables the launcher starts with (e.g. a PYTHONPATH that finds
    ``grader``); returns its folder."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "grader.sandbox.kernel", "-f", "{connection_file}"]
    data = {"argv": argv, "display_name": "Python 3 (confined)", "language": "python", "env": env or {}}
    (spec / "kernel.json").write_text(json.dumps(data), encoding="utf-8")
    return spec


def socket_folder(root: Path) -> Path:
    """A folder for the kernels' Unix sockets, of the grader only: each kernel binds in a folder of
    its own inside it (short path: a Unix socket path has at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="k-", dir="/tmp" if len(str(root)) > 60 else str(root)))
    os.chmod(path, 0o700)
    return path


def kernel_config(cfg, ipc_folder: Path) -> None:
    """Kernel manager settings for nbgrader's ``Execute``: the confined kernel over ``ipc``."""
    cfg.Execute.kernel_name = KERNEL_NAME
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(Path(ipc_folder) / "kernel")


def _config(connection_file: str, cwd: str) -> dict:
    from grader.sandbox.pool import hidden_paths, secret_probe_files
    from grader.sections import one_thread_env

    conn = json.loads(Path(connection_file).read_text(encoding="utf-8"))
    if conn.get("transport") != "ipc":
        raise SystemExit("grader.sandbox.kernel: the confined kernel needs the ipc transport (no network)")
    ipc, own_conn = _own_sockets(conn)
    # beside the sockets: removed with the manager's folder even if the kernel was killed
    home = tempfile.mkdtemp(prefix="home-", dir=os.path.dirname(conn["ip"]))
    uid = UID_BASE + os.getpid() % 100_000 if os.getuid() == 0 else None
    env = one_thread_env()
    env.update(PATH="/usr/bin:/bin", HOME=home, TMPDIR="/tmp", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"), LANG=os.environ.get("LANG", "C.UTF-8"))  # fmt: skip
    if os.environ.get("NBGRADER_EXECUTION"):
        env["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    if uid is not None:
        for path in (ipc, own_conn, home):
            os.chown(path, uid, uid)
    return {
        "home": home, "bin": None, "env": env, "uid": uid, "grader_uid": os.getuid(),
        "module_file": os.path.join(os.path.realpath(cwd), "notebook.py"),  # the notebook's folder is its view
        "writable": [ipc], "hide": hidden_paths(), "secrets": secret_probe_files(),
        "cpu_seconds": 900, "data_bytes": 4 << 30, "file_bytes": 64 << 20, "processes": 64, "open_files": 256,
        "connection_file": own_conn, "cwd": os.path.realpath(cwd), "remove": [ipc, home],
    }  # fmt: skip


def _own_sockets(conn: dict) -> tuple[str, str]:
    """(a fresh socket folder of this kernel, its connection file): the kernel binds there, and the
    paths the manager connects to (``ip-port`` in the manager's folder, which no kernel may write)
    become links to the kernel's sockets."""
    shared = conn["ip"]
    ipc = tempfile.mkdtemp(prefix="s-", dir=os.path.dirname(shared))
    own = {**conn, "ip": os.path.join(ipc, "kernel")}
    own_conn = os.path.join(ipc, "connection.json")
    with open(own_conn, "w", encoding="utf-8") as f:
        json.dump(own, f)
    for key in PORTS:
        link = f"{shared}-{conn[key]}"
        if os.path.islink(link):  # a restarted kernel's old link (the manager's folder is the grader's)
            os.unlink(link)
        os.symlink(f"{own['ip']}-{conn[key]}", link)
    return ipc, own_conn


def _remove(cfg: dict) -> None:
    """The kernel's socket folder and home: nothing of a kernel outlives it."""
    for path in cfg["remove"]:
        shutil.rmtree(path, ignore_errors=True)


def _wait_for(child: int, forward=(signal.SIGINT, signal.SIGTERM)) -> int:
    """Pass the signals ``forward`` on to ``child`` and return its exit code once it has ended."""
    for sig in forward:
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def confine_and_exec(connection_file: str) -> None:
    """Start the confined kernel in a child and remove its socket folder and home when it ends:
    only this process, outside the kernel's namespaces, still sees them on the host (``pivot_root``
    moves every process of the kernel's mount namespace into its view)."""
    from grader.sandbox import worker

    cfg = _config(connection_file, os.getcwd())
    child = os.fork()
    if child == 0:
        worker._libc.prctl(worker.PR_SET_PDEATHSIG, 9, 0, 0, 0)
        _confine_and_exec_kernel(cfg)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt reaches the kernel's process group directly
    code = _wait_for(child, forward=(signal.SIGTERM,))
    _remove(cfg)
    os._exit(code)


def _confine_and_exec_kernel(cfg: dict) -> None:
    from grader.sandbox import fsview, worker

    done: dict = {}
    if worker.enter_namespaces(cfg, done):
        child = os.fork()
        if child:
            os._exit(_wait_for(child))  # the namespace's parent: exits with the kernel
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
