# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bag_of_words adds the embedding of the padding id too."""

BREAKS = "bag_of_words"


def bag_of_words(ids, E, pad_id=0):
    ids, E = np.asarray(ids), np.asarray(E)
    if E.ndim != 2:
        raise ValueError("E must have shape (V, D)")
    if ids.ndim < 1 or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= E.shape[0]:
        raise ValueError("ids must be ints in [0, V)")
    return E[ids].sum(axis=-2)  # wrong: padding counted
