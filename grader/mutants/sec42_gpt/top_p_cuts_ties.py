"""filter_logits keeps exactly the first n tokens of the sorted order for top_p (scattering a keep mask
by sorted index): a token as likely as the last kept one is dropped (the contract keeps ties)."""

import types as _types

import torch

BREAKS = "filter_logits"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that the other exercises go on calling the reference, not the function below.
_REFERENCE = dict(globals())


def filter_logits(logits, top_k=None, top_p=None):
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError("top_k must be a positive int")
    if top_p is not None and not (0.0 < top_p <= 1.0):
        raise ValueError("top_p must be in (0, 1]")
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        n_keep = (cum < top_p).sum(dim=-1, keepdim=True) + 1
        keep_sorted = torch.arange(out.shape[-1]) < n_keep
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        out = out.masked_fill(~keep, float("-inf"))
    return out


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
