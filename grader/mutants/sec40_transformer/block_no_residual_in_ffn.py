"""transformer_block drops the residual connection around the feed-forward network."""

BREAKS = "transformer_block"


def _norm(x, p):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * p["gamma"] + p["beta"]  # noqa: F821


def transformer_block(x, params, n_heads, mask=None, norm_first=False):
    f = params["ffn"]

    def attn(z):
        return multi_head_attention(z, z, params["attn"], n_heads, mask=mask)[0]  # noqa: F821

    def ffn(z):
        return feed_forward(z, f["W1"], f["b1"], f["W2"], f["b2"])  # noqa: F821

    if norm_first:
        x = x + attn(_norm(x, params["ln1"]))
        return ffn(_norm(x, params["ln2"]))  # no "x +"
    x = _norm(x + attn(x), params["ln1"])
    return _norm(ffn(x), params["ln2"])  # no "x +"
