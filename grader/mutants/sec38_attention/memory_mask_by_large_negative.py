# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memory_attention masks by adding -1e9 to the masked scores: a row whose memories are all
masked gets uniform weights (and the mean of the values) instead of weights 0 and output 0."""

BREAKS = "memory_attention"


def memory_attention(query, keys, values, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if query.ndim != 2 or query.shape[0] == 0:
        raise ValueError("query must have shape (B, D)")
    B, D = query.shape
    if keys.ndim != 3 or keys.shape[0] != B or keys.shape[2] != D or keys.shape[1] == 0:
        raise ValueError("keys must have shape (B, N, D)")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError("values must have shape (B, N, Dv)")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, N)")
    scores = np.einsum("bnd,bd->bn", keys, query)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)  # wrong for a fully masked row
    weights = softmax(scores)
    return np.einsum("bn,bnv->bv", weights, values).astype(query.dtype), weights.astype(query.dtype)
