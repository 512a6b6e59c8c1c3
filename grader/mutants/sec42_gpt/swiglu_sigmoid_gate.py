"""swiglu gates with a sigmoid instead of silu: sigmoid(x W_gate) * (x W_up), a GLU, not SwiGLU."""

import types as _types

import torch

BREAKS = "swiglu"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def swiglu(x, W_gate, W_up, W_down):
    x, W_gate, W_up, W_down = (torch.as_tensor(t) for t in (x, W_gate, W_up, W_down))
    d = x.shape[-1]
    if W_gate.dim() != 2 or W_gate.shape[0] != d:
        raise ValueError(f"W_gate must have shape ({d}, d_ff), got {tuple(W_gate.shape)}")
    if tuple(W_up.shape) != tuple(W_gate.shape):
        raise ValueError(f"W_up must have shape {tuple(W_gate.shape)}, got {tuple(W_up.shape)}")
    if tuple(W_down.shape) != (W_gate.shape[1], d):
        raise ValueError(f"W_down must have shape ({W_gate.shape[1]}, {d}), got {tuple(W_down.shape)}")
    return (torch.sigmoid(x @ W_gate) * (x @ W_up)) @ W_down


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
