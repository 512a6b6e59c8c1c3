"""add_positional_encoding builds pe in float64 and adds it without casting: float32 token
vectors come back as float64."""

BREAKS = "add_positional_encoding"


def add_positional_encoding(x):
    x = torch.as_tensor(x)  # noqa: F821
    if x.ndim < 2 or not x.is_floating_point():
        raise ValueError("x must be a float tensor (B, T, d)")
    T, d = x.shape[-2], x.shape[-1]
    return x + positional_encoding(T, d).double()  # noqa: F821
