# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""lstm_step splits the pre-activations in the order i, f, o, g instead of PyTorch's i, f, g, o."""

BREAKS = "lstm_step"


def lstm_step(x_t, h_prev, c_prev, W_x, W_h, b):
    z = np.asarray(x_t) @ W_x + np.asarray(h_prev) @ W_h + b
    z_i, z_f, z_o, z_g = np.split(z, 4, axis=-1)  # wrong: o and g swapped

    def sigmoid(a):
        return 0.5 * (1.0 + np.tanh(0.5 * a))

    c_t = sigmoid(z_f) * c_prev + sigmoid(z_i) * np.tanh(z_g)
    h_t = sigmoid(z_o) * np.tanh(c_t)
    return h_t, c_t
