"""feed_forward checks the weight matrices but not the biases: a bias of shape (1,) broadcasts
silently instead of raising ValueError naming it."""

BREAKS = "feed_forward"


def feed_forward(x, W1, b1, W2, b2):
    if W1.ndim != 2 or W1.shape[0] != x.shape[-1]:
        raise ValueError("W1 must have shape (d, d_ff)")
    if W2.ndim != 2 or W2.shape[0] != W1.shape[1]:
        raise ValueError("W2 must have shape (d_ff, d_out)")
    return torch.relu(x @ W1 + b1) @ W2 + b2  # noqa: F821
