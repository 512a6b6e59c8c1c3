"""Benchmark: what one sandboxed call costs in the worker, without any transport.

    python benchmarks/bench_call_overhead.py            # 20000 calls of each
    python benchmarks/bench_call_overhead.py --calls 5000

The worker's ``Server.call`` (``grader/sandbox/worker.py``) runs here in this process on an echo
function, its reply kept instead of written to a pipe: that is the per-call contract work (global
random state before and after, warning filters, NumPy's error state, grad mode, CPU time, the
result's encoding and the in-place check). Beside it, each of those steps alone, and the call of the
function itself. Together with ``bench_grading.py --only call`` (proxy vs pipe vs the least framed
round trip) it shows where a proxy call's time goes. Last, the CPU-seconds of the modules PyTorch
imports on first use (``grader/sandbox/zygote.py`` loads them once, before any fork). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "grader" / "sandbox"))  # the worker's modules, as the zygote loads them

import codec  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import worker  # noqa: E402

CONTEXT = json.dumps([np.geterr(), []])


def per_call(fn, n: int) -> float:
    """Microseconds per call of ``fn()`` (median of 5 blocks of ``n // 5``)."""
    block, times = max(1, n // 5), []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(block):
            fn()
        times.append((time.perf_counter() - start) / block)
    return sorted(times)[2] * 1e6


def gpt_like_params(V: int = 13, T: int = 16, C: int = 16, n_layer: int = 2) -> dict:
    """The parameter dict of a tiny GPT as §42's exercises take it (float64 tensors): what most
    calls of that section send."""
    g = torch.Generator().manual_seed(0)

    def w(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def norm():
        return {"gamma": w(C), "beta": w(C)}

    block = lambda: {"ln_1": norm(), "attn": {"W_qkv": w(C, 3 * C), "b_qkv": w(3 * C), "W_o": w(C, C), "b_o": w(C)},  # noqa: E731
                     "ln_2": norm(), "mlp": {"W_1": w(C, 4 * C), "b_1": w(4 * C), "W_2": w(4 * C, C), "b_2": w(C)}}  # fmt: skip
    return {"wte": w(V, C), "wpe": w(T, C), "blocks": [block() for _ in range(n_layer)], "ln_f": norm()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    module = types.ModuleType("echo")
    exec("def echo(x):\n    return x\n", module.__dict__)  # noqa: S102 - our own one-line module
    server = worker.Server({"module_file": "echo.py"}, module, -1, -1)
    server.out = lambda header, blobs: None  # the reply is made, not written
    x = np.random.default_rng(0).normal(size=(8, 16))
    blobs = codec.plain_blobs((x,))
    header = {"op": "call", "name": "echo", "context": CONTEXT, "grad": True, "plain": "tuple", "id": 1}
    for _ in range(100):
        server.call(header, blobs)

    def filters():
        with warnings.catch_warnings(record=True):
            server.set_filters(CONTEXT, [])

    def grad_mode():
        with torch.set_grad_enabled(True):
            pass

    params = gpt_like_params()
    exec("def first(ids, params, n_head):\n    return ids[:1]\n", module.__dict__)  # noqa: S102 - ours
    p_tree, p_blobs = codec.encode((([1, 2, 3], params, 2), {}), strict=True)
    p_tree = json.loads(json.dumps(p_tree))  # as the worker receives it
    p_header = {"op": "call", "name": "first", "context": CONTEXT, "grad": True, "args": p_tree, "id": 2}
    for _ in range(20):
        server.call(p_header, p_blobs)
    n_tensors = len(p_blobs)
    rows = [
        (
            f"Server.call, a {n_tensors}-tensor GPT parameter dict in, no transport",
            lambda: server.call(p_header, p_blobs),
        ),
        (
            "  its arguments encoded (the grader's side)",
            lambda: codec.encode((([1, 2, 3], params, 2), {}), strict=True),
        ),
        ("  its arguments decoded (the worker's side)", lambda: codec.decode(p_tree, p_blobs)),
        ("Server.call, (8, 16) float64 in and out, no transport", lambda: server.call(header, blobs)),
        ("  the function itself", lambda: module.echo(x)),
        ("  global random state (read twice per call)", worker._global_rng_state),
        ("  warnings caught, the caller's filters set", filters),
        ("  NumPy error state (read twice per call)", np.geterr),
        ("  grad mode", grad_mode),
        ("  CPU time (read twice per call)", lambda: sum(os.times()[:4])),
        ("  arguments read from their blobs", lambda: codec.read_plain(blobs)),
        ("  result as blobs (once more for the in-place check)", lambda: codec.plain_blobs((x,))),
        ("  reply framed", lambda: codec.frame({"id": 1, "plain": "array", "cpu": 0.0}, blobs)),
    ]
    print(f"{args.calls} calls each; load {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for label, fn in rows:
        print(f"{label:<58} {per_call(fn, args.calls):7.1f} us")
    print_lazy_imports()
    return 0


def print_lazy_imports() -> None:
    """CPU-seconds of the modules PyTorch imports on first use, in a fresh process that has imported
    torch (what a worker not forked from a preloaded zygote pays: ``zygote.LAZY_TORCH_MODULES``)."""
    import subprocess

    from zygote import LAZY_TORCH_MODULES

    for name in LAZY_TORCH_MODULES:
        code = f"import time, torch\nt = time.process_time()\nimport {name}\nprint(time.process_time() - t)"
        out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
        print(f"{'first import of ' + name + ' (fresh process)':<58} {float(out.stdout):7.2f} CPU-s")


if __name__ == "__main__":
    sys.exit(main())
