"""mlm_loss replaces the -100 labels by 0 in the caller's tensor (``labels[labels == -100] = 0``) instead
of on a copy."""

BREAKS = "mlm_loss"


def mlm_loss(logits, labels):
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)  # noqa: F821
    if tuple(labels.shape) != tuple(logits.shape[:-1]) or labels.is_floating_point():
        raise ValueError("labels must be integer with shape logits.shape[:-1]")
    V = logits.shape[-1]
    labelled = labels != -100
    if ((labels[labelled] < 0) | (labels[labelled] >= V)).any():
        raise ValueError("labels must be -100 or in 0 .. V-1")
    labels[~labelled] = 0  # in place
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, labels.long()[..., None])[..., 0]  # noqa: F821
    return (nll * labelled).sum() / labelled.sum().clamp(min=1)
