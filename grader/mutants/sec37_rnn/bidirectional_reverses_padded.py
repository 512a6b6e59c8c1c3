# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bidirectional_rnn_forward runs the backward RNN over the reversed *padded* tensor, so it reads
the padding first instead of starting at each sequence's last real token."""

BREAKS = "bidirectional_rnn_forward"


def bidirectional_rnn_forward(x, h0, fwd, bwd, mask=None):
    x, h0 = np.asarray(x), np.asarray(h0)
    if h0.ndim != 3 or h0.shape[0] != 2:
        raise ValueError(f"h0 must have shape (2, B, H), got {h0.shape}")
    hs_f, h_f = rnn_forward(x, h0[0], *fwd, mask=mask)
    hs_b, h_b = rnn_forward(x[:, ::-1], h0[1], *bwd)  # wrong: padding read as real input
    hs_b = hs_b[:, ::-1]
    if mask is not None:
        hs_b = np.where(np.asarray(mask)[..., None], hs_b, 0)
    return np.concatenate([hs_f, hs_b], axis=-1), np.stack([h_f, h_b])
