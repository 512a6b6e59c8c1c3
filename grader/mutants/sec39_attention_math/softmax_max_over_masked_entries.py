"""softmax subtracts the maximum over ALL entries, masked ones included, then zeroes the masked
entries: right on ordinary inputs, but a huge masked logit makes every kept exp underflow to 0."""

BREAKS = "softmax"


def softmax(x, axis=-1, mask=None):
    x = np.asarray(x)  # noqa: F821
    x = x.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)  # noqa: F821
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # noqa: F821
    if mask is not None:
        e = np.where(mask, e, 0)  # noqa: F821
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1)  # noqa: F821
