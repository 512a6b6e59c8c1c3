"""bert_encoder applies the blocks in reverse order."""

BREAKS = "bert_encoder"


def bert_encoder(ids, segment_ids, params, n_heads, pad_id):
    x = bert_embeddings(ids, segment_ids, params)  # noqa: F821
    for block in reversed(params["blocks"]):
        x = transformer_block(x, block, n_heads, mask=padding_mask(ids, pad_id))  # noqa: F821
    return x
