"""multi_head_attention hands ~mask to the attention (the nn.MultiheadAttention polarity,
True = blocked) instead of the course's True = "may attend"."""

BREAKS = "multi_head_attention"

_reference_mha = multi_head_attention  # noqa: F821


def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    return _reference_mha(x_q, x_kv, params, n_heads, mask=None if mask is None else ~torch.as_tensor(mask))  # noqa: F821
