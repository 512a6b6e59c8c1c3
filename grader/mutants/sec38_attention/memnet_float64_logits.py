# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memnet_answer computes in float64 (np.zeros accumulators) and returns float64 logits and p
for float32 embeddings."""

BREAKS = "memnet_answer"


def memnet_answer(story, question, params):
    story, question = np.asarray(story), np.asarray(question)
    if story.ndim != 3:
        raise ValueError("story must have shape (B, N, W)")
    if question.ndim != 2 or question.shape[0] != story.shape[0]:
        raise ValueError("question must have shape (B, Wq)")
    N, D = story.shape[1], np.shape(params["A"])[1]
    A, Bq, C = (np.asarray(params[k], dtype=np.float64) for k in "ABC")  # wrong: float64
    m, c = bag_of_words(story, A), bag_of_words(story, C)
    for name, mem in (("T_A", m), ("T_C", c)):
        if params.get(name) is not None:
            if np.shape(params[name]) != (N, D):
                raise ValueError(f"{name} must have shape (N, D)")
            mem += params[name]
    u = bag_of_words(question, Bq)
    o, p = memory_attention(u, m, c)
    return (o + u) @ np.asarray(params["W_out"], dtype=np.float64), p
