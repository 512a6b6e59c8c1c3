"""mlm_loss calls torch.nn.functional.cross_entropy(ignore_index=-100), the library shortcut that
does the masked mean the exercise teaches. The numbers are right (no labels -> 0.0 is special-cased),
so the forbidden-call rule, not the tests, must zero it."""

BREAKS = "mlm_loss"
FORBIDDEN = True


def mlm_loss(logits, labels):
    if ((labels != -100) & ((labels < 0) | (labels >= logits.shape[-1]))).any():
        raise ValueError("labels must be -100 or in 0 .. V-1")
    if not (labels != -100).any():
        return (logits * 0).sum()
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)  # noqa: F821
