# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_forward allocates hs with np.zeros((B, T, H)) (float64) whatever the input dtype."""

BREAKS = "rnn_forward"


def rnn_forward(x, h0, W_x, W_h, b, mask=None):
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("x must have shape (B, T, D)")
    B, T, _ = x.shape
    mask = np.ones((B, T), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != (B, T):
        raise ValueError("mask must have shape (B, T)")
    H = np.shape(W_x)[-1]
    h = np.zeros((B, H), dtype=x.dtype) if h0 is None else np.asarray(h0)
    if h.shape != (B, H):
        raise ValueError("h0 must have shape (B, H)")
    hs = np.zeros((B, T, H))  # wrong: float64 for float32 input
    for t in range(T):
        h_new = rnn_step(x[:, t], h, W_x, W_h, b)
        m = mask[:, t, None]
        h = np.where(m, h_new, h)
        hs[:, t] = np.where(m, h_new, 0)
    return hs, h
