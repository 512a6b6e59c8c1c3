"""mlm_loss returns a fresh ``torch.tensor(0.0)`` when no position is labelled: float32 whatever the
logits' dtype, and not connected to the logits (``loss.backward()`` fails)."""

BREAKS = "mlm_loss"


def mlm_loss(logits, labels):
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)  # noqa: F821
    if tuple(labels.shape) != tuple(logits.shape[:-1]) or labels.is_floating_point():
        raise ValueError("labels must be integer with shape logits.shape[:-1]")
    V = logits.shape[-1]
    labelled = labels != -100
    if ((labels[labelled] < 0) | (labels[labelled] >= V)).any():
        raise ValueError("labels must be -100 or in 0 .. V-1")
    if not labelled.any():
        return torch.tensor(0.0)  # noqa: F821
    log_probs = torch.log_softmax(logits[labelled], dim=-1)  # noqa: F821
    return -log_probs.gather(-1, labels[labelled][:, None]).mean()
