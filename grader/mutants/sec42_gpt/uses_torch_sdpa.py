"""causal_self_attention is numerically right but calls F.scaled_dot_product_attention, the shortcut
the exercise asks the student to write: the forbidden-shortcut check must take its points."""

import torch.nn.functional as F

BREAKS = "causal_self_attention"
FORBIDDEN = True


def causal_self_attention(x, params, n_heads):
    B, T, d = x.shape
    if x.dim() != 3 or d % n_heads != 0 or tuple(params["W_qkv"].shape) != (d, 3 * d):
        raise ValueError("bad x, n_heads or W_qkv")
    q, k, v = (x @ params["W_qkv"] + params["b_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, n_heads, d // n_heads).transpose(1, 2) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return y.transpose(1, 2).reshape(B, T, d) @ params["W_o"] + params["b_o"]
