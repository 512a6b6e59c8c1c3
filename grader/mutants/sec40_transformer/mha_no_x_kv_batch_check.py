"""multi_head_attention checks only the width of x_kv: an x_kv with batch size 1 broadcasts over
the queries' batch instead of raising ValueError naming x_kv."""

BREAKS = "multi_head_attention"


def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    d = x_q.shape[-1]
    if x_q.ndim != 3 or x_kv.ndim != 3 or x_kv.shape[-1] != d:
        raise ValueError("x_q and x_kv must be (B, T, d) with the same d")
    p = {key: _param(params, key) for key in MHA_KEYS}  # noqa: F821
    for key in MHA_KEYS:  # noqa: F821
        if tuple(p[key].shape) != ((d, d) if key.startswith("W") else (d,)):
            raise ValueError(f"params['{key}'] has the wrong shape")
    Q = split_heads(x_q @ p["W_q"] + p["b_q"], n_heads)  # noqa: F821
    K = split_heads(x_kv @ p["W_k"] + p["b_k"], n_heads)  # noqa: F821
    V = split_heads(x_kv @ p["W_v"] + p["b_v"], n_heads)  # noqa: F821
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)  # noqa: F821
    return merge_heads(heads) @ p["W_o"] + p["b_o"], weights  # noqa: F821
