"""rnn_generate feeds only the last prompt token (from h = 0) instead of the whole prompt, so the
model's state forgets the context it was given."""

BREAKS = "rnn_generate"


def rnn_generate(prompt, n_new, params, temperature=0.0, seed=0):
    E = np.asarray(params["E"])  # noqa: F821
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((1, np.shape(W_h)[0]), dtype=E.dtype)  # noqa: F821
    h = rnn_step(E[int(prompt[-1])][None], h, W_x, W_h, b)  # noqa: F821
    new = []
    for step in range(n_new):
        logits = (h @ params["W_out"] + params["b_out"])[0]
        token = sample_next_token(logits, temperature, seed=seed + step)  # noqa: F821
        new.append(token)
        h = rnn_step(E[token][None], h, W_x, W_h, b)  # noqa: F821
    return new
