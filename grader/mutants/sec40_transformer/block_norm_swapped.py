"""transformer_block swaps the two variants: pre-LN when asked for post-LN and vice versa."""

BREAKS = "transformer_block"

_reference_block = transformer_block  # noqa: F821


def transformer_block(x, params, n_heads, mask=None, norm_first=False):
    return _reference_block(x, params, n_heads, mask=mask, norm_first=not norm_first)
