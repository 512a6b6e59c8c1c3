# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""image_to_patches lists the patches column by column instead of row by row."""

BREAKS = "image_to_patches"


def image_to_patches(image, patch):
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError("image must have shape (H, W, C)")
    H, W, C = image.shape
    if patch < 1 or H % patch or W % patch:
        raise ValueError("image sides must be divisible by patch")
    p = patch
    grid = image.reshape(H // p, p, W // p, p, C).transpose(2, 0, 1, 3, 4)  # wrong: columns first
    return grid.reshape(-1, p * p * C)
