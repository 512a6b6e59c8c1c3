# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""train_bpe counts only the occurrences of a pair that do not overlap (left to right), so in
"aaaaa" (a, a) counts 2, where the docstring counts every position (4)."""

BREAKS = "train_bpe"


def train_bpe(text, n_merges):
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if isinstance(n_merges, bool) or not isinstance(n_merges, (int, np.integer)) or n_merges < 0:
        raise ValueError(f"n_merges must be an int >= 0, got {n_merges!r}")
    ids = list(text.encode("utf-8"))  # ids 0..255
    merges = []
    for r in range(int(n_merges)):
        counts, j = Counter(), 0
        last = {}  # pair -> the position after its last counted occurrence
        for j in range(len(ids) - 1):  # wrong: an occurrence overlapping the last one is skipped
            p = (ids[j], ids[j + 1])
            if last.get(p, -1) <= j:
                counts[p] += 1
                last[p] = j + 2
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent, smallest on ties
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
