# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""train_bpe breaks ties between equally frequent pairs towards the largest (left id, right id)
instead of the smallest."""

BREAKS = "train_bpe"


def train_bpe(text, n_merges):
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if isinstance(n_merges, bool) or not isinstance(n_merges, (int, np.integer)) or n_merges < 0:
        raise ValueError(f"n_merges must be an int >= 0, got {n_merges!r}")
    ids = list(text.encode("utf-8"))  # ids 0..255
    merges = []
    for r in range(int(n_merges)):
        counts = Counter(zip(ids, ids[1:]))  # every adjacent position, overlaps included
        if not counts:
            break
        pair = max(counts, key=lambda p: (counts[p], p))  # wrong: the largest pair on ties
        if counts[pair] < 2:
            break  # no pair repeats: stop early
        out, i = [], 0
        while i < len(ids):  # replace left to right, without overlaps
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(256 + r)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
        merges.append(pair)
    return merges
