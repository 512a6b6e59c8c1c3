"""attention_scores forgets to divide by sqrt(d_k)."""

BREAKS = "attention_scores"


def attention_scores(Q, K, scale=True):
    return np.asarray(Q) @ np.swapaxes(np.asarray(K), -1, -2)  # noqa: F821
