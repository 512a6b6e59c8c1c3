"""numerical_gradient takes one-sided differences (f(x + eps) - f(x)) / eps: error of order eps."""

BREAKS = "numerical_gradient"


def numerical_gradient(f, x, eps=1e-6):
    if not eps > 0:
        raise ValueError("eps must be positive")
    xw = np.array(x, dtype=_float_dtype(np.asarray(x)))  # noqa: F821
    f0 = float(f(xw))
    grad = np.zeros_like(xw)  # noqa: F821
    for i in np.ndindex(xw.shape):  # noqa: F821
        x_i = xw[i]
        xw[i] = x_i + eps
        grad[i] = (float(f(xw)) - f0) / eps
        xw[i] = x_i
    return grad


def numerical_attention_gradients(dout, Q, K, V, mask=None, eps=1e-6):
    # the given helper, calling this file's numerical_gradient as it does in a student's module
    def loss(q, k, v):
        return float(np.sum(_attention_output(q, k, v, mask) * dout))  # noqa: F821

    return (
        numerical_gradient(lambda q: loss(q, K, V), Q, eps),
        numerical_gradient(lambda k: loss(Q, k, V), K, eps),
        numerical_gradient(lambda v: loss(Q, K, v), V, eps),
    )
