# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""stacked_rnn_forward feeds the input x to every layer instead of the states of the layer below."""

BREAKS = "stacked_rnn_forward"


def stacked_rnn_forward(x, h0, layers, mask=None):
    h0 = np.asarray(h0)
    if h0.ndim != 3:
        raise ValueError("h0 must have shape (L, B, H)")
    if len(layers) == 0 or len(layers) != h0.shape[0]:
        raise ValueError("layers must hold L tuples")
    x = np.asarray(x)
    finals = []
    for l, (W_x, W_h, b) in enumerate(layers):
        hs, h_last = rnn_forward(x, h0[l], W_x, W_h, b, mask=mask)  # wrong: x again, not hs
        finals.append(h_last)
    return hs, np.stack(finals)
