# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""encoder_decoder_greedy breaks ties towards the highest id (argmax of the reversed logits)."""

BREAKS = "encoder_decoder_greedy"


def encoder_decoder_greedy(src, enc, dec, bos_id, eos_id, max_len):
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id")
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    h = np.zeros((1, np.shape(enc["W_h"])[0]))
    for i in src:
        h = rnn_step(np.asarray(enc["E"])[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
    out, y = [], bos_id
    while len(out) < max_len:
        h = rnn_step(np.asarray(dec["E"])[y][None], h, dec["W_x"], dec["W_h"], dec["b"])
        logits = (h @ dec["W_out"] + dec["b_out"])[0]
        y = int(len(logits) - 1 - np.argmax(logits[::-1]))  # wrong: the last maximum
        if y == eos_id:
            break
        out.append(y)
    return out
