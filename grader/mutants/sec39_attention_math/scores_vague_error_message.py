"""attention_scores raises ValueError for bad shapes, but its message names no argument ("shapes
do not fit"): the student cannot tell whether Q or K is wrong."""

BREAKS = "attention_scores"


def attention_scores(Q, K, scale=True):
    Q, K = np.asarray(Q), np.asarray(K)  # noqa: F821
    if Q.ndim < 2 or K.ndim < 2 or Q.shape[-1] != K.shape[-1]:
        raise ValueError("the shapes do not fit")
    scores = Q @ np.swapaxes(K, -1, -2)  # noqa: F821
    if scale:
        scores = scores * (1.0 / math.sqrt(Q.shape[-1]))  # noqa: F821
    return scores
