"""build_pair_input tests ``if tokens_b:``, so an empty second sentence is treated like None (no
second [SEP], no segment 1)."""

BREAKS = "build_pair_input"


def build_pair_input(tokens_a, tokens_b, cls_id, sep_id):
    a = _id_list(tokens_a, "tokens_a")  # noqa: F821
    ids = [cls_id, *a, sep_id]
    segments = [0] * len(ids)
    if tokens_b:
        b = _id_list(tokens_b, "tokens_b")  # noqa: F821
        ids += [*b, sep_id]
        segments += [1] * (len(b) + 1)
    return torch.tensor(ids), torch.tensor(segments)  # noqa: F821
