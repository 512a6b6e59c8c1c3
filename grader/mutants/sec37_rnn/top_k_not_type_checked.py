# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token checks only top_k < 1, so top_k=True keeps one token and 2.5 fails inside
NumPy, instead of a ValueError naming top_k (a bool or a float is not an int)."""

BREAKS = "sample_next_token"


def sample_next_token(logits, temperature=1.0, top_k=None, seed=0):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or logits.size == 0:
        raise ValueError(f"logits must have shape (V,) with V >= 1, got {logits.shape}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if top_k is not None and top_k < 1:  # wrong: True and 2.5 pass
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if temperature == 0:
        return int(np.argmax(logits))  # greedy; argmax returns the first maximum
    z = logits / temperature  # temperature *before* the softmax
    if top_k is not None and top_k < z.size:
        kth = np.sort(z)[-top_k]  # the top_k-th largest value
        z = np.where(z >= kth, z, -np.inf)  # ties with the k-th largest survive
    e = np.exp(z - z.max())  # (V,), 0 outside the top-k
    probs = e / e.sum()
    rng = np.random.default_rng(seed)
    return int(rng.choice(z.size, p=probs))
