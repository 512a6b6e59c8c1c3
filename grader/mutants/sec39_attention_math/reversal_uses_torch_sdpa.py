"""reversal_attention_step calls torch.nn.functional.scaled_dot_product_attention: numerically right,
but it is the shortcut the exercise asks to write by hand, so the exercise scores 0."""

BREAKS = "reversal_attention_step"
FORBIDDEN = True


def reversal_attention_step(dec_states, enc_states, enc_mask=None):
    import torch.nn.functional as F

    keep = None if enc_mask is None else enc_mask.bool().unsqueeze(-2)  # (..., 1, S)
    context = F.scaled_dot_product_attention(dec_states, enc_states, enc_states, attn_mask=keep)
    S = enc_states.shape[-2]
    scores = dec_states @ enc_states.transpose(-1, -2) / dec_states.shape[-1] ** 0.5
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)  # noqa: F821
    return torch.nan_to_num(context, nan=0.0), weights[..., :S]  # noqa: F821
