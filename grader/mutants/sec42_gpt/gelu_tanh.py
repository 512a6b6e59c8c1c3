"""gpt_block uses the tanh approximation of GELU (GPT-2's original code) instead of the exact erf GELU
that the contract asks for."""

import math

import torch

BREAKS = "gpt_block"


def gpt_block(x, params, n_heads):
    x = x + causal_self_attention(ln(x, params["ln1"]), params["attn"], n_heads)  # noqa: F821
    mlp = params["mlp"]
    h = ln(x, params["ln2"]) @ mlp["W_fc"] + mlp["b_fc"]  # noqa: F821
    h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))
    return x + h @ mlp["W_proj"] + mlp["b_proj"]
