"""causal_self_attention splits the features into heads the wrong way round: view(B, T, d_head, n_heads)
gives head i the features i, i + n_heads, i + 2 n_heads, ... instead of [i*d_head, (i+1)*d_head)."""

import math
import types as _types

import torch

BREAKS = "causal_self_attention"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def causal_self_attention(x, params, n_heads):
    B, T, d = x.shape
    if d % n_heads != 0 or tuple(params["W_qkv"].shape) != (d, 3 * d) or x.dim() != 3:
        raise ValueError("bad n_heads, W_qkv or x")
    d_head = d // n_heads
    q, k, v = (x @ params["W_qkv"] + params["b_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, d_head, n_heads).permute(0, 3, 1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(d_head)
    att = att.masked_fill(~causal_mask(T), float("-inf"))  # noqa: F821
    y = (torch.softmax(att, dim=-1) @ v).permute(0, 2, 3, 1).reshape(B, T, d)
    return y @ params["W_o"] + params["b_o"]


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
