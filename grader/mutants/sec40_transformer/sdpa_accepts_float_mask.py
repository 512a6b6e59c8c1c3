"""scaled_dot_product_attention converts any mask with ``.bool()``: a float or 0/1 integer mask is
accepted silently instead of raising the promised ValueError (a float mask is additive in
PyTorch's own attention, so the silent conversion hides a real mix-up)."""

BREAKS = "scaled_dot_product_attention"

_reference_sdpa = scaled_dot_product_attention  # noqa: F821


def scaled_dot_product_attention(q, k, v, mask=None):
    return _reference_sdpa(q, k, v, mask=None if mask is None else torch.as_tensor(mask).bool())  # noqa: F821
