"""attention_with_residual adds the attention output into ``h`` in place (``h += out``): the
caller's hidden states change."""

BREAKS = "attention_with_residual"


def attention_with_residual(h, W_q, W_k, W_v, mask=None):
    h = np.asarray(h)  # noqa: F821
    Q, K, V = project_qkv(h, W_q, W_k, W_v)  # noqa: F821
    out, weights = softmax_attention(Q, K, V, mask=mask)  # noqa: F821
    h += out
    return h, weights
