"""causal_self_attention reads the causal mask as True = "masked out" (the nn.MultiheadAttention
attn_mask convention): every token attends to the future instead of the past."""

import math

import torch

BREAKS = "causal_self_attention"


def causal_self_attention(x, params, n_heads):
    B, T, d = x.shape
    if d % n_heads != 0 or tuple(params["W_qkv"].shape) != (d, 3 * d):
        raise ValueError("bad n_heads or W_qkv")
    d_head = d // n_heads
    q, k, v = (x @ params["W_qkv"] + params["b_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, n_heads, d_head).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(d_head)
    att = att.masked_fill(causal_mask(T), float("-inf"))  # noqa: F821  (polarity flipped)
    att = torch.softmax(att, dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, d)
    return y @ params["W_o"] + params["b_o"]
