# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bpe_encode replaces each merge's pairs from right to left, so "aaa" with [(97, 97)] gives
[97, 256] instead of [256, 97]."""

BREAKS = "bpe_encode"


def bpe_encode(text, merges):
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    for r, pair in enumerate(merges):
        if len(pair) != 2 or not all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) and 0 <= i < 256 + r for i in pair
        ):
            raise ValueError(f"merges[{r}] must be a pair of ids in [0, {256 + r}), got {pair!r}")
    ids = list(text.encode("utf-8"))  # ids 0..255
    for r, (a, b) in enumerate(merges):
        out, i = [], len(ids) - 1
        while i >= 0:  # wrong: right to left
            if i >= 1 and ids[i - 1] == a and ids[i] == b:
                out.append(256 + r)
                i -= 2
            else:
                out.append(ids[i])
                i -= 1
        ids = out[::-1]
    return ids
