"""Public tests for §39 注意機構の計算 (exercises/sec39_attention_math/attention_math.py).

Small, readable checks on hand-made inputs; the hidden suite adds random shapes, float32,
batch dimensions, masks and a PyTorch oracle. Run: `pytest tests/test_sec39_attention_math.py`.

Every call goes through `call(attention_math, "name", ...)`, which also checks the course's
conventions: no argument is modified, float32 in gives float32 out, no global random state is used.
"""

import math

import numpy as np
import pytest

from grader.calls import call
from grader.checks import check_close, check_dtype, check_ndarray, check_shape

F64 = dict(rtol=1e-7, atol=1e-12)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_of_equal_logits_is_uniform(attention_math):
    # oracle: softmax of 4 equal numbers is 1/4 each
    p = call(attention_math, "softmax", np.zeros(4))
    check_ndarray(p, "softmax(x)")
    check_close(p, np.full(4, 0.25), "softmax([0, 0, 0, 0])", **F64, show_values=True)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_matches_hand_computed_values(attention_math):
    # oracle: the definition exp(x_i) / sum_j exp(x_j), written out
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, math.log(2.0)]])
    expected = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    check_close(call(attention_math, "softmax", x), expected, "softmax(x) along the last axis", **F64, show_values=True)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_does_not_overflow(attention_math):
    # property: softmax(x) == softmax(x - 1000); naive exp(1000) overflows to inf
    p = call(attention_math, "softmax", np.array([1000.0, 1001.0]))
    e = np.exp(np.array([0.0, 1.0]))
    check_close(p, e / e.sum(), "softmax([1000, 1001])", **F64, show_values=True)


@pytest.mark.exercise("softmax", points=1)
def test_softmax_mask_gives_zero_weight(attention_math):
    # oracle: masking the last entry leaves softmax of the first two
    p = call(attention_math, "softmax", np.array([0.0, 0.0, 5.0]), mask=np.array([True, True, False]))
    check_close(p, np.array([0.5, 0.5, 0.0]), "softmax with the last entry masked", **F64, show_values=True)


@pytest.mark.exercise("project_qkv", points=1)
def test_project_qkv_shapes(attention_math):
    # oracle: shapes (T, D) @ (D, d) = (T, d)
    h = np.ones((5, 4))
    Q, K, V = call(attention_math, "project_qkv", h, np.ones((4, 3)), np.ones((4, 3)), np.ones((4, 2)))
    check_shape(Q, (5, 3), "Q")
    check_shape(K, (5, 3), "K")
    check_shape(V, (5, 2), "V")
    check_close(Q, np.full((5, 3), 4.0), "Q = h @ W_q with all-ones inputs", **F64, show_values=True)


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_are_scaled_by_sqrt_dk(attention_math):
    # oracle: one query and one key of 4 ones: dot product 4, divided by sqrt(4) = 2
    Q = np.ones((1, 4))
    K = np.ones((1, 4))
    check_close(
        call(attention_math, "attention_scores", Q, K),
        np.array([[2.0]]),
        "scores Q Kᵀ / sqrt(d_k)",
        **F64,
        show_values=True,
    )
    check_close(
        call(attention_math, "attention_scores", Q, K, scale=False),
        np.array([[4.0]]),
        "scores with scale=False",
        **F64,
        show_values=True,
    )


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_on_one_hot_keys(attention_math):
    # oracle: a query far more similar to key 1 than to the others returns (almost) value 1
    Q = np.array([[0.0, 100.0]])
    K = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    V = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    out, weights = call(attention_math, "softmax_attention", Q, K, V)
    check_shape(out, (1, 2), "out")
    check_shape(weights, (1, 3), "weights")
    check_close(out, np.array([[0.0, 1.0]]), "attention output", rtol=0, atol=1e-9, show_values=True)


