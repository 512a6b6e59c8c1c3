"""softmax_attention reads the mask as True = "masked out" (the nn.MultiheadAttention convention)."""

BREAKS = "softmax_attention"


def softmax_attention(Q, K, V, mask=None):
    scores = attention_scores(Q, K)  # noqa: F821
    weights = softmax(scores, axis=-1, mask=None if mask is None else ~np.asarray(mask, dtype=bool))  # noqa: F821
    return weights @ V, weights
