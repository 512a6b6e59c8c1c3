"""Hidden tests for §39 in PyTorch: the attention step, and the encoder–decoder trained with it
(never shipped to students).

The attention step is compared with torch.nn.functional.scaled_dot_product_attention in float64
(seeded random shapes, leading batch dimensions, padding masks). The training task is judged on
held-out sequences that this file draws itself: the weights returned by the submission's
``train_reversal_attention`` are decoded by the *reference* model and attention
(``attention_math_ref.reversal_decode``), so only weights that really learned the task score.
Partial credit by thresholds: exact-sequence accuracy ≥ 0.5 / ≥ 0.8, anti-diagonal attention
(argmax of each output step on the mirrored source position) ≥ 0.7 / ≥ 0.9, training time.

Every test is tagged with the exercise the student writes, ``reversal_attention_step``: the rest of
the training code is given, so a broken attention step is what makes the training fail. Calls go
through ``grader.calls.call`` (arguments unmodified, float32 in → float32 out, global random
generators untouched: the training seeds only its own generators).
"""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.calls import call, call_with_grad
from grader.checks import CheckFailure, check_close, check_dtype, check_finite, check_shape, check_tensor
from grader.hidden.training import CPU_LIMITS, trained_once

EXERCISE = "reversal_attention_step"
F64 = dict(rtol=1e-7, atol=1e-12)
F32 = dict(rtol=1e-4, atol=1e-5)
CPU_LIMIT = CPU_LIMITS["train_reversal_attention"]  # the contract's 15 s, in CPU-seconds (the reference: ~3-4)
N_HELD_OUT = 600


def rng_for(seed, k):
    return np.random.default_rng([seed, 39, 4, k])


def expect_value_error(target, fn_name, name, *args, pattern=None, **kwargs):
    """``call(target, fn_name, *args, **kwargs)`` must raise ValueError whose message names ``name``
    as a word (``pattern``: a regular expression for it). The grader writes the failure message:
    the submission's own text is never shown."""
    __tracebackhide__ = True
    try:
        call(target, fn_name, *args, **kwargs)
    except ValueError as e:
        if not re.search(rf"\b(?:{pattern or re.escape(name)})\b", str(e)):
            raise CheckFailure(f"{fn_name} raised ValueError, but its message should name {name}") from None
        return
    raise CheckFailure(f"{fn_name} should raise ValueError (naming {name}) for these arguments")


def random_case(seed, k, lead, Tq, S, H, dtype=torch.float64):
    rng = rng_for(seed, k)
    dec = torch.from_numpy(rng.normal(size=(*lead, Tq, H))).to(dtype)
    enc = torch.from_numpy(rng.normal(size=(*lead, S, H))).to(dtype)
    lengths = rng.integers(1, S + 1, size=lead)
    mask = torch.from_numpy(np.arange(S) < lengths[..., None])  # (*lead, S), at least one real token
    return dec, enc, mask


def oracle(dec, enc, mask=None):
    """PyTorch's attention in float64 with keys = values = enc_states; mask (..., S) over the keys."""
    m = None if mask is None else mask.unsqueeze(-2).expand(*dec.shape[:-1], enc.shape[-2])
    args = [t.double() for t in (dec, enc, enc)]
    out = F.scaled_dot_product_attention(*args, attn_mask=m)
    scores = dec.double() @ enc.double().transpose(-1, -2) / dec.shape[-1] ** 0.5
    if m is not None:
        scores = scores.masked_fill(~m, float("-inf"))
    return out, torch.softmax(scores, dim=-1)


# --- the attention step ---------------------------------------------------------------------


@pytest.mark.exercise(EXERCISE, points=2)
@pytest.mark.parametrize("lead, Tq, S, H", [((3,), 1, 5, 4), ((2,), 6, 4, 8), ((2, 3), 4, 7, 5)])
def test_attention_step_matches_torch_float64(attention_math, seed, lead, Tq, S, H):
    # oracle: F.scaled_dot_product_attention(dec, enc, enc, attn_mask=mask) in float64
    dec, enc, mask = random_case(seed, 1, lead, Tq, S, H)
    context, weights = call(attention_math, "reversal_attention_step", dec, enc, mask)
    check_tensor(context, "context")
    check_tensor(weights, "weights")
    expected_context, expected_weights = oracle(dec, enc, mask)
    check_close(weights, expected_weights, f"weights for batch {lead}, Tq={Tq}, S={S}", **F64)
    check_close(context, expected_context, f"context for batch {lead}, Tq={Tq}, S={S}", **F64)


