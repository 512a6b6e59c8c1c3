"""lm_loss sums the cross-entropy of the kept targets instead of taking their mean."""

import types as _types

import torch

BREAKS = "lm_loss"

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that train_step goes on calling the reference lm_loss, not the function below.
_REFERENCE = dict(globals())


def lm_loss(logits, ids, pad_id=None):
    if logits.dim() != 3 or tuple(ids.shape) != tuple(logits.shape[:2]) or ids.dtype.is_floating_point:
        raise ValueError("logits must be (B, T, V) and ids (B, T) integers")
    targets = ids[:, 1:].long()
    keep = torch.ones_like(targets, dtype=torch.bool) if pad_id is None else targets != pad_id
    if keep.any() and (targets[keep].min() < 0 or targets[keep].max() >= logits.shape[-1]):
        raise ValueError("ids out of range")
    nll = -torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, targets.clamp(0).unsqueeze(-1)).squeeze(-1)
    return nll.masked_fill(~keep, 0.0).sum()


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
