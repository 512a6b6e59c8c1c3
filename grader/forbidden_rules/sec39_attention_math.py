"""§39: the PyTorch attention step of the reversal model is written by hand."""

RULES = {
    "reversal_attention_step": ["scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward"],
}
