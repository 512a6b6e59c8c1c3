# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""lstm_forward keeps h at padded steps but lets the cell state c run on over the padding."""

BREAKS = "lstm_forward"


def lstm_forward(x, h0, c0, W_x, W_h, b, mask=None):
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("x must have shape (B, T, D)")
    B, T, _ = x.shape
    mask = np.ones((B, T), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != (B, T):
        raise ValueError("mask must have shape (B, T)")
    H = np.shape(W_x)[-1] // 4
    h = np.zeros((B, H), dtype=x.dtype) if h0 is None else np.asarray(h0)
    c = np.zeros((B, H), dtype=x.dtype) if c0 is None else np.asarray(c0)
    if h.shape != (B, H) or c.shape != (B, H):
        raise ValueError("h0 and c0 must have shape (B, H)")
    hs = np.zeros((B, T, H), dtype=x.dtype)
    for t in range(T):
        h_new, c = lstm_step(x[:, t], h, c, W_x, W_h, b)  # wrong: c updated at padding too
        m = mask[:, t, None]
        h = np.where(m, h_new, h)
        hs[:, t] = np.where(m, h_new, 0)
    return hs, (h, c)
