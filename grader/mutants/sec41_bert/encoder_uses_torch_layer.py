"""bert_encoder runs nn.TransformerEncoderLayer loaded with the block's weights instead of the
given §40 block: right numbers, but the section asks for the §40 block, so the forbidden-call rule
must zero it."""

BREAKS = "bert_encoder"
FORBIDDEN = True


def bert_encoder(ids, segment_ids, params, n_heads, pad_id):
    d = params["tok"].shape[-1]
    if d % n_heads:
        raise ValueError("n_heads must divide d")
    x = bert_embeddings(ids, segment_ids, params)  # noqa: F821
    for p in params["blocks"]:
        a, f = p["attn"], p["ffn"]
        layer = torch.nn.TransformerEncoderLayer(  # noqa: F821
            d, n_heads, dim_feedforward=f["W1"].shape[1], dropout=0.0, batch_first=True, dtype=x.dtype
        )
        with torch.no_grad():  # noqa: F821
            layer.self_attn.in_proj_weight.copy_(torch.cat([a["W_q"].T, a["W_k"].T, a["W_v"].T]))  # noqa: F821
            layer.self_attn.in_proj_bias.copy_(torch.cat([a["b_q"], a["b_k"], a["b_v"]]))  # noqa: F821
            layer.self_attn.out_proj.weight.copy_(a["W_o"].T)
            layer.self_attn.out_proj.bias.copy_(a["b_o"])
            for norm, key in ((layer.norm1, "ln1"), (layer.norm2, "ln2")):
                norm.weight.copy_(p[key]["gamma"])
                norm.bias.copy_(p[key]["beta"])
            layer.linear1.weight.copy_(f["W1"].T)
            layer.linear1.bias.copy_(f["b1"])
            layer.linear2.weight.copy_(f["W2"].T)
            layer.linear2.bias.copy_(f["b2"])
        x = layer.train()(x, src_key_padding_mask=ids == pad_id)
    return x
