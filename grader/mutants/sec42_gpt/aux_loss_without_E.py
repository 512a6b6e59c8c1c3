"""load_balancing_loss forgets the factor E: Σ f_i P_i is 1/E for uniform routing instead of 1."""

import torch

BREAKS = "load_balancing_loss"


def load_balancing_loss(router_probs, indices, n_experts):
    if router_probs.dim() != 2 or router_probs.shape[1] != n_experts:
        raise ValueError("router_probs")
    if indices.dim() != 2 or indices.min() < 0 or indices.max() >= n_experts:
        raise ValueError("indices")
    f = torch.bincount(indices.flatten(), minlength=n_experts).to(router_probs.dtype) / indices.numel()
    return (f * router_probs.mean(dim=0)).sum()
