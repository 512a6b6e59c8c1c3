"""numerical_gradient perturbs the caller's x in place and forgets to put the entries back."""

BREAKS = "numerical_gradient"


def numerical_gradient(f, x, eps=1e-6):
    if not eps > 0:
        raise ValueError("eps must be positive")
    grad = np.zeros(np.shape(x), dtype=_float_dtype(np.asarray(x)))  # noqa: F821
    for i in np.ndindex(grad.shape):  # noqa: F821
        x_i = x[i]
        x[i] = x_i + eps
        f_plus = float(f(x))
        x[i] = x_i - eps
        grad[i] = (f_plus - float(f(x))) / (2 * eps)  # x[i] is left at x_i - eps
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
