"""softmax_attention normalises over the queries (axis -2) instead of the keys (axis -1)."""

BREAKS = "softmax_attention"


def softmax_attention(Q, K, V, mask=None):
    scores = attention_scores(Q, K)  # noqa: F821
    weights = softmax(scores, axis=-2, mask=mask)  # noqa: F821
    return weights @ V, weights
