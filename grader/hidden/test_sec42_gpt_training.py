"""Hidden tests for §42 "Beyond the book": a tiny GPT built from the student's functions learns to
sort digits (never shipped to students).

The submission's given ``train_sorting_gpt`` trains with the student's ``gpt_forward`` (dense) or
``moe_layer`` and ``load_balancing_loss`` (MoE). The returned weights are judged on sequences that
this file draws itself, decoded greedily by the *reference* model (``gpt_ref.greedy_sort``), so only
weights that really learned the task pass. Thresholds: greedy exact match ≥ 0.5 / ≥ 0.95 (dense);
for the MoE twin, started from a router biased towards expert 0, the load measured by the reference
on held-out data must be spread over the experts (max ≤ 1.6/E, min ≥ 0.5/E; without the loss the
max stays ≥ 0.6) — the load-balancing
loss at work — and at least half the sequences sorted.

The contract lists the tiny GPT as a bonus exercise worth 0 points: every test is tagged
``train_sorting_gpt`` with ``points=0``, so it is reported (passed / failed) without changing the
section's total.
"""

import contextlib

import numpy as np
import pytest
import torch

# a training entry point: no array arguments, so the dtype convention has nothing to compare with;
# inputs unchanged and no global randomness are still checked
from grader.calls import call_exercise
from grader.checks import check_finite, check_shape, check_tensor
from grader.hidden.training import CPU_LIMITS, trained_once

EXERCISE = "train_sorting_gpt"
CPU_LIMIT = CPU_LIMITS["train_sorting_gpt"]  # CPU-seconds of the dense training (the reference: ~5-7)
N_HELD_OUT = 500
MOE_STEPS = 100  # enough for the load-balancing loss to undo the skewed start (the sorting needs more)


@pytest.fixture(scope="module")
def trained(gpt, seed):
    kwargs = dict(seed=seed)
    run = lambda: call_exercise(gpt, "train_sorting_gpt", kwargs=kwargs, check_dtypes=False)  # noqa: E731
    return trained_once(gpt, "train_sorting_gpt", kwargs, run)


@pytest.fixture(scope="module")
def trained_moe(gpt, seed):
    kwargs = dict(seed=seed, use_moe=True, router_skew=4.0, steps=MOE_STEPS)
    run = lambda: call_exercise(gpt, "train_sorting_gpt", kwargs=kwargs, check_dtypes=False)  # noqa: E731
    return trained_once(gpt, "train_sorting_gpt", kwargs, run)


@pytest.fixture(scope="module")
def held_out(seed):
    """Sorting sequences the training never saw: ``(prompts (n, 7), sorted digits (n, 6))``."""
    rng = np.random.default_rng([seed, 42, 7])
    digits = rng.integers(0, 10, size=(N_HELD_OUT, 6))
    prompts = np.concatenate([digits, np.full((N_HELD_OUT, 1), 10)], axis=1)
    return torch.from_numpy(prompts), torch.from_numpy(np.sort(digits, axis=1))


