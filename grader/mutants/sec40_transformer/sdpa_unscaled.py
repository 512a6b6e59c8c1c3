"""scaled_dot_product_attention forgets to divide the scores by sqrt(d_k)."""

BREAKS = "scaled_dot_product_attention"

_reference_sdpa = scaled_dot_product_attention  # noqa: F821


def scaled_dot_product_attention(q, k, v, mask=None):
    d_k = q.shape[-1]
    return _reference_sdpa(q * math.sqrt(d_k), k, v, mask=mask)  # noqa: F821
