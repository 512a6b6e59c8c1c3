"""softmax_attention_backward uses only the diagonal of softmax's Jacobian: dS = P ⊙ dP."""

BREAKS = "softmax_attention_backward"


def softmax_attention_backward(dout, Q, K, V, mask=None):
    dout, Q, K, V = np.asarray(dout), np.asarray(Q), np.asarray(K), np.asarray(V)  # noqa: F821
    _, P = softmax_attention(Q, K, V, mask=mask)  # noqa: F821
    T = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731, F821
    scale = 1.0 / math.sqrt(Q.shape[-1])  # noqa: F821
    dS = P * (dout @ T(V))
    return (dS @ K) * scale, (T(dS) @ Q) * scale, T(P) @ dout
