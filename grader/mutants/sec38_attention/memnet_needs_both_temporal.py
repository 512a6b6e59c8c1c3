# ruff: noqa: F821  (executed on top of the reference namespace: np and helpers come from there)
"""memnet_answer adds both temporal encodings as soon as T_A is there, so a params dict with T_A
but without T_C fails (KeyError) instead of using T_A alone."""

BREAKS = "memnet_answer"


def memnet_answer(story, question, params):
    story, question = np.asarray(story), np.asarray(question)
    if story.ndim != 3:
        raise ValueError("story must have shape (B, N, W)")
    if question.ndim != 2 or question.shape[0] != story.shape[0]:
        raise ValueError("question must have shape (B, Wq)")
    N, D = story.shape[1], np.shape(params["A"])[1]
    m, c = bag_of_words(story, params["A"]), bag_of_words(story, params["C"])
    if "T_A" in params:  # wrong: T_C assumed to come with T_A
        for name in ("T_A", "T_C"):
            if np.shape(params[name]) != (N, D):
                raise ValueError(f"{name} must have shape (N, D)")
        m = m + params["T_A"]
        c = c + params["T_C"]
    u = bag_of_words(question, params["B"])
    o, p = memory_attention(u, m, c)
    return ((o + u) @ params["W_out"]).astype(m.dtype), p
