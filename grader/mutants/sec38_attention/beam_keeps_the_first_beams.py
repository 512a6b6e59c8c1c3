"""beam_search_decode keeps the best beam_width candidates of each hypothesis instead of the best of all candidates."""

# ruff: noqa: F821  (names come from the reference module the mutant is laid over)

BREAKS = "beam_search_decode"


def beam_search_decode(src, params, bos_id, eos_id, max_len, beam_width, length_penalty=0.0):
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id, got an empty list")
    for name, value in (("max_len", max_len), ("beam_width", beam_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, (int, float, np.number))
        or not length_penalty >= 0
    ):
        raise ValueError(f"length_penalty must be a number >= 0, got {length_penalty!r}")
    enc, dec = params["enc"], params["dec"]
    E_src = np.asarray(enc["E"])
    h = np.zeros((1, np.shape(enc["W_h"])[0]), dtype=_float_dtype(E_src))  # (1, H)
    states = []
    for i in src:  # encoder, as in attention_greedy_decode
        h = rnn_step(E_src[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
        states.append(h[0])
    enc_states = np.stack(states)[None]  # (1, S, H)
    alive = [([], 0.0)]  # (ids emitted so far, sum of their log-probabilities)
    h_alive, y_alive = h, np.array([bos_id])  # (k, H), (k,)
    finished = []  # (tokens incl. eos, sum, length)
    for step in range(1, max_len + 1):
        k = len(alive)
        h_new, logits, _ = attention_decoder_step(y_alive, h_alive, np.repeat(enc_states, k, axis=0), None, dec)
        z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)  # (k, V)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log softmax
        candidates = [(s + logp[j, v], ids + [v], j) for j, (ids, s) in enumerate(alive) for v in range(logp.shape[1])]
        candidates.sort(key=lambda c: (c[2], -c[0], c[1]))
        alive, rows = [], []
        for s, ids, j in [
            c
            for c in candidates
            if sum(d[2] == c[2] and (-d[0], d[1]) < (-c[0], c[1]) for d in candidates) < beam_width
        ][:beam_width]:
            if ids[-1] == eos_id:
                finished.append((ids, s, step))
            else:
                alive.append((ids, s))
                rows.append(j)
        if not alive:
            break
        h_alive, y_alive = h_new[rows], np.array([ids[-1] for ids, _ in alive])
    finished += [(ids, s, max_len) for ids, s in alive]  # out of steps: finished as they are
    best = min(finished, key=lambda f: (-f[1] / f[2] ** length_penalty, f[0]))
    tokens, total, length = best
    ids = tokens[:-1] if tokens and tokens[-1] == eos_id else tokens
    return [int(i) for i in ids], float(total / length**length_penalty)
