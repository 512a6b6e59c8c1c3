"""nsp_logits pools the LAST token of each sequence instead of [CLS] at position 0."""

BREAKS = "nsp_logits"


def nsp_logits(hidden, W_pool, b_pool, W_cls, b_cls):
    if tuple(W_cls.shape) != (hidden.shape[-1], 2):
        raise ValueError("W_cls must have shape (d, 2)")
    pooled = torch.tanh(hidden[:, -1] @ W_pool + b_pool)  # noqa: F821
    return pooled @ W_cls + b_cls
