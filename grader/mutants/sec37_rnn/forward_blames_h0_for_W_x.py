# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""lstm_forward reads H from W_x's last axis before checking W_x, so a 3-D W_x given with a right
h0 is rejected naming h0 (the reference's own behaviour before it checked W_x first)."""

BREAKS = "lstm_forward"

_checked_lstm_forward = lstm_forward  # the reference's, defined above this code


def lstm_forward(x, h0, c0, W_x, W_h, b, mask=None):
    B, H = np.shape(x)[0], np.shape(W_x)[-1] // 4
    for name, state in (("h0", h0), ("c0", c0)):
        if state is not None and np.shape(state) != (B, H):
            raise ValueError(f"{name} must have shape (B, H) = ({B}, {H}), got {np.shape(state)}")
    return _checked_lstm_forward(x, h0, c0, W_x, W_h, b, mask=mask)
