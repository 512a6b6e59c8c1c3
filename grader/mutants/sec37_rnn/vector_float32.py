# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""image_to_vector returns float32 (a common habit from deep-learning code), but the contract
promises float64."""

BREAKS = "image_to_vector"


def image_to_vector(image):
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 (H, W) or (H, W, C) array")
    return image.reshape(-1).astype(np.float32) / np.float32(255)  # wrong: float32
