"""gpt_forward skips the final LayerNorm ln_f before the tied output layer."""

import types as _types

BREAKS = "gpt_forward"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def gpt_forward(ids, params, n_heads):
    wte, wpe = params["wte"], params["wpe"]
    if ids.dim() != 2 or ids.dtype.is_floating_point or ids.shape[1] > wpe.shape[0]:
        raise ValueError("bad ids")
    if ids.min() < 0 or ids.max() >= wte.shape[0]:
        raise ValueError("ids out of range")
    h = wte[ids] + wpe[: ids.shape[1]]
    for block in params["blocks"]:
        h = gpt_block(h, block, n_heads)  # noqa: F821
    return h @ wte.T


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
