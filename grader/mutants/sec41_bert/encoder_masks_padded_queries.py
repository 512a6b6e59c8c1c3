"""bert_encoder masks the padded QUERIES (B, 1, T, 1) instead of the padded keys."""

BREAKS = "bert_encoder"


def bert_encoder(ids, segment_ids, params, n_heads, pad_id):
    x = bert_embeddings(ids, segment_ids, params)  # noqa: F821
    mask = (ids != pad_id)[:, None, :, None]
    for block in params["blocks"]:
        x = transformer_block(x, block, n_heads, mask=mask)  # noqa: F821
    return x
