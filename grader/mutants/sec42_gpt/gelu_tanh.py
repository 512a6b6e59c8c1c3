"""gpt_block uses the tanh approximation of GELU (GPT-2's original code) instead of the exact erf GELU
that the contract asks for."""

import math
import types as _types

import torch

BREAKS = "gpt_block"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def gpt_block(x, params, n_heads):
    x = x + causal_self_attention(ln(x, params["ln1"]), params["attn"], n_heads)  # noqa: F821
    mlp = params["mlp"]
    h = ln(x, params["ln2"]) @ mlp["W_fc"] + mlp["b_fc"]  # noqa: F821
    h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))
    return x + h @ mlp["W_proj"] + mlp["b_proj"]


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
