"""attention_with_residual writes the attention inline with masked scores set to -inf: a token
that may attend to nothing gets NaN weights and a NaN output instead of weights 0 and output h."""

BREAKS = "attention_with_residual"


def attention_with_residual(h, W_q, W_k, W_v, mask=None):
    h = np.asarray(h)  # noqa: F821
    if np.shape(W_v) != (h.shape[-1], h.shape[-1]):  # noqa: F821
        raise ValueError("W_v must have shape (D, D)")
    Q, K, V = project_qkv(h, W_q, W_k, W_v)  # noqa: F821
    scores = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])  # noqa: F821
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # noqa: F821
    with np.errstate(invalid="ignore"):  # noqa: F821
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))  # noqa: F821
        weights = e / e.sum(axis=-1, keepdims=True)
    return h + weights @ V, weights
