"""layer_norm divides by d - 1 (unbiased variance, torch.var's default) instead of d."""

BREAKS = "layer_norm"


def layer_norm(x, gamma, beta, eps=1e-5):
    d = x.shape[-1]
    if tuple(gamma.shape) != (d,) or tuple(beta.shape) != (d,):
        raise ValueError("gamma and beta must have shape (d,)")
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)  # unbiased: divides by d - 1
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta  # noqa: F821
