# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token returns what np.argmax / rng.choice give, an np.int64, where the contract
promises a Python int."""

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
        return np.argmax(logits)  # wrong: np.int64
    z = logits / temperature
    if top_k is not None and top_k < z.size:
        z = np.where(np.isin(np.arange(z.size), np.argsort(-z, kind="stable")[:top_k]), z, -np.inf)
    e = np.exp(z - z.max())
    return np.random.default_rng(seed).choice(z.size, p=e / e.sum())  # wrong: np.int64
