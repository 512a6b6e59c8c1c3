"""bert_embeddings takes the LAST T rows of the position table instead of the first T."""

BREAKS = "bert_embeddings"


def bert_embeddings(ids, segment_ids, params):
    T = ids.shape[1]
    e = params["tok"][ids] + params["seg"][segment_ids] + params["pos"][-T:]
    return layer_norm(e, params["ln"])  # noqa: F821
