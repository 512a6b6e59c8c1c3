"""causal_self_attention masks the future by adding -1e9 to its scores instead of filling them with -inf:
future keys of size 1e10 still get attention."""

import math  # noqa: F401
import types as _types

import torch

BREAKS = "causal_self_attention"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def causal_self_attention(x, params, n_heads):
    if x.dim() != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("x must have shape (B, T, d)")
    B, T, d = x.shape
    if not isinstance(n_heads, int) or n_heads < 1 or d % n_heads != 0:
        raise ValueError("n_heads must be a positive divisor of d")
    for name, shape in (("W_qkv", (d, 3 * d)), ("b_qkv", (3 * d,)), ("W_o", (d, d)), ("b_o", (d,))):
        if tuple(params[name].shape) != shape:
            raise ValueError(f"params[{name!r}] has the wrong shape")
    d_head = d // n_heads
    q, k, v = (x @ params["W_qkv"] + params["b_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, n_heads, d_head).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(d_head)
    future = ~torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = torch.softmax(att + future * -1e9, dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, d)
    return y @ params["W_o"] + params["b_o"]


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
