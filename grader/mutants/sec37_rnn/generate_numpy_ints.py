# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_generate decodes greedily with np.argmax itself and appends the np.int64 it returns, where
the contract promises a list of Python ints (and it does not check the prompt's ids)."""

BREAKS = "rnn_generate"


def rnn_generate(prompt, n_new, params, temperature=0.0, seed=0):
    E = np.asarray(params["E"])
    if len(prompt) == 0:
        raise ValueError("prompt must not be empty")
    if n_new < 0:
        raise ValueError("n_new must be >= 0")
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((1, np.shape(W_h)[0]), dtype=E.dtype)
    for i in prompt:
        h = rnn_step(E[i][None], h, W_x, W_h, b)
    new = []
    for step in range(n_new):
        logits = (h @ params["W_out"] + params["b_out"])[0]
        if temperature == 0:
            token = np.argmax(logits)  # wrong: np.int64
        else:
            token = sample_next_token(logits, temperature, seed=seed + step)
        new.append(token)
        h = rnn_step(E[token][None], h, W_x, W_h, b)
    return new
