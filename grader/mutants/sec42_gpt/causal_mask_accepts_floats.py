"""causal_mask checks only ``seq_len >= 1``: a float length is not rejected with a ValueError naming
seq_len (torch.ones fails with a TypeError instead)."""

import torch

BREAKS = "causal_mask"


def causal_mask(seq_len):
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    return torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool))
