"""mask_tokens splits the selected positions 80 / 2 / 18 (mask / random / unchanged) instead of 80 / 10 / 10."""

BREAKS = "mask_tokens"


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError("mask_prob must be in [0, 1]")
    special = torch.tensor(sorted(special_ids))  # noqa: F821
    allowed = torch.arange(vocab_size)  # noqa: F821
    allowed = allowed[~torch.isin(allowed, special)]  # noqa: F821
    g = torch.Generator().manual_seed(seed)  # noqa: F821
    selected = (torch.rand(ids.shape, generator=g) < mask_prob) & ~torch.isin(ids, special)  # noqa: F821
    choice = torch.rand(ids.shape, generator=g)  # noqa: F821
    random_ids = allowed[torch.randint(len(allowed), ids.shape, generator=g)]  # noqa: F821
    inputs = torch.where(selected & (choice < 0.8), mask_id, ids)  # noqa: F821
    inputs = torch.where(selected & (choice >= 0.8) & (choice < 0.82), random_ids, inputs)  # noqa: F821
    return inputs, torch.where(selected, ids, -100)  # noqa: F821
