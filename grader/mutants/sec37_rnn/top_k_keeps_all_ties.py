# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token keeps every logit >= the k-th largest, so tied logits at the threshold are
all kept (more than top_k candidates) instead of the lower indices only."""

BREAKS = "sample_next_token"


def sample_next_token(logits, temperature=1.0, top_k=None, seed=0):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or logits.size == 0:
        raise ValueError("logits must have shape (V,)")
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    if top_k is not None and top_k < 1:
        raise ValueError("top_k must be >= 1")
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits / temperature
    if top_k is not None and top_k < z.size:
        threshold = np.sort(z)[-top_k]
        z = np.where(z >= threshold, z, -np.inf)  # wrong: ties at the threshold all kept
    e = np.exp(z - z.max())
    return int(np.random.default_rng(seed).choice(z.size, p=e / e.sum()))