@pytest.mark.exercise(EXERCISE, points=1)
def test_attention_step_without_batch_dims(attention_math, seed):
    # contract (docstring): (..., Tq, H) allows no leading dims: dec (Tq, H), enc (S, H), mask (S,)
    dec, enc, mask = random_case(seed, 10, (), 3, 5, 4)
    context, weights = call(attention_math, "reversal_attention_step", dec, enc, mask)
    expected_context, expected_weights = oracle(dec, enc, mask)
    check_close(weights, expected_weights, "weights for 2-D states and a 1-D mask", **F64)
    check_close(context, expected_context, "context for 2-D states and a 1-D mask", **F64)


@pytest.mark.exercise(EXERCISE, points=1)
def test_attention_step_without_mask(attention_math, seed):
    # oracle: F.scaled_dot_product_attention without a mask, float64
    dec, enc, _ = random_case(seed, 2, (2,), 3, 6, 4)
    context, weights = call(attention_math, "reversal_attention_step", dec, enc)
    expected_context, expected_weights = oracle(dec, enc)
    check_close(weights, expected_weights, "weights without a mask", **F64)
    check_close(context, expected_context, "context without a mask", **F64)


@pytest.mark.exercise(EXERCISE, points=1)
def test_attention_step_float32_stays_float32(attention_math, seed):
    # oracle: the float64 result, float32 tolerance; convention: float32 in, float32 out
    dec, enc, mask = random_case(seed, 3, (4,), 5, 6, 8, dtype=torch.float32)
    context, weights = call(attention_math, "reversal_attention_step", dec, enc, mask)
    check_dtype(context, torch.float32, "context for float32 inputs")
    check_dtype(weights, torch.float32, "weights for float32 inputs")
    expected_context, expected_weights = oracle(dec, enc, mask)
    check_close(weights, expected_weights, "weights in float32", **F32)
    check_close(context, expected_context, "context in float32", **F32)


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)
def test_attention_step_padding_content_changes_nothing(attention_math, seed):
    # property: padded positions get weight exactly 0, so ±1e10 there changes nothing
    dec, enc, mask = random_case(seed, 4, (3,), 4, 6, 5)
    mask[:, -2:] = False
    poisoned = enc.clone()
    signs = torch.from_numpy(np.where(rng_for(seed, 7).random((3, 2, 5)) < 0.5, -1.0, 1.0))
    signs[0, 0, 0], signs[0, 0, 1] = 1.0, -1.0
    poisoned[:, -2:] = 1e10 * signs
    context, weights = call(attention_math, "reversal_attention_step", dec, poisoned, mask)
    expected_context, expected_weights = oracle(dec, enc, mask)
    check_close(
        weights[..., -2:], torch.zeros(3, 4, 2, dtype=torch.float64), "weights on padded positions", rtol=0, atol=0
    )
    check_close(weights, expected_weights, "weights when padded encoder states hold ±1e10", **F64)
    check_close(context, expected_context, "context when padded encoder states hold ±1e10", **F64)


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_attention_step_all_padding_gives_zeros(attention_math, seed, dtype):
    # convention: a query whose source is all padding gets weights 0 and context 0 (no NaN)
    dec, enc, mask = random_case(seed, 5, (2,), 3, 4, 4, dtype=dtype)
    mask[1] = False
    context, weights = call(attention_math, "reversal_attention_step", dec, enc, mask)
    check_finite(weights, "weights when one source is all padding")
    check_finite(context, "context when one source is all padding")
    check_close(weights[1], torch.zeros(3, 4), "weights of an all-padding source", rtol=0, atol=0)
    check_close(context[1], torch.zeros(3, 4), "context of an all-padding source", rtol=0, atol=0)
    _, expected_weights = oracle(dec[:1], enc[:1], mask[:1])
    tol = F64 if dtype == torch.float64 else F32
    check_close(weights[:1], expected_weights, "weights of the other source", **tol)


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)
def test_attention_step_does_not_modify_inputs(attention_math, seed):
    # convention: inputs are never modified (call() compares dec_states, enc_states, enc_mask with copies)
    dec, enc, mask = random_case(seed, 6, (2,), 3, 5, 4)
    mask[0, 1:] = False
    call(attention_math, "reversal_attention_step", dec, enc, mask)


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)
def test_attention_step_is_differentiable(attention_math, seed):
    # contract: the model is trained through the step; oracle: torch.autograd through F.scaled_dot_product_attention
    dec, enc, mask = random_case(seed, 8, (2,), 3, 5, 4)
    cotangent = torch.from_numpy(rng_for(seed, 9).normal(size=(2, 3, 4)))
    dec_ref, enc_ref = dec.clone().requires_grad_(True), enc.clone().requires_grad_(True)
    expected = torch.autograd.grad(oracle(dec_ref, enc_ref, mask)[0], [dec_ref, enc_ref], cotangent)
    _, grads = call_with_grad(
        attention_math, "reversal_attention_step", (dec, enc, mask), wrt=[dec, enc], output=0, cotangent=cotangent
    )
    for name, got, want in zip(("dec_states", "enc_states"), grads, expected):
        assert got is not None, (
            f"the context is not differentiable with respect to {name} (keep it in torch, no detach)"
        )
        check_close(got, want, f"gradient of the context with respect to {name}", **F64)


