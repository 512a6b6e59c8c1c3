"""Hidden tests for §40 トランスフォーマー: seeded random shapes, float32 and float64, masks, the
torch oracles and property checks. Never shipped to students.

Oracles: F.layer_norm, nn.Sequential(Linear, ReLU, Linear), F.scaled_dot_product_attention,
nn.MultiheadAttention(batch_first=True) and nn.TransformerEncoderLayer(dropout=0, batch_first=True)
with the weights mapped from the (in, out) layout (nn.Linear.weight == W.T), and the float64
formula of the positional encoding.

Every exercise is called through ``grader.calls.call``: it also checks that no argument (x, weights,
masks, params dicts) is modified, that float32 in gives float32 out for every returned tensor, and
that the global random generators are left alone. Tests that a trivial stub could pass
(validation, fully masked rows, properties) are ``needs_core``: they count once the exercise's core
tests pass. Messages name the argument a ValueError must name, never the inputs.
"""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.calls import call
from grader.checks import CheckFailure, check_close, check_dtype, check_finite, check_shape, check_tensor

TOL = {torch.float64: dict(rtol=1e-7, atol=1e-12), torch.float32: dict(rtol=1e-4, atol=1e-5)}
DTYPES = [torch.float64, torch.float32]
MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


def gen(seed, k):
    return torch.Generator().manual_seed(seed + k)


def randn(g, *shape, dtype=torch.float64, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def mha_params(g, d, dtype):
    # weights scaled so that the softmax is neither uniform nor one-hot
    return {k: randn(g, d, d, dtype=dtype, scale=1 / math.sqrt(d)) if k[0] == "W" else randn(g, d, dtype=dtype, scale=0.2)
            for k in MHA_KEYS}  # fmt: skip


def block_params(g, d, d_ff, dtype):
    return {
        "attn": mha_params(g, d, dtype),
        "ln1": {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.3), "beta": randn(g, d, dtype=dtype, scale=0.3)},
        "ffn": {
            "W1": randn(g, d, d_ff, dtype=dtype, scale=1 / math.sqrt(d)),
            "b1": randn(g, d_ff, dtype=dtype, scale=0.2),
            "W2": randn(g, d_ff, d, dtype=dtype, scale=1 / math.sqrt(d_ff)),
            "b2": randn(g, d, dtype=dtype, scale=0.2),
        },
        "ln2": {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.3), "beta": randn(g, d, dtype=dtype, scale=0.3)},
    }


def torch_mha(p, d, h, dtype):
    """nn.MultiheadAttention holding the (in, out) weights of p."""
    m = nn.MultiheadAttention(d, h, batch_first=True, dtype=dtype)
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.cat([p["W_q"].T, p["W_k"].T, p["W_v"].T]))
        m.in_proj_bias.copy_(torch.cat([p["b_q"], p["b_k"], p["b_v"]]))
        m.out_proj.weight.copy_(p["W_o"].T)
        m.out_proj.bias.copy_(p["b_o"])
    return m


def torch_block(p, d, h, d_ff, dtype, norm_first):
    """nn.TransformerEncoderLayer (relu, dropout 0) holding the weights of p; train() mode so that
    the fused fast path (which zeroes padded outputs) is not taken."""
    layer = nn.TransformerEncoderLayer(
        d, h, dim_feedforward=d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, dtype=dtype
    )
    layer.self_attn.load_state_dict(torch_mha(p["attn"], d, h, dtype).state_dict())
    with torch.no_grad():
        layer.norm1.weight.copy_(p["ln1"]["gamma"])
        layer.norm1.bias.copy_(p["ln1"]["beta"])
        layer.norm2.weight.copy_(p["ln2"]["gamma"])
        layer.norm2.bias.copy_(p["ln2"]["beta"])
        layer.linear1.weight.copy_(p["ffn"]["W1"].T)
        layer.linear1.bias.copy_(p["ffn"]["b1"])
        layer.linear2.weight.copy_(p["ffn"]["W2"].T)
        layer.linear2.bias.copy_(p["ffn"]["b2"])
    return layer.train()


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


