# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token keeps exactly top_k logits, cutting ties at the boundary towards the lower
index, instead of keeping every logit equal to the k-th largest (the course's top-k rule)."""

BREAKS = "sample_next_token"


def sample_next_token(logits, temperature=1.0, top_k=None, seed=0):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or logits.size == 0:
        raise ValueError(f"logits must have shape (V,) with V >= 1, got {logits.shape}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits / temperature
    if top_k is not None and top_k < z.size:
        keep = np.argsort(-z, kind="stable")[:top_k]  # wrong: exactly k, ties cut by index
        kept = np.full_like(z, -np.inf)
        kept[keep] = z[keep]
        z = kept
    e = np.exp(z - z.max())
    return int(np.random.default_rng(seed).choice(z.size, p=e / e.sum()))
