# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""attention_decoder_step concatenates [h_t ; ctx] instead of [ctx ; h_t] before W_c."""

BREAKS = "attention_decoder_step"


def attention_decoder_step(y_prev, h_prev, enc_states, enc_mask, params):
    y_prev, h_prev = np.asarray(y_prev), np.asarray(h_prev)
    if y_prev.ndim != 1:
        raise ValueError("y_prev must have shape (B,)")
    h_t = rnn_step(np.asarray(params["E"])[y_prev], h_prev, params["W_x"], params["W_h"], params["b"])
    ctx, w = dot_product_attention(h_t, enc_states, enc_states, mask=enc_mask)
    attended = np.tanh(np.concatenate([h_t, ctx], axis=-1) @ params["W_c"] + params["b_c"])  # wrong order
    return h_t, attended @ params["W_out"] + params["b_out"], w
