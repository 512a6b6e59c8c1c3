"""moe_gate orders the chosen experts by expert index instead of by router probability (descending)."""

import types as _types

import torch

BREAKS = "moe_gate"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def moe_gate(x, W_gate, k):
    if x.dim() != 2 or W_gate.dim() != 2 or not isinstance(k, int) or not 1 <= k <= W_gate.shape[1]:
        raise ValueError("bad x, W_gate or k")
    probs = torch.softmax(x @ W_gate, dim=-1)
    top, indices = torch.topk(probs, k, dim=-1)
    indices, order = torch.sort(indices, dim=-1)  # by index, not by value
    top = top.gather(-1, order)
    return top / top.sum(dim=-1, keepdim=True), indices


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
