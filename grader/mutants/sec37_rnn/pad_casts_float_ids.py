# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""pad_sequences casts every sequence with np.asarray(s, dtype=np.int64), so float ids (1.5 -> 1)
and nested lists are accepted silently instead of raising ValueError naming seqs."""

BREAKS = "pad_sequences"


def pad_sequences(seqs, pad_id=0, max_len=None):
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one sequence")
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError("max_len must be an int >= 1")
    rows = [np.asarray(s, dtype=np.int64).reshape(-1) for s in seqs]  # wrong: no check
    T = max_len if max_len is not None else max(len(s) for s in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=bool)
    for i, s in enumerate(rows):
        n = min(len(s), T)
        ids[i, :n] = s[:n]
        mask[i, :n] = True
    return ids, mask
