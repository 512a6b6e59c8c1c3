"""nsp_logits validates W_cls only: a pooler weight or bias of the wrong shape is not reported as a
ValueError naming it."""

BREAKS = "nsp_logits"


def nsp_logits(hidden, W_pool, b_pool, W_cls, b_cls):
    if hidden.ndim != 3:
        raise ValueError("hidden must have shape (B, T, d)")
    if tuple(W_cls.shape) != (hidden.shape[-1], 2):
        raise ValueError("W_cls must have shape (d, 2)")
    return torch.tanh(hidden[:, 0] @ W_pool + b_pool) @ W_cls + b_cls  # noqa: F821
