"""attention_scores divides by ``np.sqrt(d_k)``, a NumPy float64 scalar: float32 scores silently
become float64 (NumPy 2 keeps the scalar's dtype)."""

BREAKS = "attention_scores"


def attention_scores(Q, K, scale=True):
    Q, K = np.asarray(Q), np.asarray(K)  # noqa: F821
    if Q.ndim < 2 or K.ndim < 2 or Q.shape[-1] != K.shape[-1]:
        raise ValueError("Q and K must have shapes (..., Tq, d_k) and (..., Tk, d_k)")
    scores = Q @ np.swapaxes(K, -1, -2)  # noqa: F821
    return scores / np.sqrt(np.float64(Q.shape[-1])) if scale else scores  # noqa: F821