@pytest.mark.exercise("softmax_attention", points=1, needs_core=True)
def test_softmax_attention_keeps_float32(attention_math):
    # convention: float32 in, float32 out
    x = np.ones((2, 3), dtype=np.float32)
    out, weights = call(attention_math, "softmax_attention", x, x, x)
    check_dtype(out, np.float32, "out")
    check_dtype(weights, np.float32, "weights")


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_adds_the_input(attention_math):
    # oracle: with W_v = 0 the attention output is 0, so the block returns h itself
    h = np.arange(12.0).reshape(3, 4)
    out, weights = call(attention_math, "attention_with_residual", h, np.eye(4), np.eye(4), np.zeros((4, 4)))
    check_close(out, h, "h + attention output when W_v = 0", **F64, show_values=True)
    check_close(weights.sum(axis=-1), np.ones(3), "each row of the weights sums to", **F64)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_of_uniform_attention(attention_math):
    # oracle: with W_q = W_k = 0 every score is 0, so each token receives the mean of the values h W_v
    h = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    W_v = np.array([[1.0, 2.0], [0.0, -1.0]])
    out, weights = call(attention_math, "attention_with_residual", h, np.zeros((2, 2)), np.zeros((2, 2)), W_v)
    mean_value = (h @ W_v).mean(axis=0)  # [4/3, 1]
    check_close(weights, np.full((3, 3), 1 / 3), "weights when every score is 0", **F64, show_values=True)
    check_close(out, h + mean_value, "h + mean of the values", **F64, show_values=True)


@pytest.mark.exercise("reversal_attention_step", points=1)
def test_reversal_attention_step_on_hand_made_states(attention_math):
    # oracle: scores q·k / sqrt(2) = [0, 2/sqrt(2)]; softmax of them, written out; context = weights @ enc
    import torch

    dec = torch.tensor([[[0.0, 2.0]]], dtype=torch.float64)  # (B=1, Tq=1, H=2)
    enc = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)  # (B=1, S=2, H=2)
    context, weights = call(attention_math, "reversal_attention_step", dec, enc)
    check_shape(weights, (1, 1, 2), "weights")
    e = np.exp([0.0, 2.0 / math.sqrt(2.0)])
    expected = e / e.sum()
    check_close(weights[0, 0], expected, "attention weights", **F64, show_values=True)
    check_close(context[0, 0], expected, "context = weights @ enc_states", **F64, show_values=True)


@pytest.mark.exercise("reversal_attention_step", points=1)
def test_reversal_attention_step_ignores_padding(attention_math):
    # oracle: with the last source position masked, all weight goes to the first one
    import torch

    dec = torch.ones(1, 2, 3)  # two output steps
    enc = torch.tensor([[[1.0, 1.0, 1.0], [9.0, 9.0, 9.0]]])
    mask = torch.tensor([[True, False]])
    context, weights = call(attention_math, "reversal_attention_step", dec, enc, mask)
    check_close(
        weights,
        torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]),
        "weights with position 1 masked",
        rtol=0,
        atol=1e-6,
        show_values=True,
    )
    check_close(context, torch.ones(1, 2, 3), "context with position 1 masked", rtol=0, atol=1e-6, show_values=True)


def _autograd_attention(dout, Q, K, V, mask=None):
    """Oracle: torch.autograd through softmax(Q Kᵀ / sqrt(d_k)) V in float64 (fully masked rows → 0)."""
    import torch

    Qt, Kt, Vt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (Q, K, V))
    S = Qt @ Kt.transpose(-1, -2) / math.sqrt(Q.shape[-1])
    if mask is not None:
        S = S.masked_fill(~torch.as_tensor(mask), -math.inf)
    out = torch.nan_to_num(torch.softmax(S, dim=-1)) @ Vt
    (out * torch.as_tensor(dout)).sum().backward()
    return Qt.grad.numpy(), Kt.grad.numpy(), Vt.grad.numpy()


@pytest.mark.exercise("softmax_attention_backward", points=1)
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "causal_mask"])
def test_softmax_attention_backward_matches_autograd(attention_math, masked):
    # oracle: torch.autograd in float64 on the same forward pass
    rng = np.random.default_rng(39)
    Q, K, V, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    mask = np.tril(np.ones((3, 3), dtype=bool)) if masked else None
    got = call(attention_math, "softmax_attention_backward", dout, Q, K, V, mask=mask)
    for name, g, expected in zip(("dQ", "dK", "dV"), got, _autograd_attention(dout, Q, K, V, mask)):
        check_close(g, expected, f"{name} (see the docstring's four lines)", **F64, show_values=True)


