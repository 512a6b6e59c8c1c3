"""transformer_block indexes ``params["ln2"]`` etc. directly: a missing entry raises KeyError
instead of the promised ValueError naming it."""

BREAKS = "transformer_block"


def transformer_block(x, params, n_heads, mask=None, norm_first=False):
    ln1, ln2, f = params["ln1"], params["ln2"], params["ffn"]

    def attn(z):
        return multi_head_attention(z, z, params["attn"], n_heads, mask=mask)[0]  # noqa: F821

    def ffn(z):
        return feed_forward(z, f["W1"], f["b1"], f["W2"], f["b2"])  # noqa: F821

    if norm_first:
        x = x + attn(layer_norm(x, ln1["gamma"], ln1["beta"]))  # noqa: F821
        return x + ffn(layer_norm(x, ln2["gamma"], ln2["beta"]))  # noqa: F821
    x = layer_norm(x + attn(x), ln1["gamma"], ln1["beta"])  # noqa: F821
    return layer_norm(x + ffn(x), ln2["gamma"], ln2["beta"])  # noqa: F821
