"""softmax subtracts the maximum in place, changing the caller's array."""

BREAKS = "softmax"


def softmax(x, axis=-1, mask=None):
    x = np.asarray(x)  # noqa: F821
    x -= np.max(x, axis=axis, keepdims=True)  # noqa: F821
    e = np.exp(x)  # noqa: F821
    if mask is not None:
        e = np.where(mask, e, 0)  # noqa: F821
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1)  # noqa: F821
