# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""sample_next_token ignores the logits when sampling: every token is drawn with probability 1/V
(greedy decoding and argument checks are still right)."""

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
    rng = np.random.default_rng(seed)
    return int(rng.integers(logits.size))  # wrong: uniform
