"""moe_gate returns the top-k router probabilities as they are, without renormalising them to sum 1."""

import torch

BREAKS = "moe_gate"


def moe_gate(x, W_gate, k):
    if x.dim() != 2 or W_gate.dim() != 2 or not isinstance(k, int) or not 1 <= k <= W_gate.shape[1]:
        raise ValueError("bad x, W_gate or k")
    probs = torch.softmax(x @ W_gate, dim=-1)
    return torch.topk(probs, k, dim=-1)
