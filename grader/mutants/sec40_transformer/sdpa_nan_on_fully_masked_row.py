"""scaled_dot_product_attention fills masked scores with -inf and takes the softmax as it is: a
query whose keys are all masked gets NaN weights and a NaN output instead of zeros."""

BREAKS = "scaled_dot_product_attention"


def scaled_dot_product_attention(q, k, v, mask=None):
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError("shapes of q, k, v do not fit")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # noqa: F821
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # noqa: F821
    return weights @ v, weights
