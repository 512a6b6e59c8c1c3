# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""additive_attention puts -inf at the masked scores and then takes a max-subtracted softmax: a
row whose keys are all masked computes -inf - (-inf) = NaN."""

BREAKS = "additive_attention"


def additive_attention(query, keys, values, W_q, W_k, v, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if np.shape(W_q)[0] != query.shape[1]:
        raise ValueError("W_q must have shape (Hq, A)")
    if np.shape(W_k) != (keys.shape[2], np.shape(W_q)[1]):
        raise ValueError("W_k must have shape (Hk, A)")
    if keys.ndim != 3 or keys.shape[0] != query.shape[0]:
        raise ValueError("keys must have shape (B, S, Hk)")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError("values must have shape (B, S, Dv)")
    if np.shape(v) != (np.shape(W_q)[1],):
        raise ValueError("v must have shape (A,)")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, S)")
    scores = np.tanh((query @ W_q)[:, None, :] + keys @ W_k) @ v
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))  # NaN for a fully masked row
        weights = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("bs,bsv->bv", weights, values), weights
