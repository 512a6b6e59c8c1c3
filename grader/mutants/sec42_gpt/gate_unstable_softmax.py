"""moe_gate computes the router probabilities as ``exp(logits) / sum`` without subtracting the maximum:
large router logits give inf / inf = NaN."""

import math  # noqa: F401
import types as _types

import torch

BREAKS = "moe_gate"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def moe_gate(x, W_gate, k):
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError("x must have shape (N, d)")
    if W_gate.dim() != 2 or W_gate.shape[0] != x.shape[1]:
        raise ValueError("W_gate must have shape (d, E)")
    E = W_gate.shape[1]
    if not isinstance(k, int) or not 1 <= k <= E:
        raise ValueError("k must be in [1, E]")
    e = torch.exp(x @ W_gate)
    top, indices = torch.topk(e / e.sum(dim=-1, keepdim=True), k, dim=-1)
    return top / top.sum(dim=-1, keepdim=True), indices


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