@contextlib.contextmanager
def one_thread():
    """Small matrices: one PyTorch thread is much faster on a busy machine (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def check_tree(value, reference, where):
    """``value`` has the nested layout of ``reference`` with finite tensors of the same shapes."""
    if isinstance(reference, torch.Tensor):
        check_tensor(value, where)
        check_shape(value, reference.shape, where)
        check_finite(value, where)
    elif isinstance(reference, dict):
        assert isinstance(value, dict) and set(value) == set(reference), (
            f"{where} should be a dict with the keys {sorted(reference)} (do not change the given code)"
        )
        for key in reference:
            check_tree(value[key], reference[key], f"{where}[{key!r}]")
    else:
        assert isinstance(value, (list, tuple)) and len(value) == len(reference), (
            f"{where} should be a list of {len(reference)} items (do not change the given code)"
        )
        for i, (v, r) in enumerate(zip(value, reference)):
            check_tree(v, r, f"{where}[{i}]")


def checked_params(result, gpt_ref, use_moe=False):
    assert isinstance(result, dict) and "params" in result, (
        "train_sorting_gpt should return a dict with the key 'params' (do not change the given code)"
    )
    reference = gpt_ref.init_sort_params(use_moe=use_moe)
    check_tree(result["params"], reference, "params")
    return result["params"]


def exact_match(params, held_out, gpt_ref):
    prompts, target = held_out
    out = gpt_ref.greedy_sort(params, prompts)  # the reference decodes the returned weights
    return float((out == target).all(dim=1).float().mean())


@pytest.fixture(scope="module")
def accuracy(trained, held_out, gpt_ref):
    return exact_match(checked_params(trained.get(), gpt_ref), held_out, gpt_ref)


def fetch(trained, request, name):
    trained.get()  # the training's own error first (e.g. "not implemented yet")
    return request.getfixturevalue(name)


@pytest.mark.exercise(EXERCISE, points=0)
def test_sorting_training_returns_weights_and_falling_losses(trained, gpt_ref):
    # contract: plain data back, in gpt_forward's layout; the loss falls to under a third
    result = trained.get()
    checked_params(result, gpt_ref)
    losses = np.asarray(result.get("losses", []), dtype=np.float64)
    assert losses.ndim == 1 and losses.size >= 40 and np.all(np.isfinite(losses)), (
        "train_sorting_gpt should return 'losses', one finite float per training step"
    )
    first, last = losses[:20].mean(), losses[-20:].mean()
    assert last < first / 3, f"the sorting loss fell only from {first:.3f} to {last:.3f}: is gpt_forward right?"


@pytest.mark.exercise(EXERCISE, points=0)
def test_sorting_exact_match_at_least_half(trained, request):
    # threshold: greedy decoding (by the reference) sorts >= 50 % of held-out sequences exactly
    value = fetch(trained, request, "accuracy")
    assert value >= 0.5, f"held-out exact match {value:.3f} < 0.5"


@pytest.mark.exercise(EXERCISE, points=0)
def test_sorting_exact_match_at_least_0_95(trained, request, record_property):
    # threshold of the contract: >= 95 % of held-out sequences sorted exactly by greedy decoding
    value = fetch(trained, request, "accuracy")
    record_property("info", f"held-out exact match {value:.3f}")
    assert value >= 0.95, f"held-out exact match {value:.3f} < 0.95"


@pytest.mark.exercise(EXERCISE, points=0)
def test_sorting_training_time(trained, request, record_property):
    # limit: CPU_LIMIT CPU-seconds of the worker that trained (wall time grows with the machine's load)
    fetch(trained, request, "accuracy")  # time counts only for a training that learned the task
    record_property("info", f"training took {trained.cpu_seconds:.1f} CPU-s ({trained.seconds:.1f} s wall)")
    trained.within(CPU_LIMIT, "train_sorting_gpt", ": is gpt_forward looping in Python?")


@pytest.mark.exercise(EXERCISE, points=0)
def test_moe_load_balancing_spreads_the_load(trained_moe, held_out, gpt_ref):
    # property (Switch Transformer): from a router biased towards expert 0, the load-balancing loss
    # spreads the held-out assignments (measured by the reference) near 1/E per expert (reference: max <= 0.33)
    result = trained_moe.get()
    params = checked_params(result, gpt_ref, use_moe=True)
    with torch.no_grad(), one_thread():
        sequences = torch.cat([held_out[0], held_out[1][:, :-1]], dim=1)  # (n, 12): every position the model reads
        _, _, load = gpt_ref.moe_gpt_forward(sequences, params, gpt_ref.SORT_HEADS)
    E = load.numel()
    assert float(load.max()) <= 1.6 / E and float(load.min()) >= 0.5 / E, (
        f"expert load on held-out data {[round(x, 3) for x in load.tolist()]} is far from uniform (1/{E} each): "
        "do load_balancing_loss and moe_layer pass their tests?"
    )


@pytest.mark.exercise(EXERCISE, points=0)
def test_moe_gpt_learns_to_sort(trained_moe, held_out, gpt_ref):
    # threshold: after the short MoE run, >= 50 % of held-out sequences sorted exactly
    value = exact_match(checked_params(trained_moe.get(), gpt_ref, use_moe=True), held_out, gpt_ref)
    assert value >= 0.5, f"held-out exact match of the MoE GPT {value:.3f} < 0.5"
