"""mlm_loss checks only ``labels < V``: a negative label other than -100 is not rejected with a
ValueError (gather fails with an IndexError-like RuntimeError instead)."""

BREAKS = "mlm_loss"


def mlm_loss(logits, labels):
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)  # noqa: F821
    if tuple(labels.shape) != tuple(logits.shape[:-1]) or labels.is_floating_point():
        raise ValueError("labels must be integer with shape logits.shape[:-1]")
    V = logits.shape[-1]
    labelled = labels != -100
    if (labels >= V).any():
        raise ValueError("labels must be -100 or in 0 .. V-1")
    log_probs = torch.log_softmax(logits, dim=-1)  # noqa: F821
    target = torch.where(labelled, labels, 0).long()  # noqa: F821
    nll = -log_probs.gather(-1, target[..., None])[..., 0]
    return torch.where(labelled, nll, 0.0).sum() / labelled.sum().clamp(min=1)  # noqa: F821
