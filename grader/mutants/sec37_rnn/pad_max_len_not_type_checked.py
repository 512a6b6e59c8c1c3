# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""pad_sequences checks only max_len < 1, so max_len=True pads to length 1 and 2.5 fails inside
NumPy with a TypeError, instead of a ValueError naming max_len (a bool or a float is not an int)."""

BREAKS = "pad_sequences"


def pad_sequences(seqs, pad_id=0, max_len=None):
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one sequence, got an empty list")
    if max_len is not None and max_len < 1:  # wrong: True and 2.5 pass
        raise ValueError(f"max_len must be None or an int >= 1, got {max_len!r}")
    rows = []
    for i, s in enumerate(seqs):
        try:
            s = np.asarray(s)
        except ValueError:
            raise ValueError(f"seqs[{i}] is not a flat list of ints") from None
        if s.size == 0:
            s = np.zeros(0, dtype=np.int64)
        if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
            raise ValueError(f"seqs[{i}] must be a flat list of ints, got shape {s.shape} and dtype {s.dtype}")
        rows.append(s.astype(np.int64))
    T = int(max_len) if max_len is not None else max(len(s) for s in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)  # (B, T)
    mask = np.zeros((len(rows), T), dtype=bool)  # (B, T)
    for i, s in enumerate(rows):
        n = min(len(s), T)
        ids[i, :n] = s[:n]
        mask[i, :n] = True
    return ids, mask
