"""moe_gate orders the chosen experts by expert index instead of by router probability (descending)."""

import torch

BREAKS = "moe_gate"


def moe_gate(x, W_gate, k):
    if x.dim() != 2 or W_gate.dim() != 2 or not isinstance(k, int) or not 1 <= k <= W_gate.shape[1]:
        raise ValueError("bad x, W_gate or k")
    probs = torch.softmax(x @ W_gate, dim=-1)
    top, indices = torch.topk(probs, k, dim=-1)
    indices, order = torch.sort(indices, dim=-1)  # by index, not by value
    top = top.gather(-1, order)
    return top / top.sum(dim=-1, keepdim=True), indices
