# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""encoder_decoder_greedy checks only max_len < 1, so max_len=True decodes one id and 2.5 decodes
three, instead of a ValueError naming max_len (a bool or a float is not an int)."""

BREAKS = "encoder_decoder_greedy"


def encoder_decoder_greedy(src, enc, dec, bos_id, eos_id, max_len):
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id, got an empty list")
    if max_len < 1:  # wrong: True and 2.5 pass
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    E_src = np.asarray(enc["E"])
    h = np.zeros((1, np.shape(enc["W_h"])[0]), dtype=_float_dtype(E_src))  # (1, H)
    for i in src:  # encoder: read the whole source
        h = rnn_step(E_src[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
    out, y = [], bos_id
    E_tgt = np.asarray(dec["E"])
    while len(out) < max_len:  # decoder: start from the encoder's final state
        h = rnn_step(E_tgt[y][None], h, dec["W_x"], dec["W_h"], dec["b"])
        y = int(np.argmax((h @ dec["W_out"] + dec["b_out"])[0]))
        if y == eos_id:
            break
        out.append(y)
    return out
