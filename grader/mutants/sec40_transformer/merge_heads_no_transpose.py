"""merge_heads reshapes (B, h, T, d_h) straight to (B, T, h*d_h) without transposing back."""

BREAKS = "merge_heads"


def merge_heads(x):
    if x.ndim < 3:
        raise ValueError("x must have shape (B, h, T, d_h)")
    *lead, h, T, d_h = x.shape
    return x.reshape(*lead, T, h * d_h)
