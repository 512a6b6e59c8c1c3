"""layer_norm trusts broadcasting: a gamma or beta of shape (1,) is applied to every feature
instead of raising ValueError (the docstring asks for exactly (d,))."""

BREAKS = "layer_norm"


def layer_norm(x, gamma, beta, eps=1e-5):
    x, gamma, beta = torch.as_tensor(x), torch.as_tensor(gamma), torch.as_tensor(beta)  # noqa: F821
    if x.ndim < 1:
        raise ValueError("x must have at least one dimension")
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta  # noqa: F821
