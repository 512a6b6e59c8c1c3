"""classify averages all the token vectors instead of reading [CLS]."""

BREAKS = "classify"


def classify(hidden, W, b):
    return hidden.mean(dim=1) @ W + b