@pytest.mark.exercise("numerical_gradient", points=1)
def test_numerical_gradient_of_attention_matches_autograd(attention_math):
    # oracle: torch.autograd in float64; central differences with eps = 1e-6 agree to 1e-6
    rng = np.random.default_rng(40)
    Q, K, V, dout = rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(2, 2))
    got = call(attention_math, "numerical_attention_gradients", dout, Q, K, V)
    for name, g, expected in zip(("dQ", "dK", "dV"), got, _autograd_attention(dout, Q, K, V)):
        check_close(g, expected, f"{name} by central differences", rtol=0, atol=1e-6, show_values=True)


@pytest.mark.exercise("softmax_attention", points=1)
def test_softmax_attention_mask_true_means_may_attend(attention_math):
    # oracle: equal scores; the mask lets the query see keys 0 and 2 only -> weights [1/2, 0, 1/2], out 3
    Q, K = np.zeros((1, 2)), np.zeros((3, 2))
    V = np.array([[2.0], [100.0], [4.0]])
    out, weights = call(attention_math, "softmax_attention", Q, K, V, mask=np.array([[True, False, True]]))
    check_close(weights, np.array([[0.5, 0.0, 0.5]]), "weights (True = may attend)", **F64, show_values=True)
    check_close(out, np.array([[3.0]]), "attention output", **F64, show_values=True)


@pytest.mark.exercise("numerical_gradient", points=1)
def test_numerical_gradient_is_central(attention_math):
    # oracle: torch.autograd of sum(softmax(Q Kᵀ / sqrt(d)) V ⊙ dout) in float64, through the given
    # numerical_attention_gradients (it calls your numerical_gradient). With eps = 1e-3 central
    # differences err by ~1e-7 here; a one-sided difference is off by ~1e-4
    import torch

    rng = np.random.default_rng(3)
    Q, K, V, dout = (rng.normal(size=s) for s in ((2, 3), (4, 3), (4, 2), (2, 2)))
    dQ, dK, _ = call(attention_math, "numerical_attention_gradients", dout, Q, K, V, eps=1e-3)
    q, k = (torch.tensor(a, requires_grad=True) for a in (Q, K))
    out = torch.softmax(q @ k.T / math.sqrt(3), dim=-1) @ torch.tensor(V)
    (out * torch.tensor(dout)).sum().backward()
    check_close(dQ, q.grad.numpy(), "dQ by numerical_gradient with eps = 1e-3 (central differences?)", rtol=0,
                atol=1e-5, show_values=True)  # fmt: skip
    check_close(dK, k.grad.numpy(), "dK by numerical_gradient with eps = 1e-3 (central differences?)", rtol=0,
                atol=1e-5, show_values=True)  # fmt: skip


@pytest.mark.exercise("attention_scores", points=1)
def test_attention_scores_keep_float32(attention_math):
    # oracle: Q Kᵀ / sqrt(d_k) in float64 on the same seeded input; float32 in gives float32 scores
    rng = np.random.default_rng(0)
    Q, K = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    scores = call(attention_math, "attention_scores", Q.astype(np.float32), K.astype(np.float32))
    check_dtype(scores, np.float32, "scores for float32 Q and K (what dtype is the 1/sqrt(d_k) factor?)")
    check_close(scores, Q @ K.T / 2.0, "scores in float32", atol=1e-5, rtol=1e-4)


@pytest.mark.exercise("attention_with_residual", points=1)
def test_attention_with_residual_keeps_float32(attention_math):
    # oracle: h + softmax((h W_q)(h W_k)ᵀ / sqrt(D)) h W_v written out in float64 on the same seeded
    # input; float32 hidden states give float32 outputs and weights
    rng = np.random.default_rng(0)
    h, W_q, W_k, W_v = (
        rng.normal(size=(3, 4)),
        rng.normal(size=(4, 4)),
        rng.normal(size=(4, 4)),
        rng.normal(size=(4, 4)),
    )
    out, weights = call(attention_math, "attention_with_residual", *[a.astype(np.float32) for a in (h, W_q, W_k, W_v)])
    check_dtype(out, np.float32, "h + attention for float32 h (is h cast to float64?)")
    check_dtype(weights, np.float32, "weights for float32 h")
    s = (h @ W_q) @ (h @ W_k).T / 2.0
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    check_close(weights, w, "weights in float32", atol=1e-5, rtol=1e-4)
    check_close(out, h + w @ (h @ W_v), "h + attention in float32", atol=1e-5, rtol=1e-4)
