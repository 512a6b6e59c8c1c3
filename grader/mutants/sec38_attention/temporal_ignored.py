# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memnet_answer ignores the temporal encodings T_A and T_C."""

BREAKS = "memnet_answer"


def memnet_answer(story, question, params):
    story, question = np.asarray(story), np.asarray(question)
    if story.ndim != 3:
        raise ValueError("story must have shape (B, N, W)")
    N, D = story.shape[1], np.shape(params["A"])[1]
    for name in ("T_A", "T_C"):
        if params.get(name) is not None and np.shape(params[name]) != (N, D):
            raise ValueError(f"{name} must have shape (N, D)")
    m = bag_of_words(story, params["A"])  # wrong: + T_A forgotten
    c = bag_of_words(story, params["C"])  # wrong: + T_C forgotten
    u = bag_of_words(question, params["B"])
    o, p = memory_attention(u, m, c)
    return (o + u) @ params["W_out"], p
