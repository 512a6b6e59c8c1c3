"""bert_embeddings returns the sum of the three embeddings without the LayerNorm."""

BREAKS = "bert_embeddings"


def bert_embeddings(ids, segment_ids, params):
    T = ids.shape[1]
    return params["tok"][ids] + params["seg"][segment_ids] + params["pos"][:T]
