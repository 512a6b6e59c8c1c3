"""load_balancing_loss computes the shares f_i in float64 (``counts.double()``): float32 router
probabilities give a float64 loss."""

import torch

BREAKS = "load_balancing_loss"


def load_balancing_loss(router_probs, indices, n_experts):
    if not isinstance(n_experts, int) or n_experts < 1:
        raise ValueError("n_experts must be a positive int")
    if router_probs.dim() != 2 or router_probs.shape[1] != n_experts:
        raise ValueError("router_probs must have shape (N, n_experts)")
    if indices.dim() != 2 or indices.shape[0] != router_probs.shape[0]:
        raise ValueError("indices must have shape (N, k)")
    if indices.min() < 0 or indices.max() >= n_experts:
        raise ValueError("indices must lie in [0, n_experts)")
    f = torch.bincount(indices.flatten(), minlength=n_experts).double() / indices.numel()
    return n_experts * (f * router_probs.mean(dim=0)).sum()
