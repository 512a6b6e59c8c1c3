"""perplexity takes 2 ** loss — the perplexity of a loss in bits — but lm_loss is in nats: exp(loss)."""

BREAKS = "perplexity"


def perplexity(loss):
    return float(2.0 ** float(loss))
