# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""attention_decoder_step looks the embeddings up as float64 (E[y].astype(float)), so h_t, the
logits and the weights are float64 for float32 weights."""

BREAKS = "attention_decoder_step"


def attention_decoder_step(y_prev, h_prev, enc_states, enc_mask, params):
    y_prev, h_prev = np.asarray(y_prev), np.asarray(h_prev)
    if y_prev.ndim != 1 or h_prev.ndim != 2 or y_prev.shape[0] != h_prev.shape[0]:
        raise ValueError("y_prev must have shape (B,)")
    x = np.asarray(params["E"])[y_prev].astype(float)  # wrong: float64
    h_t = rnn_step(x, h_prev, params["W_x"], params["W_h"], params["b"])
    ctx, w = dot_product_attention(h_t, enc_states, enc_states, mask=enc_mask)
    attended = np.tanh(np.concatenate([ctx, h_t], axis=-1) @ params["W_c"] + params["b_c"])
    return h_t, attended @ params["W_out"] + params["b_out"], w
