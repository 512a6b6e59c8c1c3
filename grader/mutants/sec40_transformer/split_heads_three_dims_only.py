"""split_heads unpacks ``B, T, d = x.shape``: right for (B, T, d), but the promised extra leading
dimensions (..., T, d) fail."""

BREAKS = "split_heads"


def split_heads(x, n_heads):
    if x.ndim < 2:
        raise ValueError("x must have shape (B, T, d)")
    B, T, d = x.shape
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or d % n_heads:
        raise ValueError("n_heads must be a positive int dividing d")
    return x.reshape(B, T, n_heads, d // n_heads).transpose(1, 2)
