# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token computes exp(logits / temperature) without subtracting the maximum: large
logits or a tiny temperature overflow to inf and the probabilities become NaN."""

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
        z = np.where(np.isin(np.arange(z.size), np.argsort(-z, kind="stable")[:top_k]), z, -np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)  # wrong: overflows
        probs = e / e.sum()
    if not np.isfinite(probs).all():
        probs = np.nan_to_num(probs, nan=0.0)
        probs = probs / probs.sum() if probs.sum() > 0 else np.full(z.size, 1.0 / z.size)
    return int(np.random.default_rng(seed).choice(z.size, p=probs))
