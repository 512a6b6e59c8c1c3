"""softmax_attention takes the softmax over every key, then zeroes the masked weights and
renormalises: equal on ordinary inputs, but a huge masked key takes all the weight first and the
real keys are left with 0 / 0."""

BREAKS = "softmax_attention"


def softmax_attention(Q, K, V, mask=None):
    weights = softmax(attention_scores(Q, K), axis=-1)  # noqa: F821
    if mask is not None:
        weights = np.where(mask, weights, 0.0)  # noqa: F821
        total = weights.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):  # noqa: F821
            weights = np.nan_to_num(weights / np.where(total > 0, total, 1))  # noqa: F821
    return weights @ np.asarray(V), weights  # noqa: F821
