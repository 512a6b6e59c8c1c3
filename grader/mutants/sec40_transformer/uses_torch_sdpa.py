"""scaled_dot_product_attention calls torch.nn.functional.scaled_dot_product_attention, the library
shortcut the exercise asks students to write themselves. The numbers are right (the weights come
from attending over identity values), so the forbidden-call rule, not the tests, must zero it."""

BREAKS = "scaled_dot_product_attention"
FORBIDDEN = True


def scaled_dot_product_attention(q, k, v, mask=None):
    sdpa = torch.nn.functional.scaled_dot_product_attention  # noqa: F821
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError("shapes of q, k, v do not fit")
    Tk = k.shape[-2]
    eye = torch.eye(Tk, dtype=q.dtype).expand(*k.shape[:-1], Tk)  # noqa: F821
    weights = sdpa(q, k, eye, attn_mask=mask)  # row i of the identity is key i's weight
    return sdpa(q, k, v, attn_mask=mask), weights
