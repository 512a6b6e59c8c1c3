"""Forbidden shortcuts of §42 (read by grader/forbidden.py): for each exercise, the attribute and
function names its code must not use — directly or through module-level helpers it calls — because
they do the exercise for the student. Plain tensor operations (torch.softmax, torch.topk, torch.erf,
torch.multinomial, F.gelu, F.one_hot) stay allowed.

The check follows the module-level functions an exercise calls, so a shortcut inside
causal_self_attention also costs gpt_block and gpt_forward, whose outputs it computes. `generate`
has no rule: a sampling loop has no PyTorch shortcut, and its points should not also vanish for a
shortcut in the model code it calls. The bonus generate_with_kv_cache writes its own attention. lm_loss writes the shifted, masked mean of
the cross-entropy itself; train_step has no rule (it calls lm_loss, whose rule is lm_loss's)."""

# attention computed by PyTorch instead of by the student
_ATTENTION = [
    "scaled_dot_product_attention",
    "MultiheadAttention",
    "multi_head_attention_forward",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
]
# normalisation computed by PyTorch
_NORM = ["layer_norm", "LayerNorm"]

RULES = {
    "causal_self_attention": _ATTENTION,
    "gpt_block": _ATTENTION + _NORM,
    "gpt_forward": _ATTENTION + _NORM,
    "generate_with_kv_cache": _ATTENTION + _NORM,
    # the shifted, padding-aware mean of the cross-entropy is the exercise (torch.log_softmax is fine)
    "lm_loss": ["cross_entropy", "CrossEntropyLoss", "nll_loss", "NLLLoss"],
    # the LLaMA-style bonus: its norm and its attention are the exercise
    "rms_norm": ["rms_norm", "RMSNorm"],
    "llama_block": _ATTENTION + ["rms_norm", "RMSNorm"],
}
