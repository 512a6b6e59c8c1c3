"""feed_forward applies the ReLU after the second layer too (outputs can never be negative)."""

BREAKS = "feed_forward"

_reference_feed_forward = feed_forward  # noqa: F821


def feed_forward(x, W1, b1, W2, b2):
    return torch.relu(_reference_feed_forward(x, W1, b1, W2, b2))  # noqa: F821
