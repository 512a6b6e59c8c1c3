"""softmax fills masked logits with -inf: correct, except a fully masked slice becomes NaN."""

BREAKS = "softmax"


def softmax(x, axis=-1, mask=None):
    x = np.asarray(x)  # noqa: F821
    if mask is not None:
        x = np.where(mask, x, -np.inf)  # noqa: F821
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # noqa: F821
    return e / e.sum(axis=axis, keepdims=True)
