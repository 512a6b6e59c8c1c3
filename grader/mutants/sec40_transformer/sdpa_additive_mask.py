"""scaled_dot_product_attention masks by adding -1e9 to the blocked scores and then zeroes their
weights: fine for ordinary keys, but a masked key holding a huge value has a score far above -1e9,
takes the softmax's weight, and the real keys are left with almost nothing."""

BREAKS = "scaled_dot_product_attention"


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.ndim < 2 or k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError("shapes of q, k, v do not fit")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # noqa: F821
    if mask is None:
        weights = torch.softmax(scores, dim=-1)  # noqa: F821
    else:
        if mask.dtype != torch.bool:  # noqa: F821
            raise ValueError("mask must be a bool tensor")
        weights = torch.softmax(scores + (~mask) * -1e9, dim=-1) * mask  # noqa: F821
    return weights @ v, weights
