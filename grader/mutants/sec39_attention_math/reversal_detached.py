"""reversal_attention_step computes the weights under ``torch.no_grad()`` (to "save memory"): the
numbers are right, but no gradient reaches the decoder or encoder through the attention."""

BREAKS = "reversal_attention_step"

_reference_step = reversal_attention_step  # noqa: F821


def reversal_attention_step(dec_states, enc_states, enc_mask=None):
    with torch.no_grad():  # noqa: F821
        return _reference_step(dec_states, enc_states, enc_mask)
