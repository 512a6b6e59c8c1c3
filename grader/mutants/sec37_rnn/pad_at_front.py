# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""pad_sequences puts the padding at the front of each row (left padding) instead of the end."""

BREAKS = "pad_sequences"


def pad_sequences(seqs, pad_id=0, max_len=None):
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one sequence")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be >= 1")
    rows = [list(s) for s in seqs]
    T = max_len if max_len is not None else max(len(s) for s in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=bool)
    for i, s in enumerate(rows):
        s = s[:T]
        if s:
            ids[i, T - len(s) :] = s  # wrong: real tokens at the end of the row
            mask[i, T - len(s) :] = True
    return ids, mask
