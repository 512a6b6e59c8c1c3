"""rms_norm subtracts the mean first (a LayerNorm without bias): RMSNorm only divides by the root
mean square."""

import types as _types

import torch

BREAKS = "rms_norm"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def rms_norm(x, weight, eps=1e-6):
    x, weight = torch.as_tensor(x), torch.as_tensor(weight)
    if weight.dim() != 1 or weight.shape[0] != x.shape[-1]:
        raise ValueError(f"weight must have shape ({x.shape[-1]},), got {tuple(weight.shape)}")
    x = x - x.mean(dim=-1, keepdim=True)
    return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps) * weight


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
