"""The training tasks learn on the reference solutions, with margin over the thresholds that the
grader and the notebooks promise:

* §39 ``train_reversal_attention``: held-out exact-sequence accuracy ≥ 0.8 and anti-diagonal
  attention ≥ 90 % (graded); the same model without attention is clearly worse on long sequences;
* §42 ``tiny_gpt``: greedy exact match ≥ 95 % on sorting; the MoE twin too, and the load-balancing
  loss keeps the expert load from collapsing;
* §37 ``char_lm``: the character RNN learns the poem and ``rnn_generate`` writes it back.

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
def test_char_lm_learns_the_poem(char_lm, seed):
    lm = char_lm.train_char_lm(seed=seed)
    next_char = char_lm.next_char_accuracy(lm)
    lines = char_lm.line_completion_accuracy(lm)
    print(f"seed {seed}: next char {next_char:.3f}, lines completed {lines:.3f}, {lm['seconds']:.1f} s")
    assert next_char >= 0.9, next_char
    assert lines >= 0.75, lines
    assert char_lm.generate_text(lm, "雨ニ", 11) == "雨ニモマケズ\n風ニモマケズ"
    assert lm["seconds"] <= 20 * SHARED, lm["seconds"]


def test_char_lm_numpy_weights_match_the_torch_model(char_lm):
    torch.manual_seed(0)
    model = char_lm.CharRNN(7, 4, 5).double()
    params = model.numpy_params()
    ids = torch.tensor([[3, 1, 4, 1, 5, 6]])
    expected = model(ids)[0, -1].detach().numpy()
    h = np.zeros(5)
    for i in ids[0].tolist():
        h = np.tanh(params["E"][i] @ params["W_x"] + h @ params["W_h"] + params["b"])
    np.testing.assert_allclose(h @ params["W_out"] + params["b_out"], expected, rtol=1e-10, atol=1e-12)
    sampled = char_lm.generate_text({"params": params, "chars": list("abcdefg")}, "ab", 5, temperature=1.0, seed=3)
    assert len(sampled) == 7 and sampled.startswith("ab")