@pytest.mark.exercise(EXERCISE, points=0.4, needs_core=True)
@pytest.mark.parametrize(
    "case, name",
    [
        ("enc_width", "enc_states"),
        ("enc_rank", "enc_states"),
        ("dec_rank", "dec_states"),
        ("mask_length", "enc_mask"),
        ("mask_0d", "enc_mask"),
    ],
)
def test_attention_step_rejects_bad_shapes(attention_math, case, name):
    # contract: shapes that do not fit raise ValueError naming the argument
    dec, enc, mask = torch.zeros(2, 3, 4), torch.zeros(2, 5, 4), torch.ones(2, 5, dtype=torch.bool)
    if case == "enc_width":
        enc = torch.zeros(2, 5, 3)
    elif case == "enc_rank":
        enc = torch.zeros(4)
    elif case == "dec_rank":
        dec = torch.zeros(4)
    elif case == "mask_length":
        mask = torch.ones(2, 4, dtype=torch.bool)
    else:
        mask = torch.tensor(True)
    expect_value_error(attention_math, "reversal_attention_step", name, dec, enc, mask)


# --- the training task ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(attention_math, seed):
    run = lambda: call(attention_math, "train_reversal_attention", seed=seed)  # noqa: E731
    return trained_once(attention_math, "train_reversal_attention", dict(seed=seed), run)


@pytest.fixture(scope="module")
def held_out(seed):
    """Sequences the training never saw: lengths 3..10, symbols 3..12 (the default task)."""
    rng = rng_for(seed, 100)
    n, S = N_HELD_OUT, 10
    lengths = rng.integers(3, S + 1, size=n)
    src_mask = np.arange(S) < lengths[:, None]
    src = np.where(src_mask, rng.integers(3, 13, size=(n, S)), 0)
    return torch.from_numpy(src), torch.from_numpy(src_mask), torch.from_numpy(lengths)


def checked_weights(result, reference_weights):
    """The returned weights, after checking they are plain finite tensors of the model's shapes."""
    assert isinstance(result, dict) and "weights" in result, (
        "train_reversal_attention should return a dict with the key 'weights' (do not change the given code)"
    )
    weights = result["weights"]
    assert isinstance(weights, dict) and set(weights) == set(reference_weights), (
        "the 'weights' returned by train_reversal_attention should be the model's state_dict "
        "(do not change the given ReversalModel)"
    )
    for name, value in weights.items():
        check_tensor(value, f"weights[{name!r}]")
        check_shape(value, reference_weights[name].shape, f"weights[{name!r}]")
        check_finite(value, f"weights[{name!r}]")
    return weights


