"""padding_mask returns (B, 1, T, 1): it hides padded QUERIES instead of padded keys."""

BREAKS = "padding_mask"


def padding_mask(ids, pad_id):
    if ids.ndim != 2:
        raise ValueError("ids must have shape (B, T)")
    return (ids != pad_id)[:, None, :, None]
