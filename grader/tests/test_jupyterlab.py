"""Opening exercises/ in JupyterLab works: a headless server on a free port with a token serves the
released notebooks over HTTP (contents API), starts a kernel for one, and stops cleanly."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from grader import notebooks as nbs
from grader.sections import EXERCISES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, token: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter-home")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={EXERCISES}", "--ServerApp.port_retries=0",
        "--allow-root",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=EXERCISES
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                _request(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not answer within 120 s")
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_requests_without_the_token_are_refused(server):
    base, _ = server
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{base}/api/contents", timeout=30)
    assert e.value.code == 403


@pytest.mark.parametrize("section", nbs.notebook_sections())
def test_notebook_is_served_over_http(server, section):
    base, token = server
    status, model = _request(f"{base}/api/contents/{section}/{section}.ipynb?content=1", token)
    assert status == 200 and model["type"] == "notebook"
    cells = model["content"]["cells"]
    released = nbs.read_notebook(nbs.notebook_path(EXERCISES, section))
    assert [c["source"] for c in cells] == [c.source for c in released.cells]
    _, folder = _request(f"{base}/api/contents/{section}/figures?content=1", token)
    assert {f["name"] for f in folder["content"]} >= set(nbs.figures_of(released))


def test_a_kernel_starts_for_a_notebook(server):
    base, token = server
    section = nbs.notebook_sections()[0]
    body = {"path": f"{section}/{section}.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    status, session = _request(f"{base}/api/sessions", token, "POST", body)
    assert status == 201
    kernel_id = session["kernel"]["id"]
    _, kernel = _request(f"{base}/api/kernels/{kernel_id}", token)
    assert kernel["name"] == "python3"
    status, _ = _request(f"{base}/api/sessions/{session['id']}", token, "DELETE")
    assert status == 204
