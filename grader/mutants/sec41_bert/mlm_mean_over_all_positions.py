"""mlm_loss divides the summed cross-entropy by the number of ALL positions, not by the number of
labelled ones."""

BREAKS = "mlm_loss"


def mlm_loss(logits, labels):
    if ((labels != -100) & ((labels < 0) | (labels >= logits.shape[-1]))).any():
        raise ValueError("labels must be -100 or in 0 .. V-1")
    labelled = labels != -100
    log_probs = torch.log_softmax(logits, dim=-1)  # noqa: F821
    nll = -log_probs.gather(-1, torch.where(labelled, labels, 0)[..., None])[..., 0]  # noqa: F821
    return torch.where(labelled, nll, 0.0).sum() / labels.numel()  # noqa: F821
