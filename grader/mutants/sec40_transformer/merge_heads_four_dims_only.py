"""merge_heads unpacks ``B, h, T, d_h = x.shape``: right for (B, h, T, d_h), but the promised
extra leading dimensions fail."""

BREAKS = "merge_heads"


def merge_heads(x):
    if x.ndim < 3:
        raise ValueError("x must have shape (B, h, T, d_h)")
    B, h, T, d_h = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_h)
