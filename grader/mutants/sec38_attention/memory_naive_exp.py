# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memory_attention normalises exp(scores) without subtracting the row maximum: scores of about
1e3 (float64) or 1e2 (float32) overflow."""

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
    keep = np.ones(scores.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.where(keep, np.exp(np.where(keep, scores, 0)), 0)  # wrong: no max subtracted
        total = e.sum(axis=-1, keepdims=True)
        weights = e / np.where(total > 0, total, 1)
    output = np.einsum("bn,bnv->bv", weights, np.where(keep[..., None], values, 0))
    return output.astype(query.dtype), weights.astype(query.dtype)
