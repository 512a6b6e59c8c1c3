# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bidirectional_rnn_forward reads h_n off the outputs (forward: out at the last real token,
backward: out at position 0); for a sequence without real tokens that gives 0 instead of h0."""

BREAKS = "bidirectional_rnn_forward"


def bidirectional_rnn_forward(x, h0, fwd, bwd, mask=None):
    x, h0 = np.asarray(x), np.asarray(h0)
    if h0.ndim != 3 or h0.shape[0] != 2:
        raise ValueError("h0 must have shape (2, B, H)")
    B, T = x.shape[:2]
    if mask is not None and np.shape(mask) != (B, T):
        raise ValueError("mask must have shape (B, T)")
    m = np.ones((B, T), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    hs_f, _ = rnn_forward(x, h0[0], *fwd, mask=m)
    hs_b, _ = rnn_forward(x[:, ::-1], h0[1], *bwd, mask=m[:, ::-1])
    hs_b = hs_b[:, ::-1]
    last = np.maximum(m.sum(axis=1) - 1, 0)
    h_n = np.stack([hs_f[np.arange(B), last], hs_b[:, 0]])  # wrong for rows without real tokens
    return np.concatenate([hs_f, hs_b], axis=-1), h_n
