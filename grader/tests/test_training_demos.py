"""The training tasks learn on the reference solutions, with margin over the thresholds that the
grader and the notebooks promise:

* §39 ``train_reversal_attention``: held-out exact-sequence accuracy ≥ 0.8 and anti-diagonal
  attention ≥ 90 % (graded); the same model without attention is clearly worse on long sequences;
* §42 ``train_sorting_gpt`` (via ``tiny_gpt``): greedy exact match ≥ 95 % on sorting; the MoE twin too, and the load-balancing
  loss keeps the expert load from collapsing;
* §37 ``train_char_lm`` (via ``char_lm``): the character RNN learns the grammar of the generated
  text (next-character accuracy, the verb that fits the object) and ``rnn_generate`` writes with it.

By default each task runs on one seed (about a minute in all). ``COURSE_TRAINING_SEEDS=5`` runs
seeds 0..4 (the release check: every threshold with margin on 5 seeds).
"""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest
import torch

from grader.sections import SOLUTIONS
from grader.targets import load_module_file

SEEDS = list(range(int(os.environ.get("COURSE_TRAINING_SEEDS", "1"))))
# the time limits (15 s for §39, 20 s for the others) hold on 2 idle cores; the machine that runs
# these tests may be shared, so the checks here only catch gross slowdowns (the benchmark reports)
SHARED = 3.0


def load_given(section: str, name: str):
    """A given-code module that imports its section module by plain name (as in a notebook)."""
    folder = str(SOLUTIONS / section)
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


@pytest.fixture(scope="module")
def attention_math():
    return load_module_file(SOLUTIONS / "sec39_attention_math" / "attention_math.py", "attention_math")


@pytest.fixture(scope="module")
def tiny_gpt():
    return load_given("sec42_gpt", "tiny_gpt")


@pytest.fixture(scope="module")
def char_lm():
    return load_given("sec37_rnn", "char_lm")


# --- §39 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_reversal_with_attention_beats_without(attention_math, seed):
    result = attention_math.compare_attention(seed=seed, n_test=600)
    with_att, without = result["with_attention"], result["without_attention"]
    print(f"seed {seed}: with attention {with_att}, without {without}")
    assert with_att["accuracy"] >= 0.9, with_att  # graded threshold 0.8
    assert with_att["anti_diagonal"] >= 0.95, with_att  # graded threshold 0.9
    assert with_att["seconds"] <= 15 * SHARED, with_att
    # without attention the decoder must hold the whole source in one state: long sequences fail
    assert without["accuracy_by_length"][10] <= with_att["accuracy_by_length"][10] - 0.3, (with_att, without)
    assert without["accuracy"] < with_att["accuracy"] - 0.1


def test_reversal_training_is_deterministic_and_leaves_global_state(attention_math):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = attention_math.train_reversal_attention(seed=7, steps=5)
    b = attention_math.train_reversal_attention(seed=7, steps=5)
    assert a["losses"] == b["losses"]
    for name in a["weights"]:
        assert torch.equal(a["weights"][name], b["weights"][name]), name
    assert torch.equal(torch.get_rng_state(), before), "the caller's random state changed"
    assert torch.get_num_threads() == threads


def test_reversal_data_is_the_reversal(attention_math):
    data = attention_math.make_reversal_data(50, seed=3)
    for src, mask, tgt, n in zip(data["src"], data["src_mask"], data["tgt"], data["lengths"]):
        assert mask.sum() == n and (src[~mask] == attention_math.PAD).all()
        assert tgt[:n].tolist() == src[:n].flip(0).tolist()
        assert tgt[n] == attention_math.EOS and (tgt[n + 1 :] == attention_math.PAD).all()


