"""add_positional_encoding adds pe in place (``x += pe``): the caller's tensor changes."""

BREAKS = "add_positional_encoding"


def add_positional_encoding(x):
    x = torch.as_tensor(x)  # noqa: F821
    if x.ndim < 2 or not x.is_floating_point():
        raise ValueError("x must be a float tensor (B, T, d)")
    x += positional_encoding(x.shape[-2], x.shape[-1]).to(x.dtype)  # noqa: F821
    return x
