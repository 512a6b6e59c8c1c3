"""reversal_attention_step ignores the scores: every real source position gets the same weight
(the context is the mean of the encoder states), so the decoder cannot tell which symbol to copy
and the trained model neither reverses held-out sequences nor attends anti-diagonally."""

import types

BREAKS = "reversal_attention_step"


def reversal_attention_step(dec_states, enc_states, enc_mask=None):
    S = enc_states.shape[-2]
    keep = torch.ones(S, dtype=torch.bool) if enc_mask is None else enc_mask.bool()  # noqa: F821
    keep = keep.unsqueeze(-2).expand(*dec_states.shape[:-1], S)  # (..., Tq, S)
    weights = keep.to(dec_states.dtype) / keep.sum(dim=-1, keepdim=True).clamp(min=1)
    return weights @ enc_states, weights


def _calling_this_module(f):
    """The given function ``f`` of the reference, but looking its global names up here, so that
    the given training code trains with the broken step above (as it would in a student's file)."""
    g = types.FunctionType(f.__code__, globals(), f.__name__, f.__defaults__, f.__closure__)
    g.__kwdefaults__ = f.__kwdefaults__
    return g


# the given functions that use the attention step, directly or through one another
train_reversal_attention = _calling_this_module(train_reversal_attention)  # noqa: F821
reversal_decode = _calling_this_module(reversal_decode)  # noqa: F821
evaluate_reversal = _calling_this_module(evaluate_reversal)  # noqa: F821
compare_attention = _calling_this_module(compare_attention)  # noqa: F821
