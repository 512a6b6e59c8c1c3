"""mask_tokens ignores special_ids (only mask_id is treated as special): [CLS], [SEP] and [PAD] can be
selected and masked, and drawn as random replacements."""

BREAKS = "mask_tokens"

_reference_mask_tokens = mask_tokens  # noqa: F821


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    return _reference_mask_tokens(ids, mask_id, vocab_size, [mask_id], mask_prob, seed)
