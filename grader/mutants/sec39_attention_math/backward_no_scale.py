"""softmax_attention_backward forgets the 1/sqrt(d_k) of the scores in dQ and dK."""

BREAKS = "softmax_attention_backward"


def softmax_attention_backward(dout, Q, K, V, mask=None):
    dout, Q, K, V = np.asarray(dout), np.asarray(Q), np.asarray(K), np.asarray(V)  # noqa: F821
    _, P = softmax_attention(Q, K, V, mask=mask)  # noqa: F821
    T = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731, F821
    dP = dout @ T(V)
    dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))  # noqa: F821
    return dS @ K, T(dS) @ Q, T(P) @ dout
