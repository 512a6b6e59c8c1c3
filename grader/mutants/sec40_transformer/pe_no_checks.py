"""positional_encoding computes the table without checking its arguments: seq_len=0 gives an empty
tensor, a float size or a non-positive base slips through instead of raising ValueError."""

BREAKS = "positional_encoding"


def positional_encoding(seq_len, d_model, base=10000.0):
    position = torch.arange(seq_len, dtype=torch.float64)[:, None]  # noqa: F821
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # noqa: F821
    angle = position / float(base) ** (two_i / d_model)
    pe = torch.zeros(int(seq_len), int(d_model), dtype=torch.float64)  # noqa: F821
    pe[:, 0::2] = torch.sin(angle)  # noqa: F821
    pe[:, 1::2] = torch.cos(angle[:, : int(d_model) // 2])  # noqa: F821
    return pe.to(torch.float32)  # noqa: F821