def huge_both_signs(g, *shape, big=1e10):
    """Values of magnitude ``big`` with random signs (the first two: one of each)."""
    signs = torch.where(torch.rand(*shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    flat = signs.view(-1)
    if flat.numel() >= 2:
        flat[0], flat[1] = 1.0, -1.0
    return big * signs


def pe_formula(T, d, base=10000.0):
    """float64 loop over the contract's formula."""
    pe = np.zeros((T, d))
    for p in range(T):
        for j in range(d):
            angle = p / base ** ((j - j % 2) / d)
            pe[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


def with_key(params, key, value):
    """A copy of a (nested) params dict with ``params[key] = value`` (``value=None`` deletes it)."""
    out = dict(params)
    if value is None:
        del out[key]
    else:
        out[key] = value
    return out


# --- positional_encoding ------------------------------------------------------------------


@pytest.mark.exercise("positional_encoding", points=1)
@pytest.mark.parametrize("T, d", [(40, 10), (9, 7), (5, 1)], ids=["even_d", "odd_d", "d_1"])
def test_positional_encoding_matches_formula(transformer, T, d):
    # oracle: the contract's formula in float64, interleaved sin/cos; odd d allowed
    pe = call(transformer, "positional_encoding", T, d)
    check_tensor(pe, "positional_encoding(T, d)")
    check_shape(pe, (T, d), "positional_encoding(T, d)")
    check_dtype(pe, torch.float32, "positional_encoding(T, d)")
    check_close(pe, pe_formula(T, d), f"positional_encoding(T, d={d})", rtol=1e-4, atol=1e-5)


@pytest.mark.exercise("positional_encoding", points=1, needs_core=True)
def test_positional_encoding_row_norm(transformer):
    # property: sin² + cos² = 1 per column pair, so every row has norm sqrt(d/2) for even d
    pe = call(transformer, "positional_encoding", 50, 12).double()
    check_close(pe.norm(dim=-1), torch.full((50,), math.sqrt(6.0), dtype=torch.float64), "row norms of pe",
                rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.exercise("positional_encoding", points=1, needs_core=True)
def test_positional_encoding_shift_is_a_rotation(transformer):
    # property: pe[p+k] = R_k pe[p], R_k block-diagonal with 2x2 rotations by k*w_i (w_i = base^(-2i/d))
    T, d, k = 30, 8, 5
    pe = call(transformer, "positional_encoding", T, d).double()
    R = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        a = k / 10000.0 ** (2 * i / d)
        R[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor(
            [[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]
        )
    check_close(pe[k:], pe[:-k] @ R.T, "pe[p + 5] compared with R_5 pe[p]", rtol=1e-4, atol=1e-5)


@pytest.mark.exercise("positional_encoding", points=1)
def test_positional_encoding_uses_base(transformer):
    # oracle: the formula with base=100
    check_close(call(transformer, "positional_encoding", 12, 6, base=100.0), pe_formula(12, 6, base=100.0),
                "positional_encoding(12, 6, base=100)", rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.exercise("positional_encoding", points=1, needs_core=True)
def test_positional_encoding_base_one(transformer):
    # contract (docstring): any base > 0 is allowed; base = 1 gives every column pair the frequency 1
    check_close(call(transformer, "positional_encoding", 7, 4, base=1.0), pe_formula(7, 4, base=1.0),
                "positional_encoding(7, 4, base=1)", rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.exercise("positional_encoding", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "args, kwargs, name",
    [
        ((0, 4), {}, "seq_len"),
        ((-1, 4), {}, "seq_len"),
        ((3.0, 4), {}, "seq_len"),
        ((4, 0), {}, "d_model"),
        ((4, 2.5), {}, "d_model"),
        ((4, 6), {"base": 0.0}, "base"),
        ((4, 6), {"base": -10.0}, "base"),
    ],
    ids=["T_0", "T_negative", "T_float", "d_0", "d_float", "base_0", "base_negative"],
)
def test_positional_encoding_rejects_bad_arguments(transformer, args, kwargs, name):
    # contract (docstring): seq_len / d_model not a positive int, base not positive -> ValueError naming it
    expect_value_error(transformer, "positional_encoding", name, *args, **kwargs)


# --- add_positional_encoding --------------------------------------------------------------


@pytest.mark.exercise("add_positional_encoding", points=1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_positional_encoding_matches_oracle(transformer, seed, dtype):
    # oracle: x + the formula's pe, the same for every sequence of the batch; x's dtype kept
    x = randn(gen(seed, 1), 3, 11, 6, dtype=dtype)
    out = call(transformer, "add_positional_encoding", x)
    check_tensor(out, "add_positional_encoding(x)")
    check_dtype(out, dtype, "add_positional_encoding(x)")
    expected = x.double() + torch.from_numpy(pe_formula(11, 6))
    check_close(out, expected, "x + pe", rtol=1e-4, atol=1e-6)  # pe itself is float32 (1e-7 abs)


@pytest.mark.exercise("add_positional_encoding", points=1, needs_core=True)
@pytest.mark.parametrize("lead", [(), (2, 3)], ids=["T_d", "four_dims"])
def test_add_positional_encoding_other_ranks(transformer, seed, lead):
    # contract (docstring): (..., T, d): positions run along axis -2 whatever the leading dimensions
    x = randn(gen(seed, 31), *lead, 7, 4)
    out = call(transformer, "add_positional_encoding", x)
    check_close(out, x + torch.from_numpy(pe_formula(7, 4)), f"x + pe for x of shape {tuple(x.shape)}",
                rtol=1e-4, atol=1e-6)  # fmt: skip


@pytest.mark.exercise("add_positional_encoding", points=0.5, needs_core=True)
@pytest.mark.parametrize("case", ["vector", "integer"])
def test_add_positional_encoding_rejects_bad_x(transformer, case):
    # contract (docstring): x with fewer than 2 dimensions or not floating -> ValueError naming x
    x = torch.zeros(5) if case == "vector" else torch.zeros(2, 3, 4, dtype=torch.int64)
    expect_value_error(transformer, "add_positional_encoding", "x", x)


# --- layer_norm ---------------------------------------------------------------------------


@pytest.mark.exercise("layer_norm", points=1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_matches_torch(transformer, seed, dtype):
    # oracle: F.layer_norm (biased variance, eps inside the square root); leading batch dims
    g = gen(seed, 2)
    x = randn(g, 2, 3, 5, 6, dtype=dtype, scale=3.0) + 1.5
    gamma, beta = randn(g, 6, dtype=dtype), randn(g, 6, dtype=dtype)
    y = call(transformer, "layer_norm", x, gamma, beta)
    check_tensor(y, "layer_norm(x, gamma, beta)")
    check_dtype(y, dtype, "layer_norm(x, gamma, beta)")
    check_close(y, F.layer_norm(x, (6,), gamma, beta, eps=1e-5), "layer_norm", **TOL[dtype])


@pytest.mark.exercise("layer_norm", points=1)
def test_layer_norm_eps_inside_the_sqrt(transformer, seed):
    # oracle: F.layer_norm with a large eps on small-variance tokens (eps placement matters here)
    g = gen(seed, 3)
    x = randn(g, 4, 5, scale=0.1)
    gamma, beta = torch.ones(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    check_close(call(transformer, "layer_norm", x, gamma, beta, eps=0.01), F.layer_norm(x, (5,), gamma, beta, eps=0.01),
                "layer_norm with eps=0.01", **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("layer_norm", points=1, needs_core=True)
def test_layer_norm_of_constant_token_is_beta(transformer):
    # property: a constant token has variance 0: (x - mean) = 0, so the output is beta, not NaN
    beta = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    x = torch.full((2, 3), 7.0, dtype=torch.float64)
    y = call(transformer, "layer_norm", x, torch.ones(3, dtype=torch.float64), beta)
    check_finite(y, "layer_norm of a constant token")
    check_close(y, beta.expand(2, 3), "layer_norm of a constant token", **TOL[torch.float64])


@pytest.mark.exercise("layer_norm", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "case, name",
    [("gamma_length", "gamma"), ("gamma_broadcasts", "gamma"), ("beta_broadcasts", "beta"), ("x_scalar", "x")],
)
def test_layer_norm_rejects_bad_shapes(transformer, case, name):
    # contract (docstring): gamma / beta not (d,) (even when they would broadcast), x 0-dim -> ValueError naming it
    x, gamma, beta = torch.zeros(2, 4), torch.ones(4), torch.zeros(4)
    if case == "gamma_length":
        gamma = torch.ones(3)
    elif case == "gamma_broadcasts":
        gamma = torch.ones(1)
    elif case == "beta_broadcasts":
        beta = torch.zeros(1, 4)
    else:
        x = torch.tensor(1.0)
    expect_value_error(transformer, "layer_norm", name, x, gamma, beta)


# --- feed_forward -------------------------------------------------------------------------


@pytest.mark.exercise("feed_forward", points=1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_feed_forward_matches_torch(transformer, seed, dtype):
    # oracle: nn.Sequential(nn.Linear, nn.ReLU, nn.Linear) with weight = W.T
    g = gen(seed, 4)
    d, d_ff, d_out = 6, 10, 5
    x = randn(g, 2, 7, d, dtype=dtype)
    W1, b1 = randn(g, d, d_ff, dtype=dtype), randn(g, d_ff, dtype=dtype)
    W2, b2 = randn(g, d_ff, d_out, dtype=dtype), randn(g, d_out, dtype=dtype)
    out = call(transformer, "feed_forward", x, W1, b1, W2, b2)
    net = nn.Sequential(nn.Linear(d, d_ff, dtype=dtype), nn.ReLU(), nn.Linear(d_ff, d_out, dtype=dtype))
    with torch.no_grad():
        net[0].weight.copy_(W1.T)
        net[0].bias.copy_(b1)
        net[2].weight.copy_(W2.T)
        net[2].bias.copy_(b2)
        expected = net(x)
    check_dtype(out, dtype, "feed_forward(x, ...)")
    check_close(out, expected, "feed_forward", **TOL[dtype])


@pytest.mark.exercise("feed_forward", points=0.25, needs_core=True)
@pytest.mark.parametrize("case", ["W1", "W1_1d", "b1", "W2", "b2"])
def test_feed_forward_rejects_mismatched_weights(transformer, case):
    # contract (docstring): a weight or bias that does not fit (even one that would broadcast) -> ValueError naming it
    args = {"W1": torch.zeros(4, 8), "b1": torch.zeros(8), "W2": torch.zeros(8, 3), "b2": torch.zeros(3)}
    bad = {"W1": torch.zeros(5, 8), "W1_1d": torch.zeros(4), "b1": torch.zeros(1), "W2": torch.zeros(6, 3),
           "b2": torch.zeros(1)}  # fmt: skip
    name = case.removesuffix("_1d")
    args[name] = bad[case]
    expect_value_error(transformer, "feed_forward", name, torch.zeros(2, 4), *args.values())


@pytest.mark.exercise("feed_forward", points=1, needs_core=True)
def test_feed_forward_of_one_token_vector(transformer, seed):
    # contract (docstring): x is (..., d), so a single token vector (d,) works; oracle: the formula in torch
    g = gen(seed, 34)
    x, W1, b1 = randn(g, 6), randn(g, 6, 9), randn(g, 9)
    W2, b2 = randn(g, 9, 6), randn(g, 6)
    out = call(transformer, "feed_forward", x, W1, b1, W2, b2)
    check_close(out, torch.relu(x @ W1 + b1) @ W2 + b2, "feed_forward of a (d,) vector", **TOL[torch.float64])


# --- split_heads / merge_heads ------------------------------------------------------------


@pytest.mark.exercise("split_heads", points=1)
def test_split_heads_matches_loop(transformer, seed):
    # oracle: a loop — head i of token t is x[b, t, i*dh:(i+1)*dh]
    B, T, d, h = 2, 5, 12, 3
    x = randn(gen(seed, 5), B, T, d)
    heads = call(transformer, "split_heads", x, h)
    check_shape(heads, (B, h, T, d // h), "split_heads(x, 3)")
    expected = torch.stack([x[:, :, i * 4 : (i + 1) * 4] for i in range(h)], dim=1)
    check_close(heads, expected, "split_heads(x, 3)", rtol=0, atol=0)


@pytest.mark.exercise("split_heads", points=1, needs_core=True)
def test_split_heads_with_more_leading_dims(transformer, seed):
    # contract (docstring): (..., T, d) -> (..., h, T, d_h), float32 kept; oracle: the loop over heads
    x = randn(gen(seed, 32), 2, 3, 4, 6, dtype=torch.float32)
    heads = call(transformer, "split_heads", x, 2)
    check_close(heads, torch.stack([x[..., :3], x[..., 3:]], dim=-3), "split_heads of a (2, 3, 4, 6) x", rtol=0, atol=0)


@pytest.mark.exercise("split_heads", points=1, needs_core=True)
@pytest.mark.parametrize("n_heads", [1, 6], ids=["one_head", "d_h_1"])
def test_split_heads_edge_cases(transformer, seed, n_heads):
    # contract (docstring): (T, d) without a batch axis -> (h, T, d_h); n_heads = 1 and n_heads = d are allowed
    x = randn(gen(seed, 35), 5, 6)
    heads = call(transformer, "split_heads", x, n_heads)
    dh = 6 // n_heads
    expected = torch.stack([x[:, i * dh : (i + 1) * dh] for i in range(n_heads)], dim=0)
    check_close(heads, expected, f"split_heads of a (5, 6) x with n_heads={n_heads}", rtol=0, atol=0)


@pytest.mark.exercise("split_heads", points=1, needs_core=True)
def test_split_then_merge_is_the_identity(transformer, transformer_ref, seed):
    # property: merge_heads(split_heads(x)) == x (merge_heads of the reference)
    x = randn(gen(seed, 6), 3, 4, 8)
    round_trip = transformer_ref.merge_heads(call(transformer, "split_heads", x, 4))
    check_close(round_trip, x, "merge_heads(split_heads(x, 4))", rtol=0, atol=0)


@pytest.mark.exercise("split_heads", points=0.25, needs_core=True)
@pytest.mark.parametrize("n_heads", [3, 0, -2, 2.0], ids=["not_dividing", "zero", "negative", "float"])
def test_split_heads_rejects_bad_n_heads(transformer, n_heads):
    # contract: n_heads not a positive int dividing d -> ValueError naming n_heads
    expect_value_error(transformer, "split_heads", "n_heads", torch.zeros(2, 3, 8), n_heads)


@pytest.mark.exercise("split_heads", points=0.5, needs_core=True)
def test_split_heads_rejects_a_vector(transformer):
    # contract (docstring): x with fewer than 2 dimensions -> ValueError naming x
    expect_value_error(transformer, "split_heads", "x", torch.zeros(8), 2)


@pytest.mark.exercise("merge_heads", points=1)
def test_merge_heads_matches_loop(transformer, seed):
    # oracle: a loop — features [i*dh, (i+1)*dh) of token t come from head i
    B, h, T, dh = 2, 3, 5, 4
    heads = randn(gen(seed, 7), B, h, T, dh)
    x = call(transformer, "merge_heads", heads)
    check_shape(x, (B, T, h * dh), "merge_heads(heads)")
    check_close(x, torch.cat([heads[:, i] for i in range(h)], dim=-1), "merge_heads(heads)", rtol=0, atol=0)


@pytest.mark.exercise("merge_heads", points=1, needs_core=True)
def test_merge_heads_with_more_leading_dims(transformer, seed):
    # contract (docstring): (..., h, T, d_h) -> (..., T, h*d_h), float32 kept; oracle: concatenating the heads
    heads = randn(gen(seed, 33), 2, 3, 2, 4, 5, dtype=torch.float32)
    x = call(transformer, "merge_heads", heads)
    check_close(x, torch.cat([heads[..., 0, :, :], heads[..., 1, :, :]], dim=-1),
                "merge_heads of (2, 3, 2, 4, 5) heads", rtol=0, atol=0)  # fmt: skip


@pytest.mark.exercise("merge_heads", points=1, needs_core=True)
def test_merge_heads_without_batch_axis(transformer, seed):
    # contract (docstring): fewer than 3 dims is an error, so (h, T, d_h) works -> (T, h*d_h)
    heads = randn(gen(seed, 36), 3, 4, 2)
    x = call(transformer, "merge_heads", heads)
    check_close(x, torch.cat([heads[0], heads[1], heads[2]], dim=-1), "merge_heads of (3, 4, 2) heads", rtol=0, atol=0)


@pytest.mark.exercise("merge_heads", points=1, needs_core=True)
def test_merge_heads_rejects_2d(transformer):
    # contract: x must be (B, h, T, dh); ValueError naming x
    expect_value_error(transformer, "merge_heads", "x", torch.zeros(3, 4))


# --- scaled_dot_product_attention ---------------------------------------------------------


def weights_oracle(q, k, mask):
    """Attention weights from F.scaled_dot_product_attention: attend over the identity values."""
    eye = torch.eye(k.shape[-2], dtype=q.dtype).expand(*k.shape[:-1], k.shape[-2])
    return F.scaled_dot_product_attention(q, k, eye, attn_mask=mask)


def sdpa_oracle(q, k, v, mask=None):
    """(out, weights) of F.scaled_dot_product_attention; fully masked rows defined as 0 (course convention)."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return torch.nan_to_num(out, nan=0.0), torch.nan_to_num(weights_oracle(q, k, mask), nan=0.0)


@pytest.mark.exercise("scaled_dot_product_attention", points=1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_matches_torch(transformer, seed, dtype):
    # oracle: F.scaled_dot_product_attention; leading batch dims, Tq != Tk, d_v != d_k
    g = gen(seed, 8)
    q, k, v = randn(g, 2, 3, 4, 6, dtype=dtype), randn(g, 2, 3, 7, 6, dtype=dtype), randn(g, 2, 3, 7, 5, dtype=dtype)
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v)
    check_tensor(out, "out")
    check_dtype(out, dtype, "out")
    check_close(out, F.scaled_dot_product_attention(q, k, v), "out", **TOL[dtype])
    check_close(weights, weights_oracle(q, k, None), "weights", **TOL[dtype])


@pytest.mark.exercise("scaled_dot_product_attention", points=1)
def test_sdpa_with_mask_matches_torch(transformer, seed):
    # oracle: F.scaled_dot_product_attention with a bool attn_mask (True = may attend) broadcast (Tq, Tk)
    g = gen(seed, 9)
    q, k, v = randn(g, 2, 5, 4), randn(g, 2, 6, 4), randn(g, 2, 6, 3)
    mask = torch.rand(5, 6, generator=g) < 0.6
    mask[:, 2] = True  # every query sees at least one key
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v, mask=mask)
    check_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), "out with a mask", **TOL[torch.float64])
    check_close(weights, weights_oracle(q, k, mask), "weights with a mask", **TOL[torch.float64])


@pytest.mark.exercise("scaled_dot_product_attention", points=1, needs_core=True)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_masked_keys_change_nothing(transformer, seed, dtype):
    # property: ±1e10 in masked keys and values changes nothing; oracle: SDPA on the clean keys/values
    g = gen(seed, 10)
    q, k, v = randn(g, 3, 4, dtype=dtype), randn(g, 5, 4, dtype=dtype), randn(g, 5, 2, dtype=dtype)
    mask = torch.tensor([True, True, False, True, False])
    k2, v2 = k.clone(), v.clone()
    k2[~mask] = huge_both_signs(g, 2, 4).to(dtype)
    v2[~mask] = huge_both_signs(g, 2, 2).to(dtype)
    out, weights = call(transformer, "scaled_dot_product_attention", q, k2, v2, mask=mask)
    expected_out, expected_weights = sdpa_oracle(q, k, v, mask)
    check_finite(out, "out with huge masked keys")
    check_close(out, expected_out, "out with ±1e10 in masked keys/values", **TOL[dtype])
    check_close(weights, expected_weights, "weights with ±1e10 in masked keys", **TOL[dtype])


@pytest.mark.exercise("scaled_dot_product_attention", points=1, needs_core=True)
def test_sdpa_fully_masked_row_is_zero(transformer, seed):
    # contract: a query whose keys are all masked gets weights 0 and output 0 (no NaN), whatever the keys hold
    g = gen(seed, 11)
    q, k, v = randn(g, 3, 4), randn(g, 4, 4), randn(g, 4, 2)
    k[1], v[1] = huge_both_signs(g, 4), huge_both_signs(g, 2)  # key 1 is masked for every query
    mask = torch.tensor([[True, False, True, True], [False, False, False, False], [False, False, True, False]])
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v, mask=mask)
    check_finite(out, "out")
    check_finite(weights, "weights")
    check_close(weights[1], torch.zeros(4, dtype=torch.float64), "weights of a fully masked query", rtol=0, atol=0)
    check_close(out[1], torch.zeros(2, dtype=torch.float64), "out of a fully masked query", rtol=0, atol=0)
    check_close(weights[2], torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64), "weights of a one-key query",
                **TOL[torch.float64])  # fmt: skip
    expected_out, _ = sdpa_oracle(q, k, v, mask)
    check_close(out, expected_out, "out with a fully masked query", **TOL[torch.float64])


@pytest.mark.exercise("scaled_dot_product_attention", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "case, name",
    [
        ("q_1d", "q"),
        ("k_width", "k"),
        ("v_length", "v"),
        ("mask_float", "mask"),
        ("mask_int", "mask"),
        ("mask_shape", "mask"),
    ],
)
def test_sdpa_rejects_bad_arguments(transformer, case, name):
    # contract (docstring): shapes that do not fit name q, k, v; a mask that is not bool or does not broadcast names mask
    q, k, v, mask = torch.zeros(3, 4), torch.zeros(5, 4), torch.zeros(5, 2), torch.ones(3, 5, dtype=torch.bool)
    if case == "q_1d":
        q = torch.zeros(4)
    elif case == "k_width":
        k = torch.zeros(5, 3)
    elif case == "v_length":
        v = torch.zeros(6, 2)
    elif case == "mask_float":
        mask = torch.ones(3, 5)
    elif case == "mask_int":
        mask = torch.ones(3, 5, dtype=torch.int64)
    else:
        mask = torch.ones(3, 4, dtype=torch.bool)
    expect_value_error(transformer, "scaled_dot_product_attention", name, q, k, v, mask=mask)


# --- multi_head_attention -----------------------------------------------------------------


@pytest.mark.exercise("multi_head_attention", points=1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mha_self_attention_matches_torch(transformer, seed, dtype):
    # oracle: nn.MultiheadAttention(batch_first=True), in_proj = cat(W_q.T, W_k.T, W_v.T), attn_mask = ~mask
    g = gen(seed, 12)
    B, T, d, h = 2, 6, 12, 3
    p = mha_params(g, d, dtype)
    x = randn(g, B, T, d, dtype=dtype)
    mask = torch.rand(T, T, generator=g) < 0.7
    mask.fill_diagonal_(True)
    out, weights = call(transformer, "multi_head_attention", x, x, p, h, mask=mask)
    with torch.no_grad():
        exp_out, exp_w = torch_mha(p, d, h, dtype)(x, x, x, attn_mask=~mask, average_attn_weights=False)
    check_tensor(out, "out")
    check_dtype(out, dtype, "out")
    check_shape(weights, (B, h, T, T), "weights")
    check_close(out, exp_out, "out", **TOL[dtype])
    check_close(weights, exp_w, "weights of every head", **TOL[dtype])


@pytest.mark.exercise("multi_head_attention", points=1)
def test_mha_cross_attention_with_padding_mask(transformer, seed):
    # oracle: nn.MultiheadAttention with key_padding_mask = ~mask; Tq != Tk; mask (B, 1, 1, Tk)
    g = gen(seed, 13)
    B, Tq, Tk, d, h = 3, 4, 7, 8, 4
    p = mha_params(g, d, torch.float64)
    x_q, x_kv = randn(g, B, Tq, d), randn(g, B, Tk, d)
    keep = torch.arange(Tk)[None, :] < torch.tensor([7, 3, 5])[:, None]  # (B, Tk)
    out, weights = call(transformer, "multi_head_attention", x_q, x_kv, p, h, mask=keep[:, None, None, :])
    with torch.no_grad():
        exp_out, exp_w = torch_mha(p, d, h, torch.float64)(
            x_q, x_kv, x_kv, key_padding_mask=~keep, average_attn_weights=False
        )
    check_close(out, exp_out, "out with a padding mask", **TOL[torch.float64])
    check_close(weights, exp_w, "weights with a padding mask", **TOL[torch.float64])


@pytest.mark.exercise("multi_head_attention", points=1, needs_core=True)
def test_mha_padded_keys_change_nothing(transformer, seed):
    # property: ±1e6 in padded x_kv rows changes nothing; oracle: nn.MultiheadAttention on the clean x_kv
    g = gen(seed, 23)
    B, Tq, Tk, d, h = 2, 3, 5, 8, 2
    p = mha_params(g, d, torch.float64)
    x_q, x_kv = randn(g, B, Tq, d), randn(g, B, Tk, d)
    keep = torch.arange(Tk)[None, :] < torch.tensor([3, 4])[:, None]
    poisoned = x_kv.clone()
    poisoned[~keep] = huge_both_signs(g, int((~keep).sum()), d, big=1e6)
    out, weights = call(transformer, "multi_head_attention", x_q, poisoned, p, h, mask=keep[:, None, None, :])
    with torch.no_grad():
        exp_out, exp_w = torch_mha(p, d, h, torch.float64)(
            x_q, x_kv, x_kv, key_padding_mask=~keep, average_attn_weights=False
        )
    check_close(out, exp_out, "out when padded keys hold ±1e6", **TOL[torch.float64])
    check_close(weights, exp_w, "weights when padded keys hold ±1e6", **TOL[torch.float64])


@pytest.mark.exercise("multi_head_attention", points=1)
def test_mha_per_head_mask(transformer, seed):
    # oracle: nn.MultiheadAttention with a (B*h, Tq, Tk) attn_mask = ~mask.reshape(B*h, Tq, Tk)
    g = gen(seed, 14)
    B, T, d, h = 2, 5, 8, 2
    p = mha_params(g, d, torch.float64)
    x = randn(g, B, T, d)
    mask = torch.rand(B, h, T, T, generator=g) < 0.5
    mask[..., 0] = True
    out, _ = call(transformer, "multi_head_attention", x, x, p, h, mask=mask)
    with torch.no_grad():
        exp_out, _ = torch_mha(p, d, h, torch.float64)(x, x, x, attn_mask=~mask.reshape(B * h, T, T))
    check_close(out, exp_out, "out with a per-head mask", **TOL[torch.float64])


@pytest.mark.exercise("multi_head_attention", points=1, needs_core=True)
def test_mha_fully_masked_query_is_finite(transformer, seed):
    # contract: a query that may attend to nothing has weights 0 in every head and output b_o
    g = gen(seed, 15)
    d, h = 8, 2
    p = mha_params(g, d, torch.float64)
    x = randn(g, 1, 3, d)
    mask = torch.tensor([[True, True, True], [False, False, False], [True, False, True]])
    out, weights = call(transformer, "multi_head_attention", x, x, p, h, mask=mask)
    check_finite(out, "out")
    check_close(weights[0, :, 1], torch.zeros(h, 3, dtype=torch.float64), "weights of a fully masked query",
                rtol=0, atol=0)  # fmt: skip
    check_close(out[0, 1], p["b_o"], "output of a fully masked query (0 @ W_o + b_o)", **TOL[torch.float64])


MHA_BAD = {
    "x_q_2d": "x_q",
    "x_kv_batch": "x_kv",
    "x_kv_width": "x_kv",
    "n_heads": "n_heads",
    "missing_W_o": "W_o",
    "b_q_shape": "b_q",
    "W_k_shape": "W_k",
    "mask_float": "mask",
    "mask_shape": "mask",
}


@pytest.mark.exercise("multi_head_attention", points=0.25, needs_core=True)
@pytest.mark.parametrize("case", list(MHA_BAD))
def test_mha_rejects_bad_arguments(transformer, seed, case):
    # contract (docstring): misshapen params (names the key), x_kv of another batch size or width (names x_kv),
    # n_heads not dividing d (names n_heads), a bad mask (names mask)
    p = mha_params(gen(seed, 16), 8, torch.float64)
    x_q, x_kv, n_heads, mask = (
        torch.zeros(3, 2, 8, dtype=torch.float64),
        torch.zeros(3, 4, 8, dtype=torch.float64),
        2,
        None,
    )
    if case == "x_q_2d":
        x_q = torch.zeros(2, 8, dtype=torch.float64)
    elif case == "x_kv_batch":
        x_kv = torch.zeros(1, 4, 8, dtype=torch.float64)  # would broadcast over the batch
    elif case == "x_kv_width":
        x_kv = torch.zeros(3, 4, 6, dtype=torch.float64)
    elif case == "n_heads":
        n_heads = 3
    elif case == "missing_W_o":
        p = with_key(p, "W_o", None)
    elif case == "b_q_shape":
        p = with_key(p, "b_q", torch.zeros(1, dtype=torch.float64))  # would broadcast
    elif case == "W_k_shape":
        p = with_key(p, "W_k", torch.zeros(8, 4, dtype=torch.float64))
    elif case == "mask_float":
        mask = torch.ones(2, 4, dtype=torch.float64)
    else:
        mask = torch.ones(2, 3, dtype=torch.bool)
    expect_value_error(transformer, "multi_head_attention", MHA_BAD[case], x_q, x_kv, p, n_heads, mask=mask)


# --- transformer_block --------------------------------------------------------------------


@pytest.mark.exercise("transformer_block", points=1)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_block_matches_torch(transformer, seed, norm_first):
    # oracle: nn.TransformerEncoderLayer(dropout=0, batch_first=True, norm_first=...) with a causal src_mask
    g = gen(seed, 17 + norm_first)
    B, T, d, h, d_ff = 2, 6, 8, 2, 16
    p = block_params(g, d, d_ff, torch.float64)
    x = randn(g, B, T, d)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    out = call(transformer, "transformer_block", x, p, h, mask=mask, norm_first=norm_first)
    check_tensor(out, "transformer_block(x, ...)")
    check_shape(out, (B, T, d), "transformer_block(x, ...)")
    with torch.no_grad():
        expected = torch_block(p, d, h, d_ff, torch.float64, norm_first)(x, src_mask=~mask)
    check_close(out, expected, "post-LN block" if not norm_first else "pre-LN block", **TOL[torch.float64])


@pytest.mark.exercise("transformer_block", points=1)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_block_float32_with_padding_mask(transformer, seed, norm_first):
    # oracle: nn.TransformerEncoderLayer with src_key_padding_mask = ~keep, float32
    g = gen(seed, 19 + norm_first)
    B, T, d, h, d_ff = 3, 5, 8, 4, 12
    p = block_params(g, d, d_ff, torch.float32)
    x = randn(g, B, T, d, dtype=torch.float32)
    keep = torch.arange(T)[None, :] < torch.tensor([5, 2, 4])[:, None]
    out = call(transformer, "transformer_block", x, p, h, mask=keep[:, None, None, :], norm_first=norm_first)
    check_dtype(out, torch.float32, "transformer_block(x float32)")
    with torch.no_grad():
        expected = torch_block(p, d, h, d_ff, torch.float32, norm_first)(x, src_key_padding_mask=~keep)
    check_close(out, expected, "block with a padding mask (float32)", **TOL[torch.float32])


@pytest.mark.exercise("transformer_block", points=1, needs_core=True)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_block_fully_masked_sequence(transformer, seed, norm_first):
    # convention: tokens that may attend to nothing get attention output b_o (weights 0), never NaN;
    # oracle: nn.TransformerEncoderLayer with W_o = 0 (its attention output is then b_o for every token)
    g = gen(seed, 24 + norm_first)
    B, T, d, h, d_ff = 2, 4, 8, 2, 12
    p = block_params(g, d, d_ff, torch.float64)
    x = randn(g, B, T, d)
    keep = torch.tensor([[True, True, True, False], [False, False, False, False]])
    out = call(transformer, "transformer_block", x, p, h, mask=keep[:, None, None, :], norm_first=norm_first)
    check_finite(out, "block output for a sequence whose keys are all masked")
    silent = dict(p, attn=with_key(p["attn"], "W_o", torch.zeros(d, d, dtype=torch.float64)))
    with torch.no_grad():
        expected_1 = torch_block(silent, d, h, d_ff, torch.float64, norm_first)(x[1:])
        expected_0 = torch_block(p, d, h, d_ff, torch.float64, norm_first)(x[:1], src_key_padding_mask=~keep[:1])
    check_close(out[1:], expected_1, "block output for a sequence whose keys are all masked", **TOL[torch.float64])
    check_close(out[:1], expected_0, "block output for the other sequence", **TOL[torch.float64])


@pytest.mark.exercise("transformer_block", points=1, needs_core=True)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_block_padded_tokens_change_no_real_output(transformer, seed, norm_first):
    # property: with a padding mask, ±1e6 in padded tokens changes no real token's output;
    # oracle: nn.TransformerEncoderLayer with src_key_padding_mask on the clean input
    g = gen(seed, 26 + norm_first)
    B, T, d, h, d_ff = 2, 5, 8, 2, 12
    p = block_params(g, d, d_ff, torch.float64)
    x = randn(g, B, T, d)
    keep = torch.arange(T)[None, :] < torch.tensor([3, 4])[:, None]
    poisoned = x.clone()
    poisoned[~keep] = huge_both_signs(g, int((~keep).sum()), d, big=1e6)
    out = call(transformer, "transformer_block", poisoned, p, h, mask=keep[:, None, None, :], norm_first=norm_first)
    with torch.no_grad():
        expected = torch_block(p, d, h, d_ff, torch.float64, norm_first)(x, src_key_padding_mask=~keep)
    check_close(out[keep], expected[keep], "outputs at real tokens when padded tokens hold ±1e6", **TOL[torch.float64])


@pytest.mark.exercise("transformer_block", points=1, needs_core=True)
def test_block_is_permutation_equivariant(transformer, seed):
    # property: without positional encoding and mask, permuting the tokens permutes the output
    g = gen(seed, 21)
    p = block_params(g, 8, 16, torch.float64)
    x = randn(g, 2, 7, 8)
    perm = torch.randperm(7, generator=g)
    out = call(transformer, "transformer_block", x, p, 2)
    out_perm = call(transformer, "transformer_block", x[:, perm], p, 2)
    check_close(out_perm, out[:, perm], "block(x[:, perm]) compared with block(x)[:, perm]", **TOL[torch.float64])


@pytest.mark.exercise("transformer_block", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "where, key",
    [(None, "attn"), (None, "ln1"), (None, "ffn"), (None, "ln2"), ("ln2", "gamma"), ("ffn", "W2")],
    ids=["attn", "ln1", "ffn", "ln2", "ln2_gamma", "ffn_W2"],
)
def test_block_rejects_missing_params(transformer, seed, where, key):
    # contract (docstring): a missing entry of params -> ValueError naming it (not a KeyError)
    p = block_params(gen(seed, 22), 8, 16, torch.float64)
    p = with_key(p, key, None) if where is None else dict(p, **{where: with_key(p[where], key, None)})
    expect_value_error(transformer, "transformer_block", key, torch.zeros(1, 3, 8, dtype=torch.float64), p, 2)


# --- contract details the mutation testing showed untested --------------------------------


@pytest.mark.exercise("positional_encoding", points=1, needs_core=True)
def test_positional_encoding_is_accurate_at_long_sequences(transformer):
    # oracle: the float64 formula; contract (docstring): computed in float64, rounded once to float32,
    # so even at position 2047 the angles keep their digits (float32 angles are off by ~1e-4 there)
    T, d = 2048, 64
    pe = call(transformer, "positional_encoding", T, d)
    check_close(pe, pe_formula(T, d), f"positional_encoding({T}, {d}) at late positions", rtol=1e-4, atol=1e-5)


@pytest.mark.exercise("add_positional_encoding", points=0.5, needs_core=True)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_add_positional_encoding_keeps_a_half_precision_dtype(transformer, dtype):
    # contract (docstring): the result has x's dtype (pe is cast to it), also for 16-bit floats
    x = torch.zeros(2, 5, 4, dtype=dtype)
    out = call(transformer, "add_positional_encoding", x)
    check_dtype(out, dtype, f"add_positional_encoding(x) for {dtype} x")
    expected = torch.from_numpy(pe_formula(5, 4)).expand(2, 5, 4)
    check_close(out.double(), expected, "x + pe for x = 0", rtol=1e-2, atol=1e-2)


@pytest.mark.exercise("transformer_block", points=0.25, needs_core=True)
def test_block_rejects_params_that_are_not_a_dict(transformer):
    # contract (docstring): params of the wrong kind -> ValueError naming params
    x = torch.zeros(1, 3, 8, dtype=torch.float64)
    expect_value_error(transformer, "transformer_block", "params", x, [("attn", {})], 2)


@pytest.mark.exercise("transformer_block", points=0.25, needs_core=True)
@pytest.mark.parametrize(
    "where, key", [("ln1", "gamma"), ("ln2", "beta"), ("ffn", "W1"), ("ffn", "b2")], ids=lambda v: str(v)
)
def test_block_names_the_dict_a_missing_entry_belongs_to(transformer, seed, where, key):
    # contract (docstring): the message names the entry with the dict it is missing from
    # (params['ln1'] and params['ln2'] both hold a gamma and a beta)
    p = block_params(gen(seed, 23), 8, 16, torch.float64)
    p = dict(p, **{where: with_key(p[where], key, None)})
    x = torch.zeros(1, 3, 8, dtype=torch.float64)
    expect_value_error(transformer, "transformer_block", f"params['{where}']", x, p, 2,
                       pattern=rf"params\['{where}")  # fmt: skip
    expect_value_error(transformer, "transformer_block", key, x, p, 2)
