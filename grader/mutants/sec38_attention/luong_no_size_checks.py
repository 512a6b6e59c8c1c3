# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""dot_product_attention checks only the mask: keys or values of sizes that do not fit fail inside
NumPy (or broadcast) with a message that does not name the argument."""

BREAKS = "dot_product_attention"


def dot_product_attention(query, keys, values, mask=None):
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError("mask must have shape (B, S)")
    scores = np.einsum("bsh,bh->bs", keys, query)  # wrong: no size checks
    weights = softmax(scores, None if mask is None else np.asarray(mask, dtype=bool))
    return np.einsum("bs,bsv->bv", weights, values).astype(query.dtype), weights.astype(query.dtype)
