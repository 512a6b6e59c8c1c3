# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bpe_decode decodes id by id with errors="ignore": the bytes of a character split between two
ids are dropped (and a cut character is dropped silently instead of raising ValueError)."""

BREAKS = "bpe_decode"


def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]  # id -> its bytes
    for r, pair in enumerate(merges):
        if len(pair) != 2 or not all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) and 0 <= i < 256 + r for i in pair
        ):
            raise ValueError(f"merges[{r}] must be a pair of ids in [0, {256 + r}), got {pair!r}")
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
    data = []
    for i in list(ids):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(vocab):
            raise ValueError(f"ids must be ints in [0, {len(vocab)}), got {i!r}")
        data.append(vocab[i])
    return "".join(d.decode("utf-8", errors="ignore") for d in data)  # wrong: drops split bytes
