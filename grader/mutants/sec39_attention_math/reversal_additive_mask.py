"""reversal_attention_step masks by adding -1e9 to the padded scores: fine for ordinary states,
but a padded encoder state holding a huge value gets a score far above -1e9 and takes weight."""

BREAKS = "reversal_attention_step"


def reversal_attention_step(dec_states, enc_states, enc_mask=None):
    if dec_states.dim() < 2 or enc_states.dim() < 2 or enc_states.shape[-1] != dec_states.shape[-1]:
        raise ValueError("dec_states and enc_states must be (..., T, H) tensors of the same H")
    scores = dec_states @ enc_states.transpose(-1, -2) / math.sqrt(dec_states.shape[-1])  # noqa: F821
    if enc_mask is not None:
        if enc_mask.shape[-1] != enc_states.shape[-2]:
            raise ValueError("enc_mask must be (..., S)")
        keep = enc_mask.unsqueeze(-2).to(scores.dtype)
        scores = scores + (1.0 - keep) * -1e9
        weights = torch.softmax(scores, dim=-1) * keep  # noqa: F821
    else:
        weights = torch.softmax(scores, dim=-1)  # noqa: F821
    return weights @ enc_states, weights
