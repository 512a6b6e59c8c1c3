"""multi_head_attention splits x into heads BEFORE projecting and uses the first d_h x d_h block of
each weight for every head (the heads share one small projection instead of each owning a slice of
the full (d, d) matrices)."""

BREAKS = "multi_head_attention"


def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    d = x_q.shape[-1]
    if d % n_heads != 0:
        raise ValueError("n_heads must divide d")
    dh = d // n_heads
    P = {k: torch.as_tensor(v) for k, v in params.items()}  # noqa: F821
    hq, hkv = split_heads(x_q, n_heads), split_heads(x_kv, n_heads)  # noqa: F821
    Q = hq @ P["W_q"][:dh, :dh] + P["b_q"][:dh]
    K = hkv @ P["W_k"][:dh, :dh] + P["b_k"][:dh]
    V = hkv @ P["W_v"][:dh, :dh] + P["b_v"][:dh]
    scores = Q @ K.transpose(-2, -1) / math.sqrt(dh)  # noqa: F821
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # noqa: F821
    weights = torch.softmax(scores, dim=-1)  # noqa: F821
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return merge_heads(weights @ V) @ P["W_o"] + P["b_o"], weights  # noqa: F821
