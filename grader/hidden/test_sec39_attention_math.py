"""Hidden tests for §39 注意機構の計算 (never shipped to students).

Seeded random inputs (base seed from the `seed` fixture), float64 and float32, leading batch
dimensions, Tq ≠ Tk, masks including fully masked rows. Oracles: torch.softmax and
torch.nn.functional.scaled_dot_product_attention in float64, plain matrix products, and
properties (rows sum to 1, shift invariance, masked keys change nothing).
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.checks import TOL, check_close, check_dtype, check_ndarray, check_unchanged

F64 = TOL[np.dtype(np.float64)]
F32 = TOL[np.dtype(np.float32)]
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 6)]


def rng_for(seed, k):
    return np.random.default_rng([seed, 39, k])


def sdpa(Q, K, V, mask=None):
    """Oracle: PyTorch's attention in float64; a fully masked row is defined as 0 (course convention)."""
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))  # noqa: E731
    m = None if mask is None else torch.from_numpy(np.broadcast_to(mask, Q.shape[:-1] + (K.shape[-2],)).copy())
    out = F.scaled_dot_product_attention(t(Q), t(K), t(V), attn_mask=m).numpy()
    return np.nan_to_num(out, nan=0.0)


def no_warnings(fn, *args, **kwargs):
    """Call fn with every warning turned into an error (NaN/overflow warnings are bugs here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return fn(*args, **kwargs)


# --- softmax ------------------------------------------------------------------------------


@pytest.mark.exercise("softmax", points=2)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_matches_torch_float64(attention_math, seed, shape):
    # oracle: torch.softmax along the last axis, float64
    x = rng_for(seed, 1).normal(scale=3.0, size=shape)
    got = attention_math.softmax(x)
    check_ndarray(got, "softmax(x)")
    check_dtype(got, np.float64, "softmax(x) for float64 x")
    check_close(got, torch.softmax(torch.from_numpy(x), dim=-1).numpy(), f"softmax(x) for x of shape {shape}", **F64)


@pytest.mark.exercise("softmax", points=1)
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_softmax_respects_axis(attention_math, seed, axis):
    # oracle: torch.softmax along the given axis
    x = rng_for(seed, 2).normal(size=(3, 4, 5))
    expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
    check_close(attention_math.softmax(x, axis=axis), expected, f"softmax(x, axis={axis})", **F64)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_float32_stays_float32(attention_math, seed):
    # oracle: torch.softmax in float32; convention: float32 in, float32 out
    x = rng_for(seed, 3).normal(size=(4, 6)).astype(np.float32)
    got = attention_math.softmax(x)
    check_dtype(got, np.float32, "softmax(x) for float32 x")
    check_close(got, torch.softmax(torch.from_numpy(x), dim=-1).numpy(), "softmax(x) in float32", **F32)


@pytest.mark.exercise("softmax", points=2)
@pytest.mark.parametrize("dtype, big", [(np.float64, 1e3), (np.float32, 1e2)])
def test_softmax_large_logits_do_not_overflow(attention_math, seed, dtype, big):
    # property: shift invariance, softmax(x + c) == softmax(x); exp(c) alone would overflow
    x = rng_for(seed, 4).normal(size=(3, 5)).astype(dtype)
    got = no_warnings(attention_math.softmax, x + dtype(big))
    tol = F64 if dtype == np.float64 else F32
    check_close(
        got, torch.softmax(torch.from_numpy(x.astype(np.float64)), dim=-1).numpy(), f"softmax(x + {big:g})", **tol
    )


@pytest.mark.exercise("softmax", points=1)
def test_softmax_rows_sum_to_one(attention_math, seed):
    # property: every slice along the axis sums to 1
    x = rng_for(seed, 5).normal(scale=10.0, size=(6, 9))
    check_close(attention_math.softmax(x).sum(axis=-1), np.ones(6), "sum of softmax(x) over the last axis", **F64)


@pytest.mark.exercise("softmax", points=2)
def test_softmax_mask_excludes_entries(attention_math, seed):
    # oracle: torch.softmax after filling masked logits with -inf (masked entries exactly 0)
    rng = rng_for(seed, 6)
    x = rng.normal(size=(5, 7))
    mask = rng.random((5, 7)) < 0.6
    mask[:, 0] = True  # every row keeps one entry here; fully masked rows are tested below
    expected = torch.softmax(torch.from_numpy(np.where(mask, x, -np.inf)), dim=-1).numpy()
    check_close(attention_math.softmax(x, mask=mask), expected, "softmax(x, mask=mask)", **F64)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_mask_broadcasts(attention_math, seed):
    # oracle: the same mask written out in full
    rng = rng_for(seed, 7)
    x = rng.normal(size=(2, 3, 6))
    mask = np.array([True, True, False, True, False, True])
    expected = attention_math.softmax(x, mask=np.broadcast_to(mask, x.shape).copy())
    check_close(
        attention_math.softmax(x, mask=mask), expected, "softmax with a mask of shape (6,) for x (2, 3, 6)", **F64
    )


@pytest.mark.exercise("softmax", points=2)
def test_softmax_fully_masked_slice_is_zero(attention_math, seed):
    # convention: a slice with every entry masked is all 0, no NaN and no warning
    x = rng_for(seed, 8).normal(size=(3, 4))
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    got = no_warnings(attention_math.softmax, x, mask=mask)
    check_close(got[1], np.zeros(4), "the fully masked row of softmax(x, mask)", **F64)
    check_close(got[0].sum(), 1.0, "an unmasked row of softmax(x, mask)", **F64)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_does_not_modify_its_input(attention_math, seed):
    # convention: functions never modify their input arrays
    x = rng_for(seed, 9).normal(size=(4, 5))
    before = x.copy()
    attention_math.softmax(x)
    check_unchanged(before, x, "x passed to softmax")


@pytest.mark.exercise("softmax", points=1)
def test_softmax_rejects_a_mask_that_does_not_broadcast(attention_math):
    # contract: bad arguments raise ValueError naming the argument
    with pytest.raises(ValueError, match="mask"):
        attention_math.softmax(np.zeros((3, 4)), mask=np.ones((3, 5), dtype=bool))


# --- project_qkv --------------------------------------------------------------------------


@pytest.mark.exercise("project_qkv", points=2)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_project_qkv_matches_matmul(attention_math, seed, batch):
    # oracle: torch.matmul of each weight, with leading batch dims
    rng = rng_for(seed, 10)
    T, D, d_k, d_v = 5, 6, 4, 3
    h = rng.normal(size=batch + (T, D))
    Ws = rng.normal(size=(D, d_k)), rng.normal(size=(D, d_k)), rng.normal(size=(D, d_v))
    got = attention_math.project_qkv(h, *Ws)
    assert isinstance(got, tuple) and len(got) == 3, "project_qkv must return a tuple (Q, K, V)"
    for name, value, W in zip("QKV", got, Ws):
        check_ndarray(value, name)
        expected = (torch.from_numpy(h) @ torch.from_numpy(W)).numpy()
        check_close(value, expected, f"{name} for h of shape {h.shape}", **F64)


@pytest.mark.exercise("project_qkv", points=1)
def test_project_qkv_float32(attention_math, seed):
    # convention: float32 in, float32 out
    rng = rng_for(seed, 11)
    h = rng.normal(size=(3, 4)).astype(np.float32)
    W = rng.normal(size=(4, 2)).astype(np.float32)
    for name, value in zip("QKV", attention_math.project_qkv(h, W, W, W)):
        check_dtype(value, np.float32, name)
        check_close(value, h.astype(np.float64) @ W.astype(np.float64), name, **F32)


@pytest.mark.exercise("project_qkv", points=1)
def test_project_qkv_rejects_mismatched_weights(attention_math):
    # contract: a weight whose first dimension is not D raises ValueError naming it
    h = np.zeros((3, 4))
    with pytest.raises(ValueError, match="W_k"):
        attention_math.project_qkv(h, np.zeros((4, 2)), np.zeros((5, 2)), np.zeros((4, 2)))


# --- attention_scores ---------------------------------------------------------------------


@pytest.mark.exercise("attention_scores", points=2)
@pytest.mark.parametrize("batch, Tq, Tk", [((), 4, 4), ((3,), 2, 5), ((2, 2), 5, 3)])
def test_attention_scores_match_torch(attention_math, seed, batch, Tq, Tk):
    # oracle: torch.matmul(Q, K.transpose(-1, -2)) / sqrt(d_k), Tq ≠ Tk and batch dims
    rng = rng_for(seed, 12)
    d_k = 8
    Q, K = rng.normal(size=batch + (Tq, d_k)), rng.normal(size=batch + (Tk, d_k))
    expected = (torch.from_numpy(Q) @ torch.from_numpy(K).transpose(-1, -2) / d_k**0.5).numpy()
    check_close(attention_math.attention_scores(Q, K), expected, f"scores for Q {Q.shape}, K {K.shape}", **F64)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_without_scale(attention_math, seed):
    # oracle: plain dot products when scale=False
    rng = rng_for(seed, 13)
    Q, K = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    check_close(attention_math.attention_scores(Q, K, scale=False), Q @ K.T, "scores with scale=False", **F64)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_float32(attention_math, seed):
    # convention: float32 in, float32 out (divide by a Python float, not a float64 scalar)
    rng = rng_for(seed, 14)
    Q, K = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    got = attention_math.attention_scores(Q, K)
    check_dtype(got, np.float32, "scores for float32 Q, K")
    check_close(got, Q.astype(np.float64) @ K.T.astype(np.float64) / 2.0, "scores in float32", **F32)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_rejects_mismatched_widths(attention_math):
    # contract: Q and K must share d_k; ValueError naming K
    with pytest.raises(ValueError, match="K"):
        attention_math.attention_scores(np.zeros((2, 3)), np.zeros((2, 4)))


# --- softmax_attention --------------------------------------------------------------------


@pytest.mark.exercise("softmax_attention", points=2)
@pytest.mark.parametrize("batch, Tq, Tk", [((), 3, 3), ((2,), 4, 6), ((2, 3), 5, 2)])
def test_softmax_attention_matches_sdpa(attention_math, seed, batch, Tq, Tk):
    # oracle: torch.nn.functional.scaled_dot_product_attention in float64
    rng = rng_for(seed, 15)
    Q, K, V = rng.normal(size=batch + (Tq, 4)), rng.normal(size=batch + (Tk, 4)), rng.normal(size=batch + (Tk, 3))
    out, weights = attention_math.softmax_attention(Q, K, V)
    check_ndarray(out, "out")
    check_close(out, sdpa(Q, K, V), f"attention output for Q {Q.shape}, K {K.shape}, V {V.shape}", **F64)
    expected_w = torch.softmax(torch.from_numpy(Q @ np.swapaxes(K, -1, -2) / 2.0), dim=-1).numpy()
    check_close(weights, expected_w, "attention weights", **F64)


@pytest.mark.exercise("softmax_attention", points=2)
def test_softmax_attention_mask_matches_sdpa(attention_math, seed):
    # oracle: SDPA with a boolean attn_mask (True = may attend), incl. fully masked query rows → 0
    rng = rng_for(seed, 16)
    Q, K, V = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 3))
    mask = rng.random((2, 5, 6)) < 0.5
    mask[0, 2] = False  # a query that may attend to nothing
    out, weights = no_warnings(attention_math.softmax_attention, Q, K, V, mask=mask)
    check_close(out, sdpa(Q, K, V, mask), "attention output with a mask", **F64)
    check_close(weights[0, 2], np.zeros(6), "weights of a fully masked query", **F64)
    check_close(np.where(mask, 0.0, weights), np.zeros(mask.shape), "weights at masked positions", **F64)


@pytest.mark.exercise("softmax_attention", points=2)
def test_softmax_attention_masked_keys_change_nothing(attention_math, seed):
    # property: 1e10 placed in masked keys and values does not change the output
    rng = rng_for(seed, 17)
    Q, K, V = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    key_mask = np.array([[True, True, True, False, False], [True, False, True, True, False]])
    mask = key_mask[:, None, :]  # (B, 1, Tk): broadcasts over queries
    K2, V2 = K.copy(), V.copy()
    K2[~key_mask], V2[~key_mask] = 1e10, 1e10
    out, _ = attention_math.softmax_attention(Q, K, V, mask=mask)
    out2, _ = no_warnings(attention_math.softmax_attention, Q, K2, V2, mask=mask)
    check_close(out2, out, "output after writing 1e10 into masked keys/values", **F64)


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_float32(attention_math, seed):
    # oracle: SDPA in float64, compared with float32 tolerances; convention: float32 stays float32
    rng = rng_for(seed, 18)
    Q, K, V = (rng.normal(size=(2, 4, 8)).astype(np.float32) for _ in range(3))
    out, weights = attention_math.softmax_attention(Q, K, V)
    check_dtype(out, np.float32, "out for float32 inputs")
    check_dtype(weights, np.float32, "weights for float32 inputs")
    check_close(out, sdpa(Q, K, V), "attention output in float32", **F32)


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_does_not_modify_inputs(attention_math, seed):
    # convention: inputs are never modified
    rng = rng_for(seed, 19)
    Q, K, V = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    mask = rng.random((3, 5)) < 0.7
    copies = [a.copy() for a in (Q, K, V, mask)]
    attention_math.softmax_attention(Q, K, V, mask=mask)
    for name, before, after in zip(("Q", "K", "V", "mask"), copies, (Q, K, V, mask)):
        check_unchanged(before, after, name)


# --- attention_with_residual --------------------------------------------------------------


@pytest.mark.exercise("attention_with_residual", points=2)
@pytest.mark.parametrize("batch", [(), (3,)])
def test_attention_with_residual_matches_sdpa(attention_math, seed, batch):
    # oracle: h + SDPA(h W_q, h W_k, h W_v) in float64
    rng = rng_for(seed, 20)
    T, D, d_k = 5, 6, 4
    h = rng.normal(size=batch + (T, D))
    W_q, W_k, W_v = rng.normal(size=(D, d_k)), rng.normal(size=(D, d_k)), rng.normal(size=(D, D))
    out, weights = attention_math.attention_with_residual(h, W_q, W_k, W_v)
    check_close(out, h + sdpa(h @ W_q, h @ W_k, h @ W_v), "h + attention(h)", **F64)
    check_close(weights.sum(axis=-1), np.ones(batch + (T,)), "row sums of the weights", **F64)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_causal_mask(attention_math, seed):
    # oracle: SDPA with a lower-triangular mask (token t attends to tokens ≤ t)
    rng = rng_for(seed, 21)
    T, D = 4, 3
    h = rng.normal(size=(2, T, D))
    W_q, W_k, W_v = (rng.normal(size=(D, D)) for _ in range(3))
    mask = np.tril(np.ones((T, T), dtype=bool))
    out, _ = attention_math.attention_with_residual(h, W_q, W_k, W_v, mask=mask)
    check_close(out, h + sdpa(h @ W_q, h @ W_k, h @ W_v, mask), "h + causal attention(h)", **F64)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_rejects_non_square_W_v(attention_math):
    # contract: d_v must equal D for the residual sum; ValueError naming W_v
    h = np.zeros((3, 4))
    with pytest.raises(ValueError, match="W_v"):
        attention_math.attention_with_residual(h, np.zeros((4, 2)), np.zeros((4, 2)), np.zeros((4, 3)))
