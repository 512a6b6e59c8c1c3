"""split_heads reshapes (B, T, d) straight to (B, h, T, d_h) without the transpose: the memory
order is wrong, so each "head" holds pieces of several tokens."""

BREAKS = "split_heads"


def split_heads(x, n_heads):
    *lead, T, d = x.shape
    if n_heads < 1 or d % n_heads != 0:
        raise ValueError("n_heads must divide d")
    return x.reshape(*lead, n_heads, T, d // n_heads)
