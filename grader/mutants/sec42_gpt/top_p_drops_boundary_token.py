"""filter_logits keeps only the tokens whose cumulative probability stays below top_p, dropping the
token that makes the total reach top_p (the nucleus comes out one token too small)."""

import torch

BREAKS = "filter_logits"


def filter_logits(logits, top_k=None, top_p=None):
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError("top_k")
    if top_p is not None and not (0.0 < top_p <= 1.0):
        raise ValueError("top_p")
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None:
        sorted_logits = torch.sort(out, dim=-1, descending=True).values
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        last = ((cum < top_p).sum(dim=-1, keepdim=True) - 1).clamp(min=0)  # one too few
        out = out.masked_fill(out < sorted_logits.gather(-1, last), float("-inf"))
    return out
