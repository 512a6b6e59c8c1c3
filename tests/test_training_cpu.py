"""Public check of the given trainings (§37, §39, §42): each learns (its loss falls) within the CPU
time the grader allows. Run: `pytest tests/test_training_cpu.py` (about 15 s once your functions
work; an unfinished function fails at once with "not implemented yet").

The limits are CPU-seconds of the process that trains (`grader/trained.py`, `CPU_LIMITS`), not wall
time: a busy machine makes the training slower on the clock but not in CPU time, so it cannot fail
a correct submission. A training over its limit usually means a Python loop where a tensor
operation belongs. The hidden tests judge what the trained models can do; these tests carry no
points.
"""

import numpy as np

from grader.calls import call, call_exercise
from grader.trained import CPU_LIMITS, trained_once


def falling(losses, what: str) -> None:
    losses = np.asarray(losses, dtype=np.float64)
    assert losses.ndim == 1 and losses.size >= 40 and np.all(np.isfinite(losses)), (
        f"{what} should return 'losses', one finite float per training step"
    )
    first, last = losses[:20].mean(), losses[-20:].mean()
    assert last < first / 2, f"the loss of {what} fell only from {first:.3f} to {last:.3f}"


def test_sec37_char_lm_trains_within_its_cpu_limit(rnn, seed):
    # limit: CPU_LIMITS["train_char_lm"] CPU-seconds; oracle: the loss halves on the seeded grammar, and
    # your rnn_generate writes 20 characters of the trained model's vocabulary
    trained = trained_once(rnn, "train_char_lm", dict(seed=seed), lambda: call(rnn, "train_char_lm", seed=seed))
    result = trained.get()
    falling(result["losses"], "train_char_lm")
    trained.within(CPU_LIMITS["train_char_lm"], "train_char_lm", ": does rnn_generate or the RNN loop in Python?")
    new = call(rnn, "rnn_generate", [1, 2], 20, result["params"])
    assert len(new) == 20 and all(0 <= int(i) < len(result["chars"]) for i in new), (
        "rnn_generate on the trained model should give 20 ids of its vocabulary"
    )


def test_sec39_reversal_trains_within_its_cpu_limit(attention_math, seed):
    # limit: CPU_LIMITS["train_reversal_attention"] CPU-seconds (the contract's 15 s); oracle: the loss halves
    name = "train_reversal_attention"
    trained = trained_once(attention_math, name, dict(seed=seed), lambda: call(attention_math, name, seed=seed))
    falling(trained.get()["losses"], name)
    trained.within(CPU_LIMITS[name], name, ": is the attention step looping in Python?")


def test_sec42_sorting_gpt_trains_within_its_cpu_limit(gpt, seed):
    # limit: CPU_LIMITS["train_sorting_gpt"] CPU-seconds of the dense model; oracle: the loss halves
    kwargs = dict(seed=seed)
    run = lambda: call_exercise(gpt, "train_sorting_gpt", kwargs=kwargs, check_dtypes=False)  # noqa: E731
    trained = trained_once(gpt, "train_sorting_gpt", kwargs, run)
    falling(trained.get()["losses"], "train_sorting_gpt")
    trained.within(CPU_LIMITS["train_sorting_gpt"], "train_sorting_gpt", ": is gpt_forward looping in Python?")
