# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""image_to_patches rejects floats but not bool, so patch=True cuts 1x1 patches instead of
raising a ValueError naming patch (a bool is not an int)."""

BREAKS = "image_to_patches"


def image_to_patches(image, patch):
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (H, W, C), got {image.shape}")
    if not isinstance(patch, (int, np.integer)) or patch < 1:  # wrong: True passes
        raise ValueError(f"patch must be an int >= 1, got {patch!r}")
    H, W, C = image.shape
    p = int(patch)
    if H % p or W % p:
        raise ValueError(f"image sides H={H}, W={W} must be divisible by patch={p}")
    grid = image.reshape(H // p, p, W // p, p, C)  # (rows, p, cols, p, C)
    grid = grid.transpose(0, 2, 1, 3, 4)  # (rows, cols, p, p, C)
    return grid.reshape((H // p) * (W // p), p * p * C)
