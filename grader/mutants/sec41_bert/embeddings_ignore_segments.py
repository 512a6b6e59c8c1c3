"""bert_embeddings always adds the segment-0 vector, whatever the segment id."""

BREAKS = "bert_embeddings"


def bert_embeddings(ids, segment_ids, params):
    T = ids.shape[1]
    e = params["tok"][ids] + params["seg"][0] + params["pos"][:T]
    return layer_norm(e, params["ln"])  # noqa: F821
