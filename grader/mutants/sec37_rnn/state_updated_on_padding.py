# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_forward zeroes hs at padded steps but keeps updating the state there, so h_last of a short
sequence has also read the padding."""

BREAKS = "rnn_forward"


def rnn_forward(x, h0, W_x, W_h, b, mask=None):
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (B, T, D), got {x.shape}")
    B, T, _ = x.shape
    mask = np.ones((B, T), dtype=bool) if mask is None else np.asarray(mask)
    if mask.shape != (B, T):
        raise ValueError("mask must have shape (B, T)")
    H = np.shape(W_x)[-1]
    h = np.zeros((B, H), dtype=x.dtype) if h0 is None else np.asarray(h0)
    hs = np.zeros((B, T, H), dtype=x.dtype)
    for t in range(T):
        h = rnn_step(x[:, t], h, W_x, W_h, b)  # wrong: updated at padded steps too
        hs[:, t] = np.where(mask[:, t, None], h, 0)
    return hs, h
