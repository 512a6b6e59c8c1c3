# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""stacked_rnn_forward raises only when there are fewer layers than h0 states; extra layers are
silently dropped by zip (and an h0 that is not 3-D is not caught by name)."""

BREAKS = "stacked_rnn_forward"


def stacked_rnn_forward(x, h0, layers, mask=None):
    h0 = np.asarray(h0)
    if len(layers) == 0 or len(layers) < h0.shape[0]:  # wrong: one direction only
        raise ValueError("layers must hold one tuple per layer")
    hs, finals = x, []
    for (W_x, W_h, b), h in zip(layers, h0):
        hs, h_last = rnn_forward(hs, h, W_x, W_h, b, mask=mask)
        finals.append(h_last)
    return hs, np.stack(finals)
