"""softmax sets masked logits to 0 (they still get weight) instead of excluding them."""

BREAKS = "softmax"


def softmax(x, axis=-1, mask=None):
    x = np.asarray(x, dtype=float)  # noqa: F821
    if mask is not None:
        x = np.where(mask, x, 0.0)  # noqa: F821
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # noqa: F821
    return e / e.sum(axis=axis, keepdims=True)
