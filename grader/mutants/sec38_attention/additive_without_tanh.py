# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""additive_attention forgets the tanh: score = (q W_q + k W_k) . v."""

BREAKS = "additive_attention"


def additive_attention(query, keys, values, W_q, W_k, v, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if np.shape(v) != (np.shape(W_q)[1],):
        raise ValueError("v must have shape (A,)")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, S)")
    scores = ((query @ W_q)[:, None, :] + keys @ W_k) @ v  # wrong: no tanh
    weights = softmax(scores, None if mask is None else np.asarray(mask, dtype=bool))
    return np.einsum("bs,bsv->bv", weights, values).astype(query.dtype), weights.astype(query.dtype)
