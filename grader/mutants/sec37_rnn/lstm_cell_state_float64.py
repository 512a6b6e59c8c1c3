# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""lstm_step computes the cell state from c_prev.astype(float), so c_t is float64 for float32
inputs (h_t is cast back, c_t is not)."""

BREAKS = "lstm_step"


def lstm_step(x_t, h_prev, c_prev, W_x, W_h, b):
    x_t = np.asarray(x_t)
    if x_t.ndim != 2:
        raise ValueError("x_t must have shape (B, D)")
    W_x = np.asarray(W_x)
    if W_x.ndim != 2 or W_x.shape[0] != x_t.shape[1] or W_x.shape[1] % 4:
        raise ValueError("W_x must have shape (D, 4H)")
    H = W_x.shape[1] // 4
    if np.shape(h_prev) != (x_t.shape[0], H):
        raise ValueError("h_prev must have shape (B, H)")
    if np.shape(c_prev) != (x_t.shape[0], H):
        raise ValueError("c_prev must have shape (B, H)")
    if np.shape(W_h) != (H, 4 * H):
        raise ValueError("W_h must have shape (H, 4H)")
    if np.shape(b) != (4 * H,):
        raise ValueError("b must have shape (4H,)")
    z = x_t @ W_x + np.asarray(h_prev) @ W_h + b
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)

    def sigmoid(a):
        return 0.5 * (1.0 + np.tanh(0.5 * a))

    c_t = sigmoid(z_f) * np.asarray(c_prev).astype(float) + sigmoid(z_i) * np.tanh(z_g)  # wrong: float64
    h_t = (sigmoid(z_o) * np.tanh(c_t)).astype(x_t.dtype)
    return h_t, c_t
