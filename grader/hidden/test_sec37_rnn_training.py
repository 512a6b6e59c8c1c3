"""Hidden tests for §37: the student's ``rnn_generate`` writes with a trained character language
model (fig 37-5) (never shipped to students).

The submission's given ``train_char_lm`` trains a character RNN (PyTorch) on sentences of a seeded
grammar, "<subject>が<object>を<verb>。" with the verb fitting the object, and returns the weights
in ``rnn_generate``'s layout. The tests then use the student's ``rnn_generate`` on those weights:

* its greedy continuations of held-out prompts equal the reference's (``rnn_ref.rnn_generate``) on
  the same weights (1 point);
* used as a predictor (``n_new=1``), it gets ≥ 0.85 of the next characters of held-out sentences
  right, each sentence read from ``h = 0`` after its first character (0.5 point; about 0.92 is the
  best possible, the object being a free choice);
* it continues "<subject>が<object>を" with the verb that fits the object for ≥ 8 of the 9 objects
  (0.5 point): the hidden state remembers the object across を.

Held-out sentences come from the reference's grammar with seeds the training does not use. All
tests are tagged ``rnn_generate``: the training is given, the generation is the student's.
"""

import numpy as np
import pytest
import torch  # noqa: F401  (imported before the first call, so that call's global-RNG check sees torch's state before and after)

from grader.calls import call, call_each
from grader.checks import check_finite, check_ndarray, check_shape
from grader.hidden.training import CPU_LIMITS, trained_once

EXERCISE = "rnn_generate"
CPU_LIMIT = CPU_LIMITS["train_char_lm"]  # CPU-seconds (the reference: ~2-4); a busy machine does not count
N_HELD_OUT = 30  # sentences for the next-character accuracy (one rnn_generate call per character)


@pytest.fixture(scope="module")
def trained(rnn, seed):
    return trained_once(rnn, "train_char_lm", dict(seed=seed), lambda: call(rnn, "train_char_lm", seed=seed))


def held_out_text(rnn_ref, seed, k, n):
    return rnn_ref.make_char_text(n, seed=10_000 + 97 * seed + k)  # the training uses make_char_text(., seed)


def checked_lm(trained, rnn_ref):
    """The returned weights and vocabulary, after checking their layout against the reference's."""
    lm = trained.get()
    assert isinstance(lm, dict) and "params" in lm and "chars" in lm, (
        "train_char_lm should return a dict with 'params' and 'chars' (do not change the given code)"
    )
    chars = list(lm["chars"])
    assert chars == rnn_ref.char_vocab(), "the 'chars' returned by train_char_lm should be char_vocab()"
    V = len(chars)
    params = lm["params"]
    assert isinstance(params, dict) and set(params) == {"E", "W_x", "W_h", "b", "W_out", "b_out"}, (
        "train_char_lm should return params with the keys E, W_x, W_h, b, W_out, b_out"
    )
    H = np.shape(params["W_h"])[0]
    D = np.shape(params["E"])[-1]
    shapes = {"E": (V, D), "W_x": (D, H), "W_h": (H, H), "b": (H,), "W_out": (H, V), "b_out": (V,)}
    for name, shape in shapes.items():
        check_ndarray(params[name], f"params[{name!r}]")
        check_shape(params[name], shape, f"params[{name!r}]")
        check_finite(params[name], f"params[{name!r}]")
    return params, {c: i for i, c in enumerate(chars)}


@pytest.mark.exercise(EXERCISE, points=1)
def test_greedy_continuations_match_the_reference(trained, rnn, rnn_ref, seed):
    # oracle: rnn_ref.rnn_generate on the same trained weights (greedy), prompts from held-out sentences
    params, index = checked_lm(trained, rnn_ref)
    lines = held_out_text(rnn_ref, seed, 1, 8).splitlines()
    for i, line in enumerate(lines):
        prompt = [index[c] for c in line[: 1 + i % 5]]
        got = call(rnn, "rnn_generate", prompt, 20, params)
        expected = rnn_ref.rnn_generate(prompt, 20, params)
        assert [int(t) for t in got] == expected, (
            f"greedy rnn_generate with trained weights differs from the reference for a prompt of {len(prompt)} "
            "characters: is the prompt fed from h = 0 and each new id fed back?"
        )


@pytest.mark.exercise(EXERCISE, points=0.5)
def test_next_character_accuracy_on_held_out_sentences(trained, rnn, rnn_ref, seed, record_property):
    # threshold: rnn_generate(prefix, 1) predicts >= 85 % of the next characters of held-out sentences
    params, index = checked_lm(trained, rnn_ref)
    # (prefix, next id) for every position of every held-out sentence; the first few calls checked
    pairs = [(ids[:t], ids[t]) for line in held_out_text(rnn_ref, seed, 2, N_HELD_OUT).splitlines(keepends=True)
             for ids in [[index[c] for c in line]] for t in range(1, len(ids))]  # fmt: skip
    got = call_each(rnn, "rnn_generate", [((prefix, 1, params), {}) for prefix, _ in pairs])
    right = sum(int(list(g) == [nxt]) for g, (_, nxt) in zip(got, pairs))
    accuracy = right / len(pairs)
    record_property("info", f"next-character accuracy {accuracy:.3f} (training took {trained.cpu_seconds:.1f} CPU-s)")
    assert accuracy >= 0.85, (
        f"next-character accuracy of greedy rnn_generate on held-out sentences {accuracy:.3f} < 0.85"
    )


@pytest.mark.exercise(EXERCISE, points=0.5)
def test_the_verb_fits_the_object(trained, rnn, rnn_ref, seed):
    # property of the grammar: after "<subject>が<object>を" greedy generation writes the fitting verb
    params, index = checked_lm(trained, rnn_ref)
    rng = np.random.default_rng([seed, 37, 5])
    right = total = 0
    for verb, objects in rnn_ref.GRAMMAR_OBJECTS.items():
        for obj in objects:
            subject = rnn_ref.GRAMMAR_SUBJECTS[rng.integers(len(rnn_ref.GRAMMAR_SUBJECTS))]
            prompt = [index[c] for c in f"{subject}が{obj}を"]
            got = call(rnn, "rnn_generate", prompt, len(verb) + 1, params)
            right += int([int(t) for t in got] == [index[c] for c in verb + "。"])
            total += 1
    assert right >= total - 1, (
        f"greedy rnn_generate wrote the verb that fits the object for only {right} of {total} objects"
    )
    trained.within(CPU_LIMIT, "train_char_lm", ": is rnn_generate or the given code changed to loop in Python?")
