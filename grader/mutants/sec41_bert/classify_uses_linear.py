"""classify calls torch.nn.functional.linear: right numbers, but the affine map is the exercise, so
the forbidden-call rule, not the tests, must zero it."""

BREAKS = "classify"
FORBIDDEN = True


def classify(hidden, W, b):
    if hidden.ndim != 3 or hidden.shape[1] == 0:
        raise ValueError("hidden must have shape (B, T, d)")
    if W.ndim != 2 or W.shape[0] != hidden.shape[-1]:
        raise ValueError("W must have shape (d, C)")
    if tuple(b.shape) != (W.shape[1],):
        raise ValueError("b must have shape (C,)")
    return torch.nn.functional.linear(hidden[:, 0], W.T, b)  # noqa: F821
