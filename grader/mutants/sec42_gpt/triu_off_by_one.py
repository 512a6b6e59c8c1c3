"""causal_mask leaves out the diagonal (an off-by-one in the triu/tril offset): token i may see only
tokens before it, so token 0 sees nothing at all."""

import torch

BREAKS = "causal_mask"


def causal_mask(seq_len):
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    return ~torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=0)
