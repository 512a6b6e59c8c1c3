"""Hidden tests for §39 注意機構の計算 (never shipped to students).

Seeded random inputs (base seed from the `seed` fixture), float64 and float32, leading batch
dimensions, Tq ≠ Tk, masks including fully masked rows and masked entries holding huge values of
both signs. Oracles: torch.softmax and torch.nn.functional.scaled_dot_product_attention in float64,
plain matrix products, and properties (rows sum to 1, shift invariance, masked keys change nothing).

Every exercise is called through ``grader.calls.call``: it also checks that no argument is modified,
that float32 in gives float32 out for every returned array, and that the global random generators
are left alone. Tests that a trivial stub could pass (validation, fully masked rows, properties)
are ``needs_core``: they count once the exercise's core tests pass.
"""

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.calls import call
from grader.checks import TOL, CheckFailure, check_close, check_dtype, check_ndarray

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


def torch_softmax(x, axis=-1, mask=None):
    """Oracle: torch.softmax in float64 after filling masked entries with -inf (fully masked → 0)."""
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        x = np.where(np.broadcast_to(mask, x.shape), x, -np.inf)
    return np.nan_to_num(torch.softmax(torch.from_numpy(x), dim=axis).numpy(), nan=0.0)


def no_warnings(fn, *args, **kwargs):
    """Call fn with every warning turned into an error (NaN/overflow warnings are bugs here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):  # underflow to 0 is expected, not a bug
            return fn(*args, **kwargs)


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


def huge_both_signs(rng, shape, big):
    """Values of magnitude ``big`` with random signs (at least one of each when there are two)."""
    signs = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    flat = signs.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[1] = 1.0, -1.0
    return big * signs


# --- softmax ------------------------------------------------------------------------------


@pytest.mark.exercise("softmax", points=2)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_matches_torch_float64(attention_math, seed, shape):
    # oracle: torch.softmax along the last axis, float64
    x = rng_for(seed, 1).normal(scale=3.0, size=shape)
    got = call(attention_math, "softmax", x)
    check_ndarray(got, "softmax(x)")
    check_dtype(got, np.float64, "softmax(x) for float64 x")
    check_close(got, torch_softmax(x), f"softmax(x) for x of shape {shape}", **F64)


@pytest.mark.exercise("softmax", points=1)
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_softmax_respects_axis(attention_math, seed, axis):
    # oracle: torch.softmax along the given axis
    x = rng_for(seed, 2).normal(size=(3, 4, 5))
    check_close(
        call(attention_math, "softmax", x, axis=axis), torch_softmax(x, axis), f"softmax(x, axis={axis})", **F64
    )


@pytest.mark.exercise("softmax", points=1)
def test_softmax_float32_stays_float32(attention_math, seed):
    # oracle: torch.softmax in float64, float32 tolerance; convention: float32 in, float32 out
    x = rng_for(seed, 3).normal(size=(4, 6)).astype(np.float32)
    got = call(attention_math, "softmax", x)
    check_dtype(got, np.float32, "softmax(x) for float32 x")
    check_close(got, torch_softmax(x), "softmax(x) in float32", **F32)


@pytest.mark.exercise("softmax", points=1, needs_core=True)
def test_softmax_of_integers_is_float64(attention_math, seed):
    # contract (docstring): integer x is treated as float64; oracle: torch.softmax of x as float64
    x = rng_for(seed, 31).integers(-4, 5, size=(3, 5))
    got = call(attention_math, "softmax", x)
    check_dtype(got, np.float64, "softmax(x) for integer x")
    check_close(got, torch_softmax(x), "softmax(x) for integer x", **F64)


@pytest.mark.exercise("softmax", points=1)
@pytest.mark.parametrize("dtype, big", [(np.float64, 1e3), (np.float64, -1e3), (np.float32, 1e2), (np.float32, -1e2)])
def test_softmax_large_logits_do_not_overflow(attention_math, seed, dtype, big):
    # property: shift invariance, softmax(x + c) == softmax(x); exp(c) alone would overflow / underflow
    x = rng_for(seed, 4).normal(size=(3, 5))
    shifted = (x + big).astype(dtype)
    got = no_warnings(call, attention_math, "softmax", shifted)
    tol = F64 if dtype == np.float64 else F32
    check_close(
        got, torch_softmax(shifted.astype(np.float64) - big), f"softmax(x + {big:g}) in {np.dtype(dtype)}", **tol
    )


@pytest.mark.exercise("softmax", points=1, needs_core=True)
def test_softmax_rows_sum_to_one(attention_math, seed):
    # property: every slice along the axis sums to 1
    x = rng_for(seed, 5).normal(scale=10.0, size=(6, 9))
    got = call(attention_math, "softmax", x)
    check_close(got.sum(axis=-1), np.ones(6), "sum of softmax(x) over the last axis", **F64)


@pytest.mark.exercise("softmax", points=2)
def test_softmax_mask_excludes_entries(attention_math, seed):
    # oracle: torch.softmax after filling masked logits with -inf (masked entries exactly 0)
    rng = rng_for(seed, 6)
    x = rng.normal(size=(5, 7))
    mask = rng.random((5, 7)) < 0.6
    mask[:, 0] = True  # every row keeps one entry here; fully masked rows are tested below
    check_close(
        call(attention_math, "softmax", x, mask=mask), torch_softmax(x, mask=mask), "softmax(x, mask=mask)", **F64
    )


@pytest.mark.exercise("softmax", points=1)
def test_softmax_mask_broadcasts(attention_math, seed):
    # oracle: torch.softmax with the (6,) mask broadcast to x's shape (2, 3, 6)
    rng = rng_for(seed, 7)
    x = rng.normal(size=(2, 3, 6))
    mask = np.array([True, True, False, True, False, True])
    check_close(
        call(attention_math, "softmax", x, mask=mask),
        torch_softmax(x, mask=mask),
        "softmax with a mask of shape (6,) for x (2, 3, 6)",
        **F64,
    )


@pytest.mark.exercise("softmax", points=1, needs_core=True)
@pytest.mark.parametrize("dtype, big", [(np.float64, 1e3), (np.float32, 1e2)])
def test_softmax_huge_masked_entries_change_nothing(attention_math, seed, dtype, big):
    # property: masked entries are excluded before the maximum is taken: ±big there changes nothing
    rng = rng_for(seed, 32)
    x = rng.normal(size=(4, 6))
    mask = rng.random((4, 6)) < 0.5
    mask[:, 0] = True
    mask[:, 1] = False
    poisoned = np.where(mask, x, huge_both_signs(rng, x.shape, big)).astype(dtype)
    got = no_warnings(call, attention_math, "softmax", poisoned, mask=mask)
    tol = F64 if dtype == np.float64 else F32
    check_close(got, torch_softmax(x.astype(dtype), mask=mask), f"softmax with ±{big:g} in the masked entries", **tol)


@pytest.mark.exercise("softmax", points=1, needs_core=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_fully_masked_slice_is_zero(attention_math, seed, dtype):
    # convention: a slice with every entry masked is all 0, no NaN and no warning, whatever it holds
    rng = rng_for(seed, 8)
    x = rng.normal(size=(3, 4))
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    x[1] = huge_both_signs(rng, 4, 1e3 if dtype == np.float64 else 1e2)
    x = x.astype(dtype)
    got = no_warnings(call, attention_math, "softmax", x, mask=mask)
    tol = F64 if dtype == np.float64 else F32
    check_close(got, torch_softmax(x, mask=mask), "softmax(x, mask) with a fully masked row", **tol)


@pytest.mark.exercise("softmax", points=1, needs_core=True)
def test_softmax_fully_masked_along_axis_0(attention_math, seed):
    # convention: "slice" means along `axis`: a fully masked column of softmax(x, axis=0) is 0
    x = rng_for(seed, 33).normal(size=(4, 3))
    mask = np.array([True, False, True])  # broadcasts to (4, 3): column 1 fully masked
    got = no_warnings(call, attention_math, "softmax", x, axis=0, mask=mask)
    check_close(got, torch_softmax(x, 0, mask), "softmax(x, axis=0, mask) with a fully masked column", **F64)


@pytest.mark.exercise("softmax", points=1, needs_core=True)
def test_softmax_does_not_modify_its_input(attention_math, seed):
    # convention: functions never modify their input arrays (call() compares x and mask with copies)
    rng = rng_for(seed, 9)
    x = rng.normal(size=(4, 5))
    call(attention_math, "softmax", x, mask=rng.random((4, 5)) < 0.7)
    call(attention_math, "softmax", x)


@pytest.mark.exercise("softmax", points=1, needs_core=True)
def test_softmax_rejects_a_mask_that_does_not_broadcast(attention_math):
    # contract: bad arguments raise ValueError naming the argument
    expect_value_error(attention_math, "softmax", "mask", np.zeros((3, 4)), mask=np.ones((3, 5), dtype=bool))


# --- project_qkv --------------------------------------------------------------------------


@pytest.mark.exercise("project_qkv", points=2)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_project_qkv_matches_matmul(attention_math, seed, batch):
    # oracle: torch.matmul of each weight, with leading batch dims
    rng = rng_for(seed, 10)
    T, D, d_k, d_v = 5, 6, 4, 3
    h = rng.normal(size=batch + (T, D))
    Ws = rng.normal(size=(D, d_k)), rng.normal(size=(D, d_k)), rng.normal(size=(D, d_v))
    got = call(attention_math, "project_qkv", h, *Ws)
    assert isinstance(got, tuple) and len(got) == 3, "project_qkv must return a tuple (Q, K, V)"
    for name, value, W in zip("QKV", got, Ws):
        check_ndarray(value, name)
        expected = (torch.from_numpy(h) @ torch.from_numpy(W)).numpy()
        check_close(value, expected, f"{name} for h of shape {h.shape}", **F64)


@pytest.mark.exercise("project_qkv", points=1)
def test_project_qkv_float32(attention_math, seed):
    # oracle: the float64 product, float32 tolerance; convention: float32 in, float32 out
    rng = rng_for(seed, 11)
    h = rng.normal(size=(3, 4)).astype(np.float32)
    Ws = [rng.normal(size=(4, w)).astype(np.float32) for w in (2, 2, 3)]
    for name, value, W in zip("QKV", call(attention_math, "project_qkv", h, *Ws), Ws):
        check_dtype(value, np.float32, name)
        check_close(value, h.astype(np.float64) @ W.astype(np.float64), name, **F32)


@pytest.mark.exercise("project_qkv", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "case, name, pattern",
    [
        ("h_1d", "h", None),
        ("W_q_1d", "W_q", None),
        ("W_k_rows", "W_k", None),
        ("W_v_rows", "W_v", None),
        ("d_k_differs", "W_q or W_k", "W_[qk]"),
    ],
)
def test_project_qkv_rejects_bad_shapes(attention_math, case, name, pattern):
    # contract (docstring): h not (..., T, D), a weight not (D, out), W_q/W_k widths differ -> ValueError naming it
    h, W_q, W_k, W_v = np.zeros((3, 4)), np.zeros((4, 2)), np.zeros((4, 2)), np.zeros((4, 3))
    if case == "h_1d":
        h = np.zeros(4)
    elif case == "W_q_1d":
        W_q = np.zeros(4)
    elif case == "W_k_rows":
        W_k = np.zeros((5, 2))
    elif case == "W_v_rows":
        W_v = np.zeros((3, 3))
    else:
        W_k = np.zeros((4, 3))
    expect_value_error(attention_math, "project_qkv", name, h, W_q, W_k, W_v, pattern=pattern)


# --- attention_scores ---------------------------------------------------------------------


@pytest.mark.exercise("attention_scores", points=2)
@pytest.mark.parametrize("batch, Tq, Tk", [((), 4, 4), ((3,), 2, 5), ((2, 2), 5, 3)])
def test_attention_scores_match_torch(attention_math, seed, batch, Tq, Tk):
    # oracle: torch.matmul(Q, K.transpose(-1, -2)) / sqrt(d_k), Tq ≠ Tk and batch dims
    rng = rng_for(seed, 12)
    d_k = 8
    Q, K = rng.normal(size=batch + (Tq, d_k)), rng.normal(size=batch + (Tk, d_k))
    got = call(attention_math, "attention_scores", Q, K)
    expected = (torch.from_numpy(Q) @ torch.from_numpy(K).transpose(-1, -2) / d_k**0.5).numpy()
    check_close(got, expected, f"scores for Q {Q.shape}, K {K.shape}", **F64)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_without_scale(attention_math, seed):
    # oracle: plain dot products when scale=False
    rng = rng_for(seed, 13)
    Q, K = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    check_close(call(attention_math, "attention_scores", Q, K, scale=False), Q @ K.T, "scores with scale=False", **F64)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_float32(attention_math, seed):
    # convention: float32 in, float32 out (divide by a Python float, not a float64 scalar)
    rng = rng_for(seed, 14)
    Q, K = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    got = call(attention_math, "attention_scores", Q, K)
    check_dtype(got, np.float32, "scores for float32 Q, K")
    check_close(got, Q.astype(np.float64) @ K.T.astype(np.float64) / 2.0, "scores in float32", **F32)


@pytest.mark.exercise("attention_scores", points=0.5, needs_core=True)
@pytest.mark.parametrize("case, name", [("widths", "K"), ("Q_1d", "Q"), ("K_1d", "K")])
def test_attention_scores_rejects_bad_shapes(attention_math, case, name):
    # contract (docstring): Q or K with fewer than 2 dims, or different d_k -> ValueError naming it
    Q, K = np.zeros((2, 3)), np.zeros((2, 3))
    if case == "widths":
        K = np.zeros((2, 4))
    elif case == "Q_1d":
        Q = np.zeros(3)
    else:
        K = np.zeros(3)
    expect_value_error(attention_math, "attention_scores", name, Q, K)


# --- softmax_attention --------------------------------------------------------------------


@pytest.mark.exercise("softmax_attention", points=2)
@pytest.mark.parametrize("batch, Tq, Tk", [((), 3, 3), ((2,), 4, 6), ((2, 3), 5, 2)])
def test_softmax_attention_matches_sdpa(attention_math, seed, batch, Tq, Tk):
    # oracle: torch.nn.functional.scaled_dot_product_attention in float64
    rng = rng_for(seed, 15)
    Q, K, V = rng.normal(size=batch + (Tq, 4)), rng.normal(size=batch + (Tk, 4)), rng.normal(size=batch + (Tk, 3))
    out, weights = call(attention_math, "softmax_attention", Q, K, V)
    check_ndarray(out, "out")
    check_close(out, sdpa(Q, K, V), f"attention output for Q {Q.shape}, K {K.shape}, V {V.shape}", **F64)
    check_close(weights, torch_softmax(Q @ np.swapaxes(K, -1, -2) / 2.0), "attention weights", **F64)


@pytest.mark.exercise("softmax_attention", points=2)
def test_softmax_attention_mask_matches_sdpa(attention_math, seed):
    # oracle: SDPA with a boolean attn_mask (True = may attend); every query keeps at least one key
    rng = rng_for(seed, 16)
    Q, K, V = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 3))
    mask = rng.random((2, 5, 6)) < 0.5
    mask[..., 3] = True
    out, weights = no_warnings(call, attention_math, "softmax_attention", Q, K, V, mask=mask)
    check_close(out, sdpa(Q, K, V, mask), "attention output with a mask", **F64)
    check_close(weights, torch_softmax(Q @ np.swapaxes(K, -1, -2) / 2.0, mask=mask), "weights with a mask", **F64)


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_mask_broadcasts_over_batch(attention_math, seed):
    # oracle: SDPA with a (Tq, Tk) causal mask shared by every sequence of a (2, 3) batch
    rng = rng_for(seed, 34)
    Q, K, V = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 2))
    mask = np.tril(np.ones((4, 4), dtype=bool))
    out, _ = call(attention_math, "softmax_attention", Q, K, V, mask=mask)
    check_close(out, sdpa(Q, K, V, mask), "attention output with a (Tq, Tk) mask", **F64)


@pytest.mark.exercise("softmax_attention", points=1, needs_core=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_attention_masked_keys_change_nothing(attention_math, seed, dtype):
    # property: ±1e10 placed in masked keys and values changes nothing (float64 and float32)
    rng = rng_for(seed, 17)
    Q, K, V = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    key_mask = np.array([[True, True, True, False, False], [True, False, True, True, False]])
    mask = key_mask[:, None, :]  # (B, 1, Tk): broadcasts over queries
    K2, V2 = K.copy(), V.copy()
    K2[~key_mask] = huge_both_signs(rng, K2[~key_mask].shape, 1e10)
    V2[~key_mask] = huge_both_signs(rng, V2[~key_mask].shape, 1e10)
    Q, K, V, K2, V2 = (a.astype(dtype) for a in (Q, K, V, K2, V2))
    out, weights = no_warnings(call, attention_math, "softmax_attention", Q, K2, V2, mask=mask)
    tol = F64 if dtype == np.float64 else F32
    check_close(out, sdpa(Q, K, V, mask), "output with huge values in masked keys/values", **tol)
    check_close(np.where(mask, 0.0, weights), np.zeros((2, 3, 5)), "weights at masked keys", rtol=0, atol=0)


@pytest.mark.exercise("softmax_attention", points=2, needs_core=True)
def test_softmax_attention_fully_masked_query_is_zero(attention_math, seed):
    # convention: a query whose keys are all masked gets weights 0 and output 0, whatever the keys hold
    rng = rng_for(seed, 35)
    Q, K, V = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 2))
    mask = rng.random((2, 4, 5)) < 0.6
    mask[..., 0] = True
    mask[0, 1] = False  # query 1 of sequence 0 may attend to nothing
    mask[1, :, 3:] = False  # keys 3, 4 of sequence 1 are masked for every query ...
    K[1, 3:] = huge_both_signs(rng, (2, 3), 1e10)  # ... and hold huge values
    V[1, 3:] = huge_both_signs(rng, (2, 2), 1e10)
    out, weights = no_warnings(call, attention_math, "softmax_attention", Q, K, V, mask=mask)
    check_close(weights[0, 1], np.zeros(5), "weights of a fully masked query", rtol=0, atol=0)
    check_close(out[0, 1], np.zeros(2), "output of a fully masked query", rtol=0, atol=0)
    check_close(out, sdpa(Q, K, V, mask), "attention output with a fully masked query", **F64)


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_float32(attention_math, seed):
    # oracle: SDPA in float64, compared with float32 tolerances; convention: float32 stays float32
    rng = rng_for(seed, 18)
    Q, K, V = (rng.normal(size=(2, 4, 8)).astype(np.float32) for _ in range(3))
    out, weights = call(attention_math, "softmax_attention", Q, K, V)
    check_dtype(out, np.float32, "out for float32 inputs")
    check_dtype(weights, np.float32, "weights for float32 inputs")
    check_close(out, sdpa(Q, K, V), "attention output in float32", **F32)


@pytest.mark.exercise("softmax_attention", points=1, needs_core=True)
def test_softmax_attention_does_not_modify_inputs(attention_math, seed):
    # convention: inputs are never modified (call() compares Q, K, V and mask with copies)
    rng = rng_for(seed, 19)
    Q, K, V = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    mask = rng.random((3, 5)) < 0.7
    mask[:, 0] = True
    mask[1] = False
    call(attention_math, "softmax_attention", Q, K, V, mask=mask)


@pytest.mark.exercise("softmax_attention", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "case, name",
    [("Q_1d", "Q"), ("K_width", "K"), ("V_length", "V"), ("V_1d", "V"), ("mask_shape", "mask"), ("mask_rank", "mask")],
)
def test_softmax_attention_rejects_bad_shapes(attention_math, case, name):
    # contract (docstring): shapes that do not fit raise ValueError naming Q, K, V or mask
    Q, K, V, mask = np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2)), np.ones((3, 5), dtype=bool)
    if case == "Q_1d":
        Q = np.zeros(4)
    elif case == "K_width":
        K = np.zeros((5, 3))
    elif case == "V_length":
        V = np.zeros((6, 2))
    elif case == "V_1d":
        V = np.zeros(5)
    elif case == "mask_shape":
        mask = np.ones((3, 4), dtype=bool)
    else:
        mask = np.ones((2, 1, 3, 5), dtype=bool)
    expect_value_error(attention_math, "softmax_attention", name, Q, K, V, mask=mask)


# --- attention_with_residual --------------------------------------------------------------


@pytest.mark.exercise("attention_with_residual", points=2)
@pytest.mark.parametrize("batch", [(), (3,)])
def test_attention_with_residual_matches_sdpa(attention_math, seed, batch):
    # oracle: h + SDPA(h W_q, h W_k, h W_v) in float64
    rng = rng_for(seed, 20)
    T, D, d_k = 5, 6, 4
    h = rng.normal(size=batch + (T, D))
    W_q, W_k, W_v = rng.normal(size=(D, d_k)), rng.normal(size=(D, d_k)), rng.normal(size=(D, D))
    out, weights = call(attention_math, "attention_with_residual", h, W_q, W_k, W_v)
    check_close(out, h + sdpa(h @ W_q, h @ W_k, h @ W_v), "h + attention(h)", **F64)
    check_close(weights, torch_softmax((h @ W_q) @ np.swapaxes(h @ W_k, -1, -2) / 2.0), "attention weights", **F64)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_causal_mask(attention_math, seed):
    # oracle: SDPA with a lower-triangular mask (token t attends to tokens ≤ t)
    rng = rng_for(seed, 21)
    T, D = 4, 3
    h = rng.normal(size=(2, T, D))
    W_q, W_k, W_v = (rng.normal(size=(D, D)) for _ in range(3))
    mask = np.tril(np.ones((T, T), dtype=bool))
    out, _ = call(attention_math, "attention_with_residual", h, W_q, W_k, W_v, mask=mask)
    check_close(out, h + sdpa(h @ W_q, h @ W_k, h @ W_v, mask), "h + causal attention(h)", **F64)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_float32(attention_math, seed):
    # oracle: h + SDPA in float64, float32 tolerance; convention: float32 in, float32 out for both results
    rng = rng_for(seed, 22)
    T, D, d_k = 4, 6, 3
    h = rng.normal(size=(2, T, D)).astype(np.float32)
    W_q, W_k, W_v = (rng.normal(size=s).astype(np.float32) for s in ((D, d_k), (D, d_k), (D, D)))
    out, weights = call(attention_math, "attention_with_residual", h, W_q, W_k, W_v)
    check_dtype(out, np.float32, "h + out for float32 inputs")
    check_dtype(weights, np.float32, "weights for float32 inputs")
    h64, Wq, Wk, Wv = (a.astype(np.float64) for a in (h, W_q, W_k, W_v))
    check_close(out, h64 + sdpa(h64 @ Wq, h64 @ Wk, h64 @ Wv), "h + attention(h) in float32", **F32)


@pytest.mark.exercise("attention_with_residual", points=1, needs_core=True)
def test_attention_with_residual_fully_masked_token(attention_math, seed):
    # convention: a token that may attend to nothing gets weights 0, attention output 0: it stays h
    rng = rng_for(seed, 23)
    T, D = 4, 3
    h = rng.normal(size=(T, D))
    W_q, W_k, W_v = (rng.normal(size=(D, D)) for _ in range(3))
    mask = np.tril(np.ones((T, T), dtype=bool))
    mask[2] = False
    out, weights = no_warnings(call, attention_math, "attention_with_residual", h, W_q, W_k, W_v, mask=mask)
    check_close(weights[2], np.zeros(T), "weights of a token that may attend to nothing", rtol=0, atol=0)
    check_close(out, h + sdpa(h @ W_q, h @ W_k, h @ W_v, mask), "h + attention(h) with a fully masked token", **F64)


@pytest.mark.exercise("attention_with_residual", points=1, needs_core=True)
def test_attention_with_residual_masked_token_changes_no_other(attention_math, seed):
    # property: a token no query may attend to changes no other token's output, even if it is huge
    rng = rng_for(seed, 24)
    T, D = 5, 4
    h = rng.normal(size=(T, D))
    W_q, W_k, W_v = (rng.normal(size=(D, D)) for _ in range(3))
    mask = np.ones((T, T), dtype=bool)
    mask[:, 3] = False  # token 3 is hidden from every query
    poisoned = h.copy()
    poisoned[3] = huge_both_signs(rng, D, 1e6)
    out, _ = no_warnings(call, attention_math, "attention_with_residual", poisoned, W_q, W_k, W_v, mask=mask)
    others = [0, 1, 2, 4]
    expected = (h + sdpa(h @ W_q, h @ W_k, h @ W_v, mask))[others]
    check_close(out[others], expected, "outputs of the other tokens when a masked token holds ±1e6", **F64)


@pytest.mark.exercise("attention_with_residual", points=0.5, needs_core=True)
@pytest.mark.parametrize(
    "case, name, pattern", [("W_v", "W_v", None), ("W_q_rows", "W_q", None), ("d_k_differs", "W_q or W_k", "W_[qk]")]
)
def test_attention_with_residual_rejects_bad_weights(attention_math, case, name, pattern):
    # contract (docstring): W_v must be (D, D); errors of project_qkv name their argument
    h, W_q, W_k, W_v = np.zeros((3, 4)), np.zeros((4, 2)), np.zeros((4, 2)), np.zeros((4, 4))
    if case == "W_v":
        W_v = np.zeros((4, 3))
    elif case == "W_q_rows":
        W_q = np.zeros((3, 2))
    else:
        W_k = np.zeros((4, 3))
    expect_value_error(attention_math, "attention_with_residual", name, h, W_q, W_k, W_v, pattern=pattern)


# --- bonus: softmax_attention_backward and numerical_gradient ----------------------------------


def autograd_attention(dout, Q, K, V, mask=None):
    """Oracle: torch.autograd in float64 through softmax(Q Kᵀ / sqrt(d_k)) V; a fully masked row is 0."""
    Qt, Kt, Vt = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (Q, K, V))
    S = Qt @ Kt.transpose(-1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        S = S.masked_fill(~torch.from_numpy(np.asarray(mask)), -np.inf)
    out = torch.nan_to_num(torch.softmax(S, dim=-1)) @ Vt
    (out * torch.from_numpy(np.asarray(dout, dtype=np.float64))).sum().backward()
    return Qt.grad.numpy(), Kt.grad.numpy(), Vt.grad.numpy()


def attention_case(seed, k, q_batch=(), kv_batch=None, Tq=4, Tk=5, d_k=3, d_v=2, masked=False, dtype=np.float64):
    """Seeded (dout, Q, K, V, mask); with ``masked`` a random mask with query 1 fully masked."""
    rng = rng_for(seed, k)
    kv_batch = q_batch if kv_batch is None else kv_batch
    Q, K, V = (
        rng.normal(size=q_batch + (Tq, d_k)),
        rng.normal(size=kv_batch + (Tk, d_k)),
        rng.normal(size=kv_batch + (Tk, d_v)),
    )
    out_batch = np.broadcast_shapes(q_batch, kv_batch)
    dout = rng.normal(size=out_batch + (Tq, d_v))
    mask = None
    if masked:
        mask = rng.random((Tq, Tk)) < 0.6
        mask[:, 0] = True
        mask[1] = False
    return tuple(a.astype(dtype) for a in (dout, Q, K, V)) + (mask,)


def check_gradients(got, expected, what, **tol):
    for name, g, e in zip(("dQ", "dK", "dV"), got, expected):
        check_ndarray(g, name)
        check_close(g, e, f"{name} {what}", **tol)


@pytest.mark.exercise("softmax_attention_backward", points=2)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_backward_matches_autograd(attention_math, seed, batch, masked):
    # oracle: torch.autograd in float64; Tq ≠ Tk and d_k ≠ d_v so that a transposed product shows
    dout, Q, K, V, mask = attention_case(seed, 40, batch, masked=masked)
    got = call(attention_math, "softmax_attention_backward", dout, Q, K, V, mask=mask)
    check_gradients(got, autograd_attention(dout, Q, K, V, mask), "against torch.autograd", **F64)


@pytest.mark.exercise("softmax_attention_backward", points=1)
def test_backward_sums_over_broadcast_keys(attention_math, seed):
    # oracle: torch.autograd in float64; K and V shared by a batch of queries get the summed gradient
    dout, Q, K, V, mask = attention_case(seed, 41, q_batch=(3,), kv_batch=())
    got = call(attention_math, "softmax_attention_backward", dout, Q, K, V)
    check_gradients(got, autograd_attention(dout, Q, K, V), "when K and V broadcast over the batch", **F64)


@pytest.mark.exercise("softmax_attention_backward", points=1)
def test_backward_float32(attention_math, seed):
    # oracle: torch.autograd in float64, float32 tolerance; convention: float32 in, float32 out
    dout, Q, K, V, mask = attention_case(seed, 42, (2,), masked=True, dtype=np.float32)
    got = call(attention_math, "softmax_attention_backward", dout, Q, K, V, mask=mask)
    for name, g in zip(("dQ", "dK", "dV"), got):
        check_dtype(g, np.float32, f"{name} for float32 inputs")
    check_gradients(got, autograd_attention(dout, Q, K, V, mask), "in float32", **F32)


@pytest.mark.exercise("softmax_attention_backward", points=1, needs_core=True)
def test_backward_fully_masked_query_gets_zero_gradient(attention_math, seed):
    # convention: a query that may attend to nothing has output 0, so its dQ row is exactly 0
    dout, Q, K, V, mask = attention_case(seed, 43, masked=True)
    dQ, _, _ = no_warnings(call, attention_math, "softmax_attention_backward", dout, Q, K, V, mask=mask)
    check_close(dQ[1], np.zeros(Q.shape[-1]), "dQ of the fully masked query 1", rtol=0, atol=0)


@pytest.mark.exercise("softmax_attention_backward", points=0.5, needs_core=True)
def test_backward_rejects_dout_of_the_wrong_shape(attention_math, seed):
    # contract (docstring): dout must be shaped like the output (..., Tq, d_v)
    dout, Q, K, V, _ = attention_case(seed, 44)
    expect_value_error(attention_math, "softmax_attention_backward", "dout", dout[:, :1], Q, K, V)


@pytest.mark.exercise("numerical_gradient", points=2)
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_numerical_gradient_matches_autograd(attention_math, seed, masked):
    # oracle: torch.autograd in float64; central differences with eps = 1e-6 agree to 1e-6 (contract)
    dout, Q, K, V, mask = attention_case(seed, 45, (2,), Tq=3, Tk=4, masked=masked)
    got = call(attention_math, "numerical_attention_gradients", dout, Q, K, V, mask=mask)
    check_gradients(got, autograd_attention(dout, Q, K, V, mask), "by central differences", rtol=0, atol=1e-6)


@pytest.mark.exercise("numerical_gradient", points=1)
def test_numerical_gradient_error_is_second_order(attention_math, seed):
    # oracle: torch.autograd in float64; with eps = 1e-3 central differences err by ~eps² · f''' (< 1e-6
    # here), one-sided differences by ~eps · f'' (~1e-4): only the central ones pass at 1e-5
    dout, Q, K, V, _ = attention_case(seed, 46, Tq=3, Tk=4)
    got = call(attention_math, "numerical_attention_gradients", dout, Q, K, V, eps=1e-3)
    check_gradients(
        got, autograd_attention(dout, Q, K, V), "with eps = 1e-3 (use central differences)", rtol=0, atol=1e-5
    )


@pytest.mark.exercise("numerical_gradient", points=1, needs_core=True)
def test_numerical_gradient_float32_keeps_dtype(attention_math, seed):
    # convention: float32 in, float32 out; oracle: torch.autograd (eps = 1e-2 in float32, loose 1e-2 atol)
    dout, Q, K, V, _ = attention_case(seed, 47, Tq=2, Tk=3, dtype=np.float32)
    got = call(attention_math, "numerical_attention_gradients", dout, Q, K, V, eps=1e-2)
    for name, g in zip(("dQ", "dK", "dV"), got):
        check_dtype(g, np.float32, f"{name} for float32 inputs")
    check_gradients(got, autograd_attention(dout, Q, K, V), "in float32 with eps = 1e-2", rtol=0, atol=1e-2)


@pytest.mark.exercise("numerical_gradient", points=0.5, needs_core=True)
@pytest.mark.parametrize("eps", [0.0, -1e-6, True], ids=["zero", "negative", "bool"])
def test_numerical_gradient_rejects_bad_eps(attention_math, seed, eps):
    # contract (docstring): eps must be a positive number (a bool is not one)
    dout, Q, K, V, _ = attention_case(seed, 48, Tq=2, Tk=2)
    expect_value_error(attention_math, "numerical_attention_gradients", "eps", dout, Q, K, V, eps=eps)


# --- argument checks the mutation testing showed untested ---------------------------------


@pytest.mark.exercise("attention_with_residual", points=0.25, needs_core=True)
def test_attention_with_residual_rejects_a_1d_h(attention_math):
    # contract (docstring): h is (..., T, D); a single vector is a ValueError (not an IndexError)
    W = np.eye(4)
    expect_value_error(attention_math, "attention_with_residual", "h or W_v", np.zeros(4), W, W, W, pattern="h|W_v")


@pytest.mark.exercise("softmax_attention", points=0.25, needs_core=True)
def test_softmax_attention_rejects_1d_keys_and_values(attention_math):
    # contract (docstring): K and V are (..., Tk, d); 1-D ones are a ValueError (not an IndexError)
    expect_value_error(attention_math, "softmax_attention", "K or V", np.zeros((3, 4)), np.zeros(4), np.zeros(4),
                       pattern="K|V")  # fmt: skip


@pytest.mark.exercise("reversal_attention_step", points=0.25, needs_core=True)
@pytest.mark.parametrize("name", ["dec_states", "enc_states", "enc_mask"])
def test_reversal_attention_step_rejects_lists(attention_math, name):
    # contract (docstring): the arguments are tensors; a nested list is a ValueError naming it
    args = {
        "dec_states": torch.zeros(2, 3, 4),
        "enc_states": torch.zeros(2, 5, 4),
        "enc_mask": torch.ones(2, 5, dtype=torch.bool),
    }
    args[name] = args[name].tolist()
    expect_value_error(attention_math, "reversal_attention_step", name, args["dec_states"], args["enc_states"],
                       args["enc_mask"])  # fmt: skip


@pytest.mark.exercise("reversal_attention_step", points=0.25, needs_core=True)
def test_reversal_attention_step_rejects_a_bad_mask_for_2d_states(attention_math):
    # contract (docstring): enc_mask must be (..., S); also for unbatched (S, H) encoder states
    dec, enc = torch.zeros(3, 4), torch.zeros(5, 4)
    expect_value_error(attention_math, "reversal_attention_step", "enc_mask", dec, enc, torch.ones(4, dtype=torch.bool))
