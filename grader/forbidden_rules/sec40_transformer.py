"""Forbidden shortcuts of §40 (see grader/forbidden.py): the library versions of what each exercise
teaches. Names are matched as attributes (``F.layer_norm``, ``torch.nn.MultiheadAttention``), imported
names and strings; a call of the module's OWN function of the same name (``layer_norm(x, ...)`` in
``transformer_block``) is followed into that function instead, so it is allowed.

The block must be built from the student's own pieces: the shortcuts of attention and layer
normalisation are forbidden in ``transformer_block`` too (also when reached through helpers).
"""

_ATTENTION = [
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "MultiheadAttention",
    "multi_head_attention_forward",
]
_LAYER_NORM = ["layer_norm", "LayerNorm", "native_layer_norm", "group_norm", "GroupNorm"]
_LINEAR = ["Linear", "linear"]
_BLOCK = [
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "Transformer",
    "_transformer_encoder_layer_fwd",
]

RULES = {
    "layer_norm": _LAYER_NORM,
    "feed_forward": _LINEAR,
    "scaled_dot_product_attention": _ATTENTION,
    "multi_head_attention": _ATTENTION,
    "transformer_block": _BLOCK + _ATTENTION + _LAYER_NORM,
}
