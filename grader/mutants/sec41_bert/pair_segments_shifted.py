"""build_pair_input puts the first [SEP] into segment 1 (segment 1 starts one token too early)."""

BREAKS = "build_pair_input"

_reference_build_pair_input = build_pair_input  # noqa: F821


def build_pair_input(tokens_a, tokens_b, cls_id, sep_id):
    ids, segments = _reference_build_pair_input(tokens_a, tokens_b, cls_id, sep_id)
    if tokens_b is not None:
        segments = segments.clone()
        segments[len(tokens_a) + 1] = 1
    return ids, segments