# --- §42 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_gpt_learns_to_sort(tiny_gpt, seed):
    result = tiny_gpt.train_sort_gpt(seed=seed)
    accuracy = tiny_gpt.sort_accuracy(result["params"], n=1000)
    print(f"seed {seed}: accuracy {accuracy:.3f} in {result['seconds']:.1f} s")
    assert accuracy >= 0.97, accuracy  # promised 0.95
    assert result["seconds"] <= 20 * SHARED, result["seconds"]


def test_batched_greedy_equals_gpt_generate(tiny_gpt):
    gpt = sys.modules["gpt"]
    params = tiny_gpt.train_sort_gpt(seed=0, steps=40)["params"]
    seq = tiny_gpt.make_sort_data(4, seed=5)
    prompts = seq[:, : tiny_gpt.N_DIGITS + 1]
    batched = tiny_gpt.greedy_sort(params, prompts)
    for prompt, out in zip(prompts, batched):
        alone = gpt.generate(prompt, params, tiny_gpt.N_HEADS, tiny_gpt.N_DIGITS)
        assert alone.tolist() == out.tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_moe_load_balancing_keeps_experts_busy(tiny_gpt, seed):
    result = tiny_gpt.compare_load_balancing(seed=seed)
    with_loss, without = result["with_loss"], result["without_loss"]
    print(f"seed {seed}: with the loss {with_loss}, without {without}")
    n_experts = len(with_loss["expert_load"])
    assert np.isclose(sum(with_loss["expert_load"]), 1.0)
    assert with_loss["max_load"] <= 1.5 / n_experts, with_loss  # near uniform (1/E each)
    assert min(with_loss["expert_load"]) >= 0.5 / n_experts, with_loss
    assert without["max_load"] >= 0.5, without  # the skewed start stays collapsed without the loss
    assert with_loss["accuracy"] >= 0.95 and without["accuracy"] >= 0.95, (with_loss, without)
    assert with_loss["seconds"] <= 20 * SHARED, with_loss


# --- §37 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_char_lm_learns_the_grammar(char_lm, seed):
    lm = char_lm.train_char_lm(seed=seed)
    next_char = char_lm.next_char_accuracy(lm)
    verbs = char_lm.verb_accuracy(lm)
    print(f"seed {seed}: next char {next_char:.3f}, verbs {verbs:.3f}, {lm['seconds']:.1f} s")
    assert next_char >= 0.87, next_char  # graded threshold 0.85 (about 0.92 is the best possible)
    assert verbs >= 0.95, verbs  # graded: 8 of 9 objects
    assert char_lm.generate_text(lm, "ねこがみ", 6) == "ねこがみずをのむ。\n"
    assert lm["seconds"] <= 20 * SHARED, lm["seconds"]


def test_char_lm_training_is_deterministic_and_leaves_global_state(char_lm):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = char_lm.train_char_lm(seed=7, steps=5)
    b = char_lm.train_char_lm(seed=7, steps=5)
    assert a["losses"] == b["losses"]
    for name, value in a["params"].items():
        assert value.dtype == np.float64 and np.array_equal(value, b["params"][name]), name
    assert torch.equal(torch.get_rng_state(), before), "the caller's random state changed"
    assert torch.get_num_threads() == threads


def test_char_lm_text_follows_the_grammar(char_lm):
    rnn = sys.modules["rnn"]
    text = char_lm.load_text(50, seed=3)
    assert text == char_lm.load_text(50, seed=3) and text != char_lm.load_text(50, seed=4)
    verb_of = {obj: verb for verb, objects in rnn.GRAMMAR_OBJECTS.items() for obj in objects}
    for line in text.splitlines():
        subject, rest = line.split("が", 1)
        obj, verb = rest.removesuffix("。").split("を")
        assert subject in rnn.GRAMMAR_SUBJECTS and verb_of[obj] == verb, line
    assert set(text) <= set(char_lm.build_vocab())
    sampled = char_lm.generate_text(char_lm.train_char_lm(seed=0, steps=5), "ね", 5, temperature=1.0, seed=3)
    assert len(sampled) == 6 and sampled.startswith("ね")
