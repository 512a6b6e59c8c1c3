"""attention_with_residual starts with ``np.asarray(h, dtype=float)``: float32 hidden states come
back as float64."""

BREAKS = "attention_with_residual"


def attention_with_residual(h, W_q, W_k, W_v, mask=None):
    h = np.asarray(h, dtype=float)  # noqa: F821
    if np.shape(W_v) != (h.shape[-1], h.shape[-1]):  # noqa: F821
        raise ValueError("W_v must have shape (D, D)")
    Q, K, V = project_qkv(h, W_q, W_k, W_v)  # noqa: F821
    out, weights = softmax_attention(Q, K, V, mask=mask)  # noqa: F821
    return h + out, weights
