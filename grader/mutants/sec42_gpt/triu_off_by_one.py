"""causal_mask leaves out the diagonal (an off-by-one in the triu/tril offset): token i may see only
tokens before it, so token 0 sees nothing at all."""

import types as _types

import torch

BREAKS = "causal_mask"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def causal_mask(seq_len):
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    return ~torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=0)


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
