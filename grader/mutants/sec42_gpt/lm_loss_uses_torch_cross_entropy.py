"""lm_loss calls torch.nn.functional.cross_entropy(ignore_index=pad_id) on the shifted tensors, the
library shortcut that does the masked mean the exercise teaches. The numbers are right (no target
left -> 0.0 is special-cased), so the forbidden-call rule, not the tests, must zero it."""

import types as _types

import torch

BREAKS = "lm_loss"
FORBIDDEN = True

# The grader may run this file appended to the reference module (one namespace). Keep a snapshot of
# the reference so that train_step goes on calling the reference lm_loss, not the function below.
_REFERENCE = dict(globals())


def lm_loss(logits, ids, pad_id=None):
    if logits.dim() != 3 or tuple(ids.shape) != tuple(logits.shape[:2]) or ids.dtype.is_floating_point:
        raise ValueError("logits must be (B, T, V) and ids (B, T) integers")
    V = logits.shape[-1]
    targets = ids[:, 1:].reshape(-1).long()
    keep = targets != (-100 if pad_id is None else pad_id)
    if keep.any() and (targets[keep].min() < 0 or targets[keep].max() >= V):
        raise ValueError("ids out of range")
    if not keep.any():
        return (logits * 0).sum()
    ignore = -100 if pad_id is None else pad_id
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), targets, ignore_index=ignore)


for _name, _fn in list(_REFERENCE.items()):  # reference functions bound to the snapshot call each other only
    if isinstance(_fn, _types.FunctionType):
        _REFERENCE[_name] = _types.FunctionType(_fn.__code__, _REFERENCE, _name, _fn.__defaults__, _fn.__closure__)
        if _name != BREAKS:
            globals()[_name] = _REFERENCE[_name]
