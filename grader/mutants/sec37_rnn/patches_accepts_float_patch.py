# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""image_to_patches converts patch with int(...) and so accepts 2.0 (and checks only the
divisibility, so a negative patch slips through to reshape) instead of raising ValueError."""

BREAKS = "image_to_patches"


def image_to_patches(image, patch):
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError("image must have shape (H, W, C)")
    H, W, C = image.shape
    p = int(patch)  # wrong: 2.0 accepted
    if p == 0 or H % p or W % p:
        raise ValueError("H and W must be divisible by patch")
    grid = image.reshape(H // abs(p), abs(p), W // abs(p), abs(p), C).transpose(0, 2, 1, 3, 4)
    return grid.reshape(-1, p * p * C)
