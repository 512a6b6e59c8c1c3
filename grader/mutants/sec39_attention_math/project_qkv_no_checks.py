"""project_qkv computes the three products without checking the shapes: a 1-D ``h`` or a weight
whose width differs from the other slips through instead of raising ValueError."""

BREAKS = "project_qkv"


def project_qkv(h, W_q, W_k, W_v):
    h = np.asarray(h)  # noqa: F821
    return h @ W_q, h @ W_k, h @ W_v
