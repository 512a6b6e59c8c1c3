"""add_positional_encoding indexes the positional encoding by the batch axis instead of the
position axis (every token of sequence b gets pe[b])."""

BREAKS = "add_positional_encoding"


def add_positional_encoding(x):
    B, T, d = x.shape
    pe = positional_encoding(B, d).to(x.dtype)  # noqa: F821
    return x + pe[:, None, :]
