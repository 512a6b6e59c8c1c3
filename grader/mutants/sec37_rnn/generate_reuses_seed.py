# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_generate passes the same seed to every step (seed, not seed + i), so each step draws with
the same random number."""

BREAKS = "rnn_generate"


def rnn_generate(prompt, n_new, params, temperature=0.0, seed=0):
    E = np.asarray(params["E"])
    prompt = [int(i) for i in prompt]
    if len(prompt) == 0 or min(prompt) < 0 or max(prompt) >= E.shape[0]:
        raise ValueError("prompt must be a non-empty list of ids in [0, V)")
    if n_new < 0:
        raise ValueError("n_new must be >= 0")
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((1, np.shape(W_h)[0]), dtype=E.dtype)
    for i in prompt:
        h = rnn_step(E[i][None], h, W_x, W_h, b)
    new = []
    for _ in range(n_new):
        token = sample_next_token((h @ params["W_out"] + params["b_out"])[0], temperature, seed=seed)  # wrong
        new.append(token)
        h = rnn_step(E[token][None], h, W_x, W_h, b)
    return new
