# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_step does no argument checks: a wrong h_prev, b or W_x fails inside NumPy (or broadcasts)
with a message that does not name the argument."""

BREAKS = "rnn_step"


def rnn_step(x_t, h_prev, W_x, W_h, b):
    x_t = np.asarray(x_t)
    if x_t.ndim != 2:
        raise ValueError("x_t must have shape (B, D)")
    if np.shape(W_h)[0] != np.shape(W_h)[-1]:
        raise ValueError("W_h must be square")
    return np.tanh(x_t @ W_x + np.asarray(h_prev) @ W_h + b)  # wrong: no other checks
