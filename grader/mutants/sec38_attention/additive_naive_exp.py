# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""additive_attention normalises exp(score) without subtracting the row maximum: with a large v the
scores overflow."""

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
    keep = np.ones(scores.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.where(keep, np.exp(np.where(keep, scores, 0)), 0)  # wrong: no max subtracted
        total = e.sum(axis=-1, keepdims=True)
        weights = e / np.where(total > 0, total, 1)
    context = np.einsum("bs,bsv->bv", weights, np.where(keep[..., None], values, 0))
    return context.astype(query.dtype), weights.astype(query.dtype)
