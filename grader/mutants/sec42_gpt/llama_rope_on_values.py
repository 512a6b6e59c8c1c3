"""llama_block turns the values with RoPE too (q, k and v): only queries and keys carry positions;
turning v changes what is read, not where attention looks."""

import math
import types as _types

import torch

BREAKS = "llama_block"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def llama_block(x, params, n_heads):
    x = torch.as_tensor(x)
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, d), got {tuple(x.shape)}")
    B, T, d = x.shape
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or d % n_heads or (d // n_heads) % 2:
        raise ValueError(f"n_heads must divide d = {d} into heads of even width, got {n_heads!r}")
    d_head = d // n_heads
    a = rms_norm(x, params["norm1"]["weight"])  # noqa: F821
    q, k, v = (a @ params["attn"]["W_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, n_heads, d_head).transpose(1, 2) for t in (q, k, v))
    positions = torch.arange(T)
    q, k, v = (apply_rope(t, positions) for t in (q, k, v))  # noqa: F821
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d_head))
    att = torch.softmax(att.masked_fill(~causal_mask(T), float("-inf")), dim=-1)  # noqa: F821
    y = (att @ v).transpose(1, 2).reshape(B, T, d)
    h = x + y @ params["attn"]["W_o"]
    mlp = params["mlp"]
    return h + swiglu(rms_norm(h, params["norm2"]["weight"]), mlp["W_gate"], mlp["W_up"], mlp["W_down"])  # noqa: F821


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
