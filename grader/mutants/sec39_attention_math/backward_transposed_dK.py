"""softmax_attention_backward computes dK from dS instead of dSᵀ (keys and queries swapped)."""

BREAKS = "softmax_attention_backward"


def softmax_attention_backward(dout, Q, K, V, mask=None):
    dout, Q, K, V = np.asarray(dout), np.asarray(Q), np.asarray(K), np.asarray(V)  # noqa: F821
    _, P = softmax_attention(Q, K, V, mask=mask)  # noqa: F821
    T = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731, F821
    scale = 1.0 / math.sqrt(Q.shape[-1])  # noqa: F821
    dP = dout @ T(V)
    dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))  # noqa: F821
    n = min(dS.shape[-1], dS.shape[-2])
    dK = np.zeros_like(K)  # noqa: F821
    dK[..., :n, :] = (dS[..., :n, :n] @ Q[..., :n, :]) * scale  # dS, not dSᵀ
    return (dS @ K) * scale, dK, T(P) @ dout
