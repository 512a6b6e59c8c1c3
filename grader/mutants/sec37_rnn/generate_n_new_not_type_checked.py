# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""rnn_generate checks only n_new < 0, so n_new=True generates one id and 2.5 fails in range()
with a TypeError, instead of a ValueError naming n_new (a bool or a float is not an int)."""

BREAKS = "rnn_generate"


def rnn_generate(prompt, n_new, params, temperature=0.0, seed=0):
    E = np.asarray(params["E"])
    V = E.shape[0]
    prompt = [int(i) for i in prompt]
    if len(prompt) == 0 or min(prompt) < 0 or max(prompt) >= V:
        raise ValueError(f"prompt must be a non-empty list of ids in [0, {V}), got {prompt!r}")
    if n_new < 0:  # wrong: True and 2.5 pass
        raise ValueError(f"n_new must be an int >= 0, got {n_new!r}")
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((1, np.shape(W_h)[0]), dtype=_float_dtype(E))  # (1, H)
    for i in prompt:
        h = rnn_step(E[i][None], h, W_x, W_h, b)
    new = []
    for step in range(n_new):
        logits = (h @ params["W_out"] + params["b_out"])[0]  # (V,)
        token = sample_next_token(logits, temperature, seed=seed + step)
        new.append(token)
        h = rnn_step(E[token][None], h, W_x, W_h, b)
    return new