@pytest.fixture(scope="module")
def scores(trained, held_out, attention_math_ref):
    """Held-out accuracy and anti-diagonal share of the trained weights, decoded by the reference."""
    result = trained.get()
    reference_weights = attention_math_ref.ReversalModel(13, 32, 64).state_dict()
    weights = checked_weights(result, reference_weights)
    src, src_mask, lengths = held_out
    out = attention_math_ref.reversal_decode(weights, src, src_mask)
    ids, attention = out["ids"].numpy(), out["attention"].numpy()
    n, S = src.shape
    lengths = lengths.numpy()
    target = np.zeros((n, S + 1), dtype=np.int64)
    steps = np.arange(S) < lengths[:, None]  # output steps that copy a source token
    mirror = np.clip(lengths[:, None] - 1 - np.arange(S), 0, None)
    target[:, :S] = np.where(steps, np.take_along_axis(src.numpy(), mirror, axis=1), 0)
    target[np.arange(n), lengths] = 2  # EOS
    real = np.arange(S + 1) <= lengths[:, None]
    accuracy = float(np.mean(np.all((ids == target) | ~real, axis=1)))
    on_mirror = (attention[:, :S].argmax(axis=-1) == mirror) & steps
    return {"accuracy": accuracy, "anti_diagonal": float(on_mirror.sum() / steps.sum())}


def fetch_scores(trained, request):
    trained.get()  # the training's own error first (e.g. "not implemented yet")
    return request.getfixturevalue("scores")


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)  # a context of zeros trains too
def test_training_returns_weights_and_falling_losses(trained, attention_math_ref):
    # contract: plain data back; the loss falls (mean of the last 20 steps < a third of the first 20)
    result = trained.get()
    checked_weights(result, attention_math_ref.ReversalModel(13, 32, 64).state_dict())
    losses = np.asarray(result.get("losses", []), dtype=np.float64)
    assert losses.ndim == 1 and losses.size >= 40 and np.all(np.isfinite(losses)), (
        "train_reversal_attention should return 'losses', one finite float per training step"
    )
    first, last = losses[:20].mean(), losses[-20:].mean()
    assert last < first / 3, f"the training loss fell only from {first:.3f} to {last:.3f}: is the attention step right?"


@pytest.mark.exercise(EXERCISE, points=1)
def test_held_out_accuracy_at_least_half(trained, request):
    # threshold: exact-sequence accuracy >= 0.5 on held-out sequences (partial credit)
    accuracy = fetch_scores(trained, request)["accuracy"]
    assert accuracy >= 0.5, f"held-out exact-sequence accuracy {accuracy:.3f} < 0.5"


@pytest.mark.exercise(EXERCISE, points=2)
def test_held_out_accuracy_at_least_0_8(trained, request, record_property):
    # threshold of the contract: exact-sequence accuracy >= 0.8 on held-out sequences
    accuracy = fetch_scores(trained, request)["accuracy"]
    record_property("info", f"held-out exact-sequence accuracy {accuracy:.3f}")
    assert accuracy >= 0.8, f"held-out exact-sequence accuracy {accuracy:.3f} < 0.8"


@pytest.mark.exercise(EXERCISE, points=1)
def test_attention_mostly_anti_diagonal(trained, request):
    # threshold: the largest weight of >= 70 % of output steps sits on the mirrored source position
    share = fetch_scores(trained, request)["anti_diagonal"]
    assert share >= 0.7, f"only {share:.1%} of output steps attend most to the mirrored source position (< 70 %)"


@pytest.mark.exercise(EXERCISE, points=2)
def test_attention_anti_diagonal(trained, request, record_property):
    # threshold of the contract: >= 90 % of output steps attend most to the mirrored position L-1-t
    share = fetch_scores(trained, request)["anti_diagonal"]
    record_property("info", f"{share:.1%} of output steps attend most to the mirrored position")
    assert share >= 0.9, f"only {share:.1%} of output steps attend most to the mirrored source position (< 90 %)"


@pytest.mark.exercise(EXERCISE, points=1, needs_core=True)  # a context of zeros trains too
def test_training_time(trained, request, record_property):
    # limit: CPU_LIMIT CPU-seconds of the worker that trained (wall time grows with the machine's load)
    fetch_scores(trained, request)  # time counts only for a training that learned the task
    record_property("info", f"training took {trained.cpu_seconds:.1f} CPU-s ({trained.seconds:.1f} s wall)")
    trained.within(CPU_LIMIT, "train_reversal_attention", ": is the attention step looping in Python?")
