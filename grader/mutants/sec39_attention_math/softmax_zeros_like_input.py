"""softmax writes its result into ``np.zeros_like(x)``: for integer logits the probabilities are
truncated to integers (the docstring promises float64 for integer input)."""

BREAKS = "softmax"


def softmax(x, axis=-1, mask=None):
    x = np.asarray(x)  # noqa: F821
    out = np.zeros_like(x)  # noqa: F821
    keep = np.ones(x.shape, dtype=bool) if mask is None else np.broadcast_to(mask, x.shape)  # noqa: F821
    m = np.max(np.where(keep, x, -np.inf), axis=axis, keepdims=True)  # noqa: F821
    m = np.where(np.isfinite(m), m, 0)  # noqa: F821
    e = np.where(keep, np.exp(np.where(keep, x - m, 0)), 0)  # noqa: F821
    total = e.sum(axis=axis, keepdims=True)
    out[...] = e / np.where(total > 0, total, 1)  # noqa: F821
    return out
