# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""dot_product_attention writes -1e9 into the masked scores: a source that is all padding gets
uniform weights (and the mean of the encoder states) instead of weights 0 and context 0."""

BREAKS = "dot_product_attention"


def dot_product_attention(query, keys, values, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if query.ndim != 2 or keys.ndim != 3 or keys.shape[0] != query.shape[0] or keys.shape[2] != query.shape[1]:
        raise ValueError("query (B, H) and keys (B, S, H) do not fit")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError("values must have shape (B, S, Dv)")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, S)")
    scores = np.einsum("bsh,bh->bs", keys, query)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)  # wrong for a fully masked row
    weights = softmax(scores)
    return np.einsum("bs,bsv->bv", weights, values), weights
