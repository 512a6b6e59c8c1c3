"""positional_encoding puts all sines first and all cosines after them (concatenated) instead of
interleaving sin/cos column pairs."""

BREAKS = "positional_encoding"


def positional_encoding(seq_len, d_model, base=10000.0):
    position = torch.arange(seq_len, dtype=torch.float64)[:, None]  # noqa: F821
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # noqa: F821
    angle = position / float(base) ** (two_i / d_model)
    pe = torch.cat([torch.sin(angle), torch.cos(angle[:, : d_model // 2])], dim=-1)  # noqa: F821
    return pe.to(torch.float32)  # noqa: F821
