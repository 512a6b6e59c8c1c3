"""Calling a section function with gradients, the same way for every target.

Through the sandbox's proxy a returned tensor is connected to the caller's tensors by a
``torch.autograd.Function`` whose backward asks the worker for the vector-Jacobian product (see
``grader/sandbox/pool.py``), so ``loss.backward()`` works unchanged in tests. This helper states
the intent explicitly and returns plain tensors::

    (weights, indices), (g_W,) = call_with_grad(gpt, "moe_gate", (x, W, 2), wrt=[W], output=0, cotangent=c)

``wrt`` are tensors among the arguments (they are switched to ``requires_grad``); ``output``
selects the differentiated output when the function returns a tuple/list (default: the whole
result if it is a tensor); ``cotangent`` defaults to ones. Gradients that do not reach an input
are ``None`` (the test decides whether that is a failure).
"""

from __future__ import annotations


def call_with_grad(target, name: str, args=(), kwargs=None, *, wrt=(), output=None, cotangent=None):
    import torch

    for t in wrt:
        if not t.requires_grad:
            t.requires_grad_(True)
    with torch.enable_grad():
        result = getattr(target, name)(*args, **(kwargs or {}))
        out = result if output is None else result[output]
        if not isinstance(out, torch.Tensor):
            raise AssertionError(f"{name} should return a torch.Tensor here, got {type(out).__name__}")
        if not out.requires_grad:
            return result, tuple(None for _ in wrt)
        cot = torch.ones_like(out) if cotangent is None else cotangent.to(out.dtype)
        grads = torch.autograd.grad(out, list(wrt), cot, allow_unused=True)
    return result, tuple(grads)
