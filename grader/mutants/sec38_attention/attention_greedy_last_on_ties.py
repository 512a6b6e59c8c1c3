# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""attention_greedy_decode breaks ties towards the highest id (argmax of the reversed logits)."""

BREAKS = "attention_greedy_decode"


def attention_greedy_decode(src, params, bos_id, eos_id, max_len):
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id")
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    enc, dec = params["enc"], params["dec"]
    E_src = np.asarray(enc["E"])
    h, states = np.zeros((1, np.shape(enc["W_h"])[0]), dtype=E_src.dtype), []
    for i in src:
        h = rnn_step(E_src[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
        states.append(h[0])
    enc_states = np.stack(states)[None]
    ids, rows, y = [], [], bos_id
    while len(ids) < max_len:
        h, logits, w = attention_decoder_step(np.array([y]), h, enc_states, None, dec)
        y = int(logits.shape[-1] - 1 - np.argmax(logits[0][::-1]))  # wrong: the last maximum
        if y == eos_id:
            break
        ids.append(y)
        rows.append(w[0])
    return ids, np.array(rows, dtype=h.dtype).reshape(len(ids), len(src))
