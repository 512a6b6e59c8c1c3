"""mask_tokens builds its results with ``full_like(ids, ...)``: int32 ids give int32 inputs and labels
(the contract promises int64)."""

BREAKS = "mask_tokens"


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    ids = torch.as_tensor(ids)  # noqa: F821
    if ids.numel() == 0 or ids.is_floating_point():
        raise ValueError("ids must be a non-empty integer tensor")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError("mask_prob must be in [0, 1]")
    special = torch.tensor(sorted(set(special_ids)))  # noqa: F821
    allowed = torch.arange(vocab_size)  # noqa: F821
    allowed = allowed[~torch.isin(allowed, special)].to(ids.dtype)  # noqa: F821
    if allowed.numel() == 0:
        raise ValueError("vocab_size leaves no id to draw")
    g = torch.Generator().manual_seed(seed)  # noqa: F821
    selected = (torch.rand(ids.shape, generator=g) < mask_prob) & ~torch.isin(ids, special)  # noqa: F821
    choice = torch.rand(ids.shape, generator=g)  # noqa: F821
    random_ids = allowed[torch.randint(len(allowed), ids.shape, generator=g)]  # noqa: F821
    inputs = torch.where(selected & (choice < 0.8), torch.full_like(ids, mask_id), ids)  # noqa: F821
    inputs = torch.where(selected & (choice >= 0.8) & (choice < 0.9), random_ids, inputs)  # noqa: F821
    return inputs, torch.where(selected, ids, torch.full_like(ids, -100))  # noqa: F821
