"""apply_rope rotates the first and the second half of the features as pairs (d/2 apart, the
"rotate_half" layout of some libraries) instead of the interleaved pairs (2i, 2i+1) the contract
fixes."""

import types as _types

import torch

BREAKS = "apply_rope"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def apply_rope(x, positions, base=10000.0):
    x, positions = torch.as_tensor(x), torch.as_tensor(positions)
    if x.dim() < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., T, d) with an even d, got {tuple(x.shape)}")
    T, d = x.shape[-2], x.shape[-1]
    if positions.dim() != 1 or positions.shape[0] != T:
        raise ValueError(f"positions must have shape ({T},), got {tuple(positions.shape)}")
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = positions.to(torch.float64)[:, None] * theta
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    first, second = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
