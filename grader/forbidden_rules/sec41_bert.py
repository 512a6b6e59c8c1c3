"""Forbidden shortcuts of §41 (see grader/forbidden.py).

``mlm_loss`` teaches the masked mean of the cross-entropy: the library losses that ignore -100
labels and average for you are forbidden (``torch.log_softmax`` is allowed). ``nsp_logits`` writes
its two affine maps by hand.
"""

RULES = {
    "mlm_loss": ["cross_entropy", "CrossEntropyLoss", "nll_loss", "NLLLoss"],
    "nsp_logits": ["Linear", "linear"],
}
