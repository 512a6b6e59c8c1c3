"""mask_tokens draws the random replacement from ``len(special_ids) .. vocab_size-1``, as if the special
ids were always the first ids of the vocabulary (wrong when they are scattered through it)."""

BREAKS = "mask_tokens"


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    ids = torch.as_tensor(ids)  # noqa: F821
    if ids.numel() == 0 or ids.is_floating_point():
        raise ValueError("ids must be a non-empty integer tensor")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError("mask_prob must be in [0, 1]")
    special = torch.tensor(sorted(set(special_ids)))  # noqa: F821
    if vocab_size <= len(special):
        raise ValueError("vocab_size leaves no id to draw")
    ids = ids.long()
    g = torch.Generator().manual_seed(seed)  # noqa: F821
    selected = (torch.rand(ids.shape, generator=g) < mask_prob) & ~torch.isin(ids, special)  # noqa: F821
    choice = torch.rand(ids.shape, generator=g)  # noqa: F821
    random_ids = torch.randint(len(special), vocab_size, ids.shape, generator=g)  # noqa: F821
    inputs = torch.where(selected & (choice < 0.8), mask_id, ids)  # noqa: F821
    inputs = torch.where(selected & (choice >= 0.8) & (choice < 0.9), random_ids, inputs)  # noqa: F821
    return inputs, torch.where(selected, ids, -100)  # noqa: F821
