"""bert_encoder runs the blocks without the padding mask: real tokens attend to [PAD]."""

BREAKS = "bert_encoder"


def bert_encoder(ids, segment_ids, params, n_heads, pad_id):
    x = bert_embeddings(ids, segment_ids, params)  # noqa: F821
    for block in params["blocks"]:
        x = transformer_block(x, block, n_heads)  # noqa: F821
    return x
