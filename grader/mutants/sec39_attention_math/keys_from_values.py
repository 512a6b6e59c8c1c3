"""project_qkv computes K with W_v (a copy-paste slip)."""

BREAKS = "project_qkv"


def project_qkv(h, W_q, W_k, W_v):
    h = np.asarray(h)  # noqa: F821
    return h @ W_q, h @ W_v, h @ W_v
