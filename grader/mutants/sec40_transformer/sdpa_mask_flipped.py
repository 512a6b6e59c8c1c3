"""scaled_dot_product_attention reads the mask as True = "blocked" (the nn.MultiheadAttention
polarity) instead of True = "may attend"."""

BREAKS = "scaled_dot_product_attention"

_reference_sdpa = scaled_dot_product_attention  # noqa: F821


def scaled_dot_product_attention(q, k, v, mask=None):
    return _reference_sdpa(q, k, v, mask=None if mask is None else ~torch.as_tensor(mask))  # noqa: F821
