# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""pad_sequences keeps the *last* max_len tokens of a longer sequence instead of the first ones."""

BREAKS = "pad_sequences"


def pad_sequences(seqs, pad_id=0, max_len=None):
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one sequence")
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError("max_len must be an int >= 1")
    rows = []
    for s in seqs:
        s = np.asarray(s)
        if s.size == 0:
            s = np.zeros(0, dtype=np.int64)
        if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
            raise ValueError("seqs must be flat lists of ints")
        rows.append(s)
    T = max_len if max_len is not None else max(len(s) for s in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), T), dtype=bool)
    for i, s in enumerate(rows):
        s = s[-T:] if len(s) > T else s  # wrong: the end of the sequence is kept
        ids[i, : len(s)] = s
        mask[i, : len(s)] = True
    return ids, mask
