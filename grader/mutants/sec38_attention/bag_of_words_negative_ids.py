# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""bag_of_words checks only ids >= V, so a negative id silently picks a row from the end of E."""

BREAKS = "bag_of_words"


def bag_of_words(ids, E, pad_id=0):
    ids, E = np.asarray(ids), np.asarray(E)
    if E.ndim != 2:
        raise ValueError("E must have shape (V, D)")
    if ids.ndim < 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("ids must be an int array")
    if ids.size and ids.max() >= E.shape[0]:  # wrong: negative ids pass
        raise ValueError("ids must lie in [0, V)")
    return np.where((ids != pad_id)[..., None], E[ids], 0).sum(axis=-2).astype(E.dtype)
