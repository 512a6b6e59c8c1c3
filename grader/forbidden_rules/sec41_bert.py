"""Forbidden shortcuts of §41 (see grader/forbidden.py).

``mlm_loss`` teaches the masked mean of the cross-entropy: the library losses that ignore -100
labels and average for you are forbidden (``torch.log_softmax`` is allowed). ``nsp_logits`` writes
its two affine maps by hand, and so does ``classify``. ``bert_encoder`` stacks the given §40 block
(``transformer_block`` of the module), not PyTorch's ready-made encoder layers.
"""

RULES = {
    "mlm_loss": ["cross_entropy", "CrossEntropyLoss", "nll_loss", "NLLLoss"],
    "nsp_logits": ["Linear", "linear"],
    "classify": ["Linear", "linear"],
    "bert_encoder": ["TransformerEncoderLayer", "TransformerEncoder", "_transformer_encoder_layer_fwd"],
}
