# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memory_attention uses exp(scores) as weights without dividing by their sum (no softmax normalisation)."""

BREAKS = "memory_attention"


def memory_attention(query, keys, values, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if query.ndim != 2 or query.shape[0] == 0:
        raise ValueError("query must have shape (B, D)")
    if keys.ndim != 3 or keys.shape[1] == 0:
        raise ValueError("keys must have shape (B, N, D)")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, N)")
    scores = np.einsum("bnd,bd->bn", keys, query)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))  # wrong: never normalised
    if mask is not None:
        weights = np.where(mask, weights, 0)
    return np.einsum("bn,bnv->bv", weights, values), weights
