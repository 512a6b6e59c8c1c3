# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""dot_product_attention divides the scores by sqrt(H) (Transformer-style), but Luong attention is unscaled."""

BREAKS = "dot_product_attention"


def dot_product_attention(query, keys, values, mask=None):
    query = np.asarray(query)
    return memory_attention(query / np.sqrt(query.shape[-1]), keys, values, mask=mask)  # wrong: scaled
