"""Hidden tests for §42 GPT と Mixture of Experts (never shipped to students).

Seeded random models and inputs (base seed from the `seed` fixture), float64 and float32.
Oracles: F.scaled_dot_product_attention(is_causal=True), F.layer_norm and F.gelu (exact erf)
assembled into an independent GPT; plain Python loops for filtering, greedy generation, routing
(a dense loop over every expert) and the load-balancing loss; and properties (causality, the
first token attends to itself only, weights sum to 1, gradients reach the router, uniform routing
gives loss 1 and collapsed routing ≈ E, seeded sampling is reproducible).
"""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.calls import call, call_each, call_exercise, call_with_grad
from grader.checks import (
    CheckFailure,
    check_close,
    check_dtype,
    check_equal,
    check_finite,
    check_shape,
    check_tensor,
)

F64 = dict(rtol=1e-7, atol=1e-10)
F32 = dict(rtol=1e-4, atol=1e-5)
DTYPES = [torch.float64, torch.float32]


def rng_for(seed, k):
    return np.random.default_rng([seed, 42, k])


def gen(seed, k):
    return torch.Generator().manual_seed(seed * 1000 + 42_000 + k)


def tol(dtype):
    return F64 if dtype == torch.float64 else F32


def expect_value_error(fn, what, names):
    """``fn()`` must raise ValueError whose message names the bad argument ``names`` as a word (not
    inside another word: "x" is not named by Python's "not enough values to unpack (expected 3)")."""
    try:
        fn()
    except ValueError as e:
        if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(names)}(?![A-Za-z0-9_])", str(e)):
            raise CheckFailure(f"{what}: the ValueError's message should name `{names}`") from None
        return
    except (NotImplementedError, CheckFailure):
        raise
    except Exception as e:  # noqa: BLE001
        raise CheckFailure(f"{what} should raise ValueError, got {type(e).__name__}") from None
    raise CheckFailure(f"{what} should raise ValueError, but returned normally")


def raising(target, name, *args, **kwargs):
    """A call that is expected to raise: the dtype convention has no result to check."""
    return lambda: call_exercise(target, name, args, kwargs, check_dtypes=False)


# --- random parameters --------------------------------------------------------------------


def randn(g, *shape, dtype=torch.float64, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=torch.float64).mul(scale).to(dtype)


def ln_params(g, d, dtype):
    return {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.2), "beta": randn(g, d, dtype=dtype, scale=0.2)}


def attn_params(g, d, dtype, scale=None):
    s = scale if scale is not None else 1.0 / math.sqrt(d)
    return {
        "W_qkv": randn(g, d, 3 * d, dtype=dtype, scale=2 * s),
        "b_qkv": randn(g, 3 * d, dtype=dtype, scale=0.2),
        "W_o": randn(g, d, d, dtype=dtype, scale=s),
        "b_o": randn(g, d, dtype=dtype, scale=0.2),
    }


def block_params(g, d, dtype, d_ff=None):
    d_ff = d_ff or 4 * d
    return {
        "ln1": ln_params(g, d, dtype),
        "attn": attn_params(g, d, dtype),
        "ln2": ln_params(g, d, dtype),
        "mlp": {
            "W_fc": randn(g, d, d_ff, dtype=dtype, scale=2.0 / math.sqrt(d)),
            "b_fc": randn(g, d_ff, dtype=dtype, scale=0.5),
            "W_proj": randn(g, d_ff, d, dtype=dtype, scale=1.0 / math.sqrt(d_ff)),
            "b_proj": randn(g, d, dtype=dtype, scale=0.2),
        },
    }


def gpt_params(g, n_vocab, T_max, d, n_layers, dtype=torch.float64):
    return {
        "wte": randn(g, n_vocab, d, dtype=dtype),
        "wpe": randn(g, T_max, d, dtype=dtype, scale=0.5),
        "blocks": [block_params(g, d, dtype) for _ in range(n_layers)],
        "ln_f": ln_params(g, d, dtype),
    }


# --- the independent oracle GPT (torch built-ins) ---------------------------------------------


def oracle_attention(x, p, n_heads):
    """F.scaled_dot_product_attention(is_causal=True) on the packed q, k, v projections."""
    B, T, d = x.shape
    q, k, v = (x @ p["W_qkv"] + p["b_qkv"]).split(d, dim=-1)
    heads = lambda t: t.reshape(B, T, n_heads, d // n_heads).transpose(1, 2)  # noqa: E731
    y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
    return y.transpose(1, 2).reshape(B, T, d) @ p["W_o"] + p["b_o"]


def oracle_ln(x, p):
    return F.layer_norm(x, x.shape[-1:], p["gamma"], p["beta"], eps=1e-5)


def oracle_block(x, p, n_heads):
    x = x + oracle_attention(oracle_ln(x, p["ln1"]), p["attn"], n_heads)
    m = p["mlp"]
    return x + F.gelu(oracle_ln(x, p["ln2"]) @ m["W_fc"] + m["b_fc"]) @ m["W_proj"] + m["b_proj"]


def oracle_forward(ids, params, n_heads):
    h = params["wte"][ids] + params["wpe"][: ids.shape[1]]
    for block in params["blocks"]:
        h = oracle_block(h, block, n_heads)
    return oracle_ln(h, params["ln_f"]) @ params["wte"].T


def oracle_greedy(prompt, params, n_heads, n_new):
    """Plain loop: crop to T_max, forward, argmax of the last position, append."""
    ids, T_max = list(prompt), params["wpe"].shape[0]
    with torch.no_grad():
        for _ in range(n_new):
            logits = oracle_forward(torch.tensor([ids[-T_max:]]), params, n_heads)[0, -1]
            ids.append(int(torch.argmax(logits)))
    return ids[len(prompt) :]


def oracle_last_logits(prompt, params, n_heads):
    with torch.no_grad():
        return oracle_forward(torch.tensor([prompt[-params["wpe"].shape[0] :]]), params, n_heads)[0, -1]


# --- causal_mask --------------------------------------------------------------------------------


@pytest.mark.exercise("causal_mask", points=1)
def test_causal_mask_is_lower_triangular(gpt):
    # oracle: torch.tril of ones (diagonal included)
    for T in (1, 2, 5, 17):
        got = call(gpt, "causal_mask", T)
        check_tensor(got, f"causal_mask({T})")
        check_dtype(got, torch.bool, f"causal_mask({T})")
        check_equal(got, torch.ones(T, T).tril().bool(), f"causal_mask({T})")


@pytest.mark.exercise("causal_mask", points=1, needs_core=True)
def test_causal_mask_rejects_bad_lengths(gpt):
    # contract: seq_len must be a positive int (the message names seq_len)
    for bad in (0, -3, 2.0):
        expect_value_error(raising(gpt, "causal_mask", bad), f"causal_mask({bad!r})", "seq_len")


# --- causal_self_attention ---------------------------------------------------------------------


@pytest.mark.exercise("causal_self_attention", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_causal_self_attention_matches_torch_sdpa(gpt, seed, dtype):
    # oracle: F.scaled_dot_product_attention(is_causal=True) on the same projections; 1, 2, 4 heads
    for n_heads in (1, 2, 4):
        rng = rng_for(seed, 1 + n_heads)
        B, T = int(rng.integers(1, 4)), int(rng.integers(2, 9))
        g = gen(seed, 1 + n_heads)
        x = randn(g, B, T, 8, dtype=dtype)
        params = attn_params(g, 8, dtype)
        got = call(gpt, "causal_self_attention", x, params, n_heads)
        check_tensor(got, "causal_self_attention(x)")
        check_dtype(got, dtype, f"causal_self_attention(x) for {dtype} x")
        what = f"causal_self_attention with {n_heads} heads in {dtype}"
        check_close(got, oracle_attention(x, params, n_heads), what, **tol(dtype))


@pytest.mark.exercise("causal_self_attention", points=2, needs_core=True)
def test_causal_self_attention_ignores_the_future(gpt, seed):
    # property: changing the tokens after t never changes the outputs at positions <= t
    g = gen(seed, 10)
    x = randn(g, 2, 7, 8)
    params = attn_params(g, 8, torch.float64)
    before = call(gpt, "causal_self_attention", x, params, 2)
    for t in (0, 3, 5):
        x2 = x.clone()
        x2[:, t + 1 :] = randn(g, 2, 6 - t, 8, scale=5.0)
        after = call(gpt, "causal_self_attention", x2, params, 2)
        check_close(
            after[:, : t + 1], before[:, : t + 1], f"outputs at positions <= {t} after changing later tokens", **F64
        )


@pytest.mark.exercise("causal_self_attention", points=1, needs_core=True)
def test_causal_self_attention_future_tokens_of_huge_size_change_nothing(gpt, seed):
    # property: future tokens of size 1e10 (both signs) give scores far beyond any finite "minus a
    # large number" mask; masked keys must get weight exactly 0 (fill with -inf or select)
    g = gen(seed, 14)
    x = randn(g, 2, 6, 8)
    params = attn_params(g, 8, torch.float64)
    before = call(gpt, "causal_self_attention", x, params, 2)
    x2 = x.clone()
    x2[:, 3:] = torch.sign(randn(g, 2, 3, 8)) * 1e10
    after = call(gpt, "causal_self_attention", x2, params, 2)
    check_finite(after[:, :3], "outputs before the huge future tokens")
    check_close(after[:, :3], before[:, :3], "outputs at positions < 3 when later tokens are of size 1e10", **F64)


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_first_token_sees_itself_only(gpt, seed):
    # property: out[:, 0] equals attention over token 0 alone, i.e. (x0 W_v + b_v) W_o + b_o
    g = gen(seed, 11)
    x = randn(g, 3, 6, 8)
    p = attn_params(g, 8, torch.float64)
    out = call(gpt, "causal_self_attention", x, p, 4)
    alone = call(gpt, "causal_self_attention", x[:, :1], p, 4)
    v0 = x[:, 0] @ p["W_qkv"][:, 16:] + p["b_qkv"][16:]
    check_close(out[:, 0], v0 @ p["W_o"] + p["b_o"], "out[:, 0] (token 0 can only attend to itself)", **F64)
    check_close(out[:, :1], alone, "out[:, :1] compared with attention over x[:, :1] alone", **F64)


@pytest.mark.exercise("causal_self_attention", points=1, needs_core=True)
def test_causal_self_attention_leaves_its_inputs_alone(gpt, seed):
    # convention: neither x nor any weight in params is modified in place (checked by `call`)
    g = gen(seed, 12)
    x = randn(g, 2, 4, 8)
    p = attn_params(g, 8, torch.float64)
    check_shape(call(gpt, "causal_self_attention", x, p, 2), (2, 4, 8), "causal_self_attention(x)")


@pytest.mark.exercise("causal_self_attention", points=1, needs_core=True)
def test_causal_self_attention_rejects_bad_arguments(gpt, seed):
    # contract: n_heads a positive divisor of d; every weight of its shape; x is (B, T, d) with T >= 1;
    # the message names the argument
    g = gen(seed, 13)
    x, p = randn(g, 2, 4, 8), attn_params(g, 8, torch.float64)
    cases = [
        ((x, p, 3), "n_heads = 3 for d = 8", "n_heads"),
        ((x, p, 0), "n_heads = 0", "n_heads"),
        ((x[0], p, 2), "x of shape (T, d)", "x"),
        ((x[:, :0], p, 2), "x without tokens", "x"),
        ((x[:0], p, 2), "x with an empty batch", "x"),
        ((x, p, True), "n_heads = True (a bool, not a count)", "n_heads"),
        ((x, {**p, "W_qkv": randn(g, 8, 16)}, 2), "W_qkv of shape (d, 2d)", "W_qkv"),
        ((x, {**p, "b_qkv": randn(g, 8)}, 2), "b_qkv of shape (d,)", "b_qkv"),
        ((x, {**p, "W_o": randn(g, 8, 4)}, 2), "W_o of shape (d, d/2)", "W_o"),
        ((x, {**p, "b_o": randn(g, 4)}, 2), "b_o of shape (d/2,)", "b_o"),
    ]
    for args, what, names in cases:
        expect_value_error(raising(gpt, "causal_self_attention", *args), f"causal_self_attention with {what}", names)


# --- gpt_block ----------------------------------------------------------------------------------


@pytest.mark.exercise("gpt_block", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpt_block_matches_torch_oracle(gpt, seed, dtype):
    # oracle: x + SDPA(F.layer_norm(x)), then + F.gelu(F.layer_norm(x) W_fc + b_fc) W_proj + b_proj
    rng = rng_for(seed, 20)
    B, T = int(rng.integers(1, 4)), int(rng.integers(2, 8))
    g = gen(seed, 20)
    x = randn(g, B, T, 8, dtype=dtype)
    p = block_params(g, 8, dtype, d_ff=int(rng.integers(8, 33)))
    got = call(gpt, "gpt_block", x, p, 2)
    check_dtype(got, dtype, f"gpt_block(x) for {dtype} x")
    check_close(got, oracle_block(x, p, 2), f"gpt_block(x) in {dtype}", **tol(dtype))


@pytest.mark.exercise("gpt_block", points=1)
def test_gpt_block_uses_the_exact_gelu(gpt, seed):
    # oracle: with a zero attention sub-layer the block is x + mlp(ln2(x)); F.gelu(approximate="none")
    g = gen(seed, 21)
    x = randn(g, 2, 5, 8, scale=2.0)
    p = block_params(g, 8, torch.float64)
    p["attn"] = {k: torch.zeros_like(v) for k, v in p["attn"].items()}
    p["mlp"]["W_fc"] = p["mlp"]["W_fc"] * 3.0  # pre-activations spread over [-6, 6]: tanh GELU differs there
    m = p["mlp"]
    expected = (
        x + F.gelu(oracle_ln(x, p["ln2"]) @ m["W_fc"] + m["b_fc"], approximate="none") @ m["W_proj"] + m["b_proj"]
    )
    check_close(
        call(gpt, "gpt_block", x, p, 2), expected, "gpt_block with a zero attention sub-layer (exact erf GELU)", **F64
    )


@pytest.mark.exercise("gpt_block", points=1, needs_core=True)
def test_gpt_block_is_causal(gpt, seed):
    # property: changing the last tokens does not change the block's outputs before them
    g = gen(seed, 22)
    x = randn(g, 2, 6, 8)
    p = block_params(g, 8, torch.float64)
    x2 = x.clone()
    x2[:, 4:] = randn(g, 2, 2, 8, scale=3.0)
    check_close(
        call(gpt, "gpt_block", x2, p, 4)[:, :4],
        call(gpt, "gpt_block", x, p, 4)[:, :4],
        "gpt_block outputs at positions < 4",
        **F64,
    )


@pytest.mark.exercise("gpt_block", points=1, needs_core=True)
def test_gpt_block_rejects_bad_n_heads(gpt, seed):
    # contract: the errors of causal_self_attention (n_heads must divide d; the message names n_heads)
    g = gen(seed, 23)
    x, p = randn(g, 2, 3, 8), block_params(g, 8, torch.float64)
    expect_value_error(raising(gpt, "gpt_block", x, p, 3), "gpt_block with n_heads = 3 for d = 8", "n_heads")


# --- gpt_forward --------------------------------------------------------------------------------


@pytest.mark.exercise("gpt_forward", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpt_forward_matches_torch_oracle(gpt, seed, dtype):
    # oracle: embeddings + blocks built from F.layer_norm, SDPA and F.gelu, final LN, logits h @ wte.T
    rng = rng_for(seed, 30)
    n_vocab, T_max = int(rng.integers(5, 20)), 8
    B, T = int(rng.integers(1, 4)), int(rng.integers(1, T_max + 1))
    params = gpt_params(gen(seed, 30), n_vocab, T_max, 8, 2, dtype)
    ids = torch.from_numpy(rng.integers(0, n_vocab, size=(B, T)))
    got = call(gpt, "gpt_forward", ids, params, 2)
    check_tensor(got, "gpt_forward(ids)")
    check_dtype(got, dtype, f"gpt_forward logits for {dtype} weights")
    check_close(got, oracle_forward(ids, params, 2), f"gpt_forward logits in {dtype}", **tol(dtype))


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_without_blocks_is_embeddings_through_tied_head(gpt, seed):
    # oracle: no blocks: logits = LN_f(wte[ids] + wpe[:T]) @ wte.T (position embeddings added,
    # output layer shares wte)
    rng = rng_for(seed, 31)
    params = gpt_params(gen(seed, 31), 11, 6, 8, 0)
    ids = torch.from_numpy(rng.integers(0, 11, size=(2, 6)))
    expected = oracle_ln(params["wte"][ids] + params["wpe"], params["ln_f"]) @ params["wte"].T
    check_close(call(gpt, "gpt_forward", ids, params, 2), expected, "gpt_forward with no blocks", **F64)


@pytest.mark.exercise("gpt_forward", points=1, needs_core=True)
def test_gpt_forward_is_causal(gpt, seed):
    # property: logits at position t depend on ids[:, :t+1] only
    rng = rng_for(seed, 32)
    params = gpt_params(gen(seed, 32), 13, 8, 8, 2)
    ids = torch.from_numpy(rng.integers(0, 13, size=(2, 8)))
    ids2 = ids.clone()
    ids2[:, 5:] = (ids2[:, 5:] + 1) % 13
    check_close(
        call(gpt, "gpt_forward", ids2, params, 2)[:, :5],
        call(gpt, "gpt_forward", ids, params, 2)[:, :5],
        "logits at positions < 5",
        **F64,
    )


@pytest.mark.exercise("gpt_forward", points=1, needs_core=True)
def test_gpt_forward_accepts_exactly_T_max_tokens(gpt, seed):
    # oracle: T = T_max is allowed (only T > T_max is an error); the torch-built-in GPT
    rng = rng_for(seed, 34)
    params = gpt_params(gen(seed, 34), 9, 5, 8, 1)
    ids = torch.from_numpy(rng.integers(0, 9, size=(2, 5)))
    check_close(call(gpt, "gpt_forward", ids, params, 2), oracle_forward(ids, params, 2),
                "gpt_forward with T = T_max tokens", **F64)  # fmt: skip


@pytest.mark.exercise("gpt_forward", points=1, needs_core=True)
def test_gpt_forward_rejects_bad_ids(gpt, seed):
    # contract: ids is a non-empty (B, T) integer tensor with T <= T_max and ids in [0, n_vocab);
    # the message names ids
    params = gpt_params(gen(seed, 33), 9, 4, 8, 1)
    cases = {"ids longer than T_max": torch.zeros(1, 5, dtype=torch.long),
             "an id >= n_vocab": torch.tensor([[1, 9]]),
             "a negative id": torch.tensor([[1, -1]]),
             "float ids": torch.tensor([[1.0, 2.0]]),
             "ids without tokens": torch.zeros(1, 0, dtype=torch.long),
             "1-D ids": torch.tensor([1, 2])}  # fmt: skip
    for what, ids in cases.items():
        expect_value_error(raising(gpt, "gpt_forward", ids, params, 2), f"gpt_forward with {what}", "ids")


# --- lm_loss and perplexity ------------------------------------------------------------------------


def shifted_cross_entropy(logits, ids, pad_id=None):
    """Oracle: F.cross_entropy(ignore_index=pad_id) of logits[:, :-1] against ids[:, 1:]."""
    V = logits.shape[-1]
    ignore = -100 if pad_id is None else pad_id
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1), ignore_index=ignore)


def random_lm_batch(seed, k, dtype=torch.float64, scale=2.0):
    """Random (B, T, V), ids with a random pad id sprinkled over them (at least one real target)."""
    rng = rng_for(seed, k)
    B, T, V = (int(n) for n in (rng.integers(1, 5), rng.integers(2, 9), rng.integers(3, 12)))
    logits = randn(gen(seed, k), B, T, V, dtype=dtype, scale=scale)
    pad_id = int(rng.integers(0, V))
    ids = torch.from_numpy(rng.integers(0, V, size=(B, T)))
    ids[torch.from_numpy(rng.random((B, T)) < 0.3)] = pad_id
    ids[0, 1] = (pad_id + 1) % V  # one real target
    return logits, ids, pad_id


@pytest.mark.exercise("lm_loss", points=2)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_lm_loss_matches_shifted_cross_entropy(gpt, seed, dtype):
    # oracle: F.cross_entropy(ignore_index=pad_id) on logits[:, :-1] and ids[:, 1:]; random B, T, V
    for k in range(3):
        logits, ids, pad_id = random_lm_batch(seed, 100 + 10 * k + (dtype == torch.float32), dtype)
        loss = call(gpt, "lm_loss", logits, ids, pad_id=pad_id)
        check_tensor(loss, "lm_loss(logits, ids, pad_id)")
        check_shape(loss, (), "lm_loss(logits, ids, pad_id)")
        check_dtype(loss, dtype, "lm_loss(logits, ids, pad_id)")
        check_close(loss, shifted_cross_entropy(logits, ids, pad_id), "lm_loss with padding", **tol(dtype))


@pytest.mark.exercise("lm_loss", points=1)
def test_lm_loss_without_pad_id_counts_every_target(gpt, seed):
    # oracle: F.cross_entropy on the shifted tensors, nothing ignored (id 0 is an ordinary token)
    logits, ids, _ = random_lm_batch(seed, 110)
    check_close(call(gpt, "lm_loss", logits, ids), shifted_cross_entropy(logits, ids), "lm_loss with pad_id=None",
                **F64)  # fmt: skip


@pytest.mark.exercise("lm_loss", points=1)
def test_lm_loss_gradient_matches_cross_entropy(gpt, seed):
    # oracle: the gradient of F.cross_entropy(ignore_index=pad_id) on the shifted tensors (float64 autograd)
    logits, ids, pad_id = random_lm_batch(seed, 111)
    _, (grad,) = call_with_grad(gpt, "lm_loss", (logits, ids), dict(pad_id=pad_id), wrt=[logits])
    assert grad is not None, "lm_loss is not differentiable with respect to the logits"
    ref = logits.detach().clone().requires_grad_(True)
    shifted_cross_entropy(ref, ids, pad_id).backward()
    check_close(grad, ref.grad, "the gradient of lm_loss with respect to the logits", **F64)


@pytest.mark.exercise("lm_loss", points=1, needs_core=True)
@pytest.mark.parametrize("dtype, scale", [(torch.float64, 1e3), (torch.float32, 1e2)], ids=["float64", "float32"])
def test_lm_loss_is_stable_for_large_logits(gpt, seed, dtype, scale):
    # oracle: F.cross_entropy on logits of size 1e3 (float64) / 1e2 (float32): a naive exp overflows
    logits, ids, pad_id = random_lm_batch(seed, 112, dtype, scale=scale)
    loss = call(gpt, "lm_loss", logits, ids, pad_id=pad_id)
    check_finite(loss, "lm_loss of large logits")
    check_close(loss, shifted_cross_entropy(logits, ids, pad_id), "lm_loss of large logits", **tol(dtype))


@pytest.mark.exercise("lm_loss", points=1, needs_core=True)
def test_lm_loss_without_targets_is_zero_and_differentiable(gpt, seed):
    # contract: every target is pad_id (the first token may be anything), or T = 1 -> 0.0, finite,
    # still in the graph with gradient 0 (F.cross_entropy gives NaN here)
    g = gen(seed, 113)
    all_pad = torch.full((3, 5), 2)
    all_pad[:, 0] = torch.tensor([0, 1, 4])
    for what, logits, ids in (("every target pad_id", randn(g, 3, 5, 6), all_pad),
                              ("T = 1", randn(g, 2, 1, 6), torch.tensor([[1], [3]]))):  # fmt: skip
        loss, (grad,) = call_with_grad(gpt, "lm_loss", (logits, ids), dict(pad_id=2), wrt=[logits])
        check_finite(loss, f"lm_loss with {what}")
        check_close(loss, torch.tensor(0.0, dtype=torch.float64), f"lm_loss with {what}", rtol=0, atol=0)
        assert grad is not None, f"with {what} the loss is not connected to the logits (loss.backward() fails)"
        check_close(grad, torch.zeros_like(logits), f"the gradient with {what}", rtol=0, atol=0)


@pytest.mark.exercise("lm_loss", points=1, needs_core=True)
def test_lm_loss_rejects_bad_arguments(gpt):
    # contract: logits not 3-D names logits; ids of another shape, float ids or an id outside
    # [0, V) (that is not pad_id) name ids
    logits = torch.zeros(2, 3, 5)
    good = torch.zeros(2, 3, dtype=torch.long)
    expect_value_error(raising(gpt, "lm_loss", torch.zeros(3, 5), good[0]), "lm_loss with 2-D logits", "logits")
    cases = {"ids of shape (2, 4)": torch.zeros(2, 4, dtype=torch.long), "float ids": torch.zeros(2, 3),
             "an id 5 for V = 5": torch.tensor([[0, 5, 1], [0, 1, 2]]),
             "an id -1": torch.tensor([[0, 1, 1], [0, -1, 2]])}  # fmt: skip
    for what, ids in cases.items():
        expect_value_error(raising(gpt, "lm_loss", logits, ids), f"lm_loss with {what}", "ids")


@pytest.mark.exercise("perplexity", points=1)
def test_perplexity_is_exp_of_the_loss(gpt, seed):
    # oracle: math.exp, for Python floats and 0-d tensors (float32 and float64); a Python float back
    rng = rng_for(seed, 120)
    for loss in [float(x) for x in rng.uniform(0, 6, size=3)]:
        for arg in (loss, torch.tensor(loss, dtype=torch.float64), torch.tensor(loss, dtype=torch.float32)):
            got = call_exercise(gpt, "perplexity", (arg,), check_dtypes=False)
            assert isinstance(got, float), f"perplexity should return a Python float, got {type(got).__name__}"
            expected = math.exp(float(arg))
            assert math.isclose(got, expected, rel_tol=1e-7), f"perplexity({float(arg):.4g}) should be exp(loss)"


@pytest.mark.exercise("perplexity", points=1)
def test_perplexity_of_uniform_logits_is_the_vocabulary_size(gpt, gpt_ref):
    # oracle: uniform logits over V tokens give the loss log V (the reference lm_loss), perplexity V
    for V in (2, 11, 50257):
        loss = gpt_ref.lm_loss(torch.zeros(1, 3, V, dtype=torch.float64), torch.tensor([[0, 1, 1]]))
        got = call_exercise(gpt, "perplexity", (loss,), check_dtypes=False)
        assert isinstance(got, float) and math.isclose(got, V, rel_tol=1e-9), (
            f"the perplexity of uniform logits over {V} tokens should be {V}"
        )


@pytest.mark.exercise("perplexity", points=1, needs_core=True)
def test_perplexity_edge_cases(gpt):
    # contract: a loss too large for exp gives inf (no OverflowError); a tensor of several losses is
    # rejected naming loss
    got = call_exercise(gpt, "perplexity", (1000.0,), check_dtypes=False)
    assert isinstance(got, float) and got == math.inf, "perplexity(1000.0) should be inf (exp overflows)"
    expect_value_error(lambda: call_exercise(gpt, "perplexity", (torch.tensor([1.0, 2.0]),), check_dtypes=False),
                       "perplexity of a tensor of two losses", "loss")  # fmt: skip


# --- train_step ------------------------------------------------------------------------------------


def tree_leaves(tree):
    if isinstance(tree, torch.Tensor):
        return [tree]
    items = tree.values() if isinstance(tree, dict) else tree
    return [t for item in items for t in tree_leaves(item)]


def clone_tree(tree):
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: clone_tree(v) for k, v in tree.items()}
    return [clone_tree(v) for v in tree]


def oracle_sgd(params, batches, n_heads, lr, pad_id=None, n_prompt=0):
    """Plain SGD with the torch-built-in GPT: F.cross_entropy(ignore_index) on the shifted targets
    from position max(n_prompt - 1, 0) on, torch.autograd.grad, p -= lr * grad."""
    params = clone_tree(params)
    leaves = tree_leaves(params)
    for p in leaves:
        p.requires_grad_(True)
    losses = []
    for ids in batches:
        s = max(n_prompt - 1, 0)
        loss = shifted_cross_entropy(oracle_forward(ids, params, n_heads)[:, s:], ids[:, s:], pad_id)
        grads = torch.autograd.grad(loss, leaves)
        with torch.no_grad():
            for p, grad in zip(leaves, grads):
                p -= lr * grad
        losses.append(loss.item())
    return params, losses


def train_case(seed, k, n_steps, B=3, T=7, n_vocab=9, dtype=torch.float64):
    params = gpt_params(gen(seed, k), n_vocab, 8, 8, 2, dtype)
    batches = torch.from_numpy(rng_for(seed, k).integers(0, n_vocab, size=(n_steps, B, T)))
    return params, batches


def check_trained(got, expected, expected_losses, what, tolerance=F64):
    assert isinstance(got, dict) and "params" in got and "losses" in got, (
        "run_train_steps should return {'params', 'losses'} (do not change the given code)"
    )
    losses = got["losses"]
    assert len(losses) == len(expected_losses), "run_train_steps should give one loss per batch"
    assert all(isinstance(x, float) for x in losses), (
        "train_step should return the loss as a Python float (loss.item())"
    )
    check_close(torch.tensor(losses, dtype=torch.float64), torch.tensor(expected_losses, dtype=torch.float64),
                f"the losses train_step returned ({what}; the loss before each update)", **tolerance)  # fmt: skip
    names = ["wte", "wpe"]
    for name in names:
        check_close(got["params"][name], expected[name], f"{name} after {what}", **tolerance)
    got_leaves, exp_leaves = tree_leaves(got["params"]["blocks"]), tree_leaves(expected["blocks"])
    assert len(got_leaves) == len(exp_leaves), "run_train_steps should return every block's weights"
    for i, (a, b) in enumerate(zip(got_leaves, exp_leaves)):
        check_close(a, b, f"block weight {i} after {what}", **tolerance)


@pytest.mark.exercise("train_step", points=2)
def test_train_step_one_sgd_step_matches_autograd(gpt, seed):
    # oracle: one plain SGD step (lr 0.3) with the torch-built-in GPT, F.cross_entropy on the
    # shifted targets and torch.autograd.grad (float64)
    params, batches = train_case(seed, 130, n_steps=1)
    expected, losses = oracle_sgd(params, batches, 2, lr=0.3)
    got = call(gpt, "run_train_steps", params, batches, 2, lr=0.3)
    check_trained(got, expected, losses, "one SGD step")


@pytest.mark.exercise("train_step", points=2)
def test_train_step_zeroes_the_gradients_between_steps(gpt, seed):
    # oracle: three plain SGD steps as above; a step that does not zero the gradients adds the previous
    # steps' gradients to its own
    params, batches = train_case(seed, 131, n_steps=3)
    expected, losses = oracle_sgd(params, batches, 2, lr=0.3)
    got = call(gpt, "run_train_steps", params, batches, 2, lr=0.3)
    check_trained(got, expected, losses, "three SGD steps")


@pytest.mark.exercise("train_step", points=1, needs_core=True)
def test_train_step_skips_pad_and_prompt_targets(gpt, seed):
    # oracle: two SGD steps whose loss skips targets equal to pad_id and the first n_prompt = 3 tokens
    params, batches = train_case(seed, 132, n_steps=2)
    batches[:, :, -2:] = 0  # padding at the end
    expected, losses = oracle_sgd(params, batches, 2, lr=0.3, pad_id=0, n_prompt=3)
    got = call(gpt, "run_train_steps", params, batches, 2, lr=0.3, pad_id=0, n_prompt=3)
    check_trained(got, expected, losses, "two SGD steps with pad_id=0, n_prompt=3")


@pytest.mark.exercise("train_step", points=1)
def test_train_step_lowers_the_loss(gpt, seed):
    # property: 12 Adam steps (lr 0.02) on one fixed float32 batch bring its loss under half its start
    params, batches = train_case(seed, 133, n_steps=1, B=4, T=8, dtype=torch.float32)
    got = call(gpt, "run_train_steps", params, batches.expand(12, -1, -1), 2, lr=0.02, optimizer="adam")
    losses = [float(x) for x in got["losses"]]
    assert np.all(np.isfinite(losses)), "train_step returned a loss that is not finite"
    assert losses[-1] < 0.5 * losses[0], (
        f"12 Adam steps on one batch took the loss only from {losses[0]:.3f} to {losses[-1]:.3f}: "
        "does train_step call optimizer.step() after loss.backward()?"
    )


@pytest.mark.exercise("train_step", points=1, needs_core=True)
def test_train_step_rejects_a_bad_n_prompt(gpt, seed):
    # contract: n_prompt must be an int in [0, T); the message names n_prompt
    params, batches = train_case(seed, 134, n_steps=1, T=5)
    for bad in (5, -1):
        expect_value_error(raising(gpt, "run_train_steps", params, batches, 2, n_prompt=bad),
                           f"train_step with n_prompt = {bad} for T = 5", "n_prompt")  # fmt: skip


# --- filter_logits -------------------------------------------------------------------------------


def loop_top_k(row, k):
    """Keep every value >= the k-th largest (ties at the boundary kept)."""
    kth = sorted(row, reverse=True)[min(k, len(row)) - 1]
    return [v if v >= kth else -math.inf for v in row]


def loop_top_p(row, p):
    """Walk the tokens from the most likely down, stop when the total reaches p; keep ties."""
    m = max(row)
    e = [math.exp(v - m) for v in row]
    probs = sorted((x / sum(e) for x in e), reverse=True)
    total = 0.0
    for q in probs:
        total += q
        if total >= p:
            break
    threshold = q  # probability of the least likely kept token
    return [v if math.exp(v - m) / sum(e) >= threshold else -math.inf for v in row]


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_k_matches_loop(gpt, seed):
    # oracle: a Python loop per row; top_k >= n_vocab keeps everything; leading batch dims
    for top_k in (1, 3, 7, 50):
        x = torch.from_numpy(rng_for(seed, 40 + top_k).normal(scale=2.0, size=(2, 3, 10)))
        got = call(gpt, "filter_logits", x, top_k=top_k)
        expected = torch.tensor([[loop_top_k(r, top_k) for r in rows] for rows in x.tolist()], dtype=torch.float64)
        check_dtype(got, torch.float64, "filter_logits(x) for float64 x")
        check_close(got, expected, f"filter_logits(top_k={top_k}) for 10 logits", **F64)


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
def test_filter_logits_top_k_keeps_ties_at_the_boundary(gpt):
    # documented tie rule: every logit equal to the k-th largest is kept
    x = torch.tensor([[0.5, 2.0, 1.0, 1.0, -1.0], [3.0, 3.0, 3.0, 0.0, 0.0]], dtype=torch.float64)
    inf = math.inf
    expected = torch.tensor([[-inf, 2.0, 1.0, 1.0, -inf], [3.0, 3.0, 3.0, -inf, -inf]], dtype=torch.float64)
    got = call(gpt, "filter_logits", x, top_k=2)
    check_close(got, expected, "filter_logits(top_k=2) with ties at the 2nd largest", **F64)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_p_matches_loop(gpt, seed):
    # oracle: a Python loop — the smallest set of most likely tokens with total probability >= top_p
    # (the most likely token is always kept). A cumulative sum of random probabilities lands within
    # rounding error of top_p with probability ~1e-15, so the floating-point boundary does not matter.
    for top_p in (0.05, 0.5, 0.9, 1.0):
        rng = rng_for(seed, 50 + int(100 * top_p))
        x = torch.from_numpy(rng.normal(scale=2.0, size=(2, 3, 12)))
        expected = torch.tensor([[loop_top_p(r, top_p) for r in rows] for rows in x.tolist()], dtype=torch.float64)
        check_close(call(gpt, "filter_logits", x, top_p=top_p), expected, f"filter_logits(top_p={top_p})", **F64)


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
def test_filter_logits_top_p_exactly_at_a_cumulative_boundary(gpt, seed):
    # contract: the kept set is the smallest whose probability is >= top_p, so when the running total
    # reaches top_p exactly the token that reaches it is kept and the next one is not. Probabilities
    # 1/2, 1/4, 1/8, 1/8 (logits 0, -ln 2, -2 ln 2, -2 ln 2) and their sums are exact in binary
    order = torch.from_numpy(rng_for(seed, 58).permutation(4))
    for dtype in DTYPES:
        logits = torch.tensor([0.0, -math.log(2), -2 * math.log(2), -2 * math.log(2)], dtype=dtype)[order]
        for top_p, n_kept in ((0.5, 1), (0.75, 2)):
            keep = order < n_kept
            expected = torch.where(keep, logits, torch.tensor(-math.inf, dtype=dtype))
            got = call(gpt, "filter_logits", logits, top_p=top_p)
            check_close(got, expected, f"filter_logits(top_p={top_p}) when the total reaches top_p exactly",
                        **tol(dtype))  # fmt: skip


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
def test_filter_logits_top_p_keeps_ties_with_the_last_kept_token(gpt, seed):
    # contract: every token as likely as the least likely kept one is kept too: probabilities 1/2, 1/4,
    # 1/8, 1/8 with top_p = 0.8 need a token of 1/8, so both tokens of 1/8 stay (all four)
    order = torch.from_numpy(rng_for(seed, 57).permutation(4))
    logits = torch.tensor([0.0, -math.log(2), -2 * math.log(2), -2 * math.log(2)], dtype=torch.float64)[order]
    got = call(gpt, "filter_logits", logits, top_p=0.8)
    check_close(got, logits, "filter_logits(top_p=0.8) when two tokens tie at the boundary", **F64)


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
@pytest.mark.parametrize("dtype, scale", [(torch.float64, 1e3), (torch.float32, 1e2)], ids=["float64", "float32"])
def test_filter_logits_top_p_of_large_logits(gpt, seed, dtype, scale):
    # oracle: the Python loop (which subtracts the maximum) on logits of size 1e3 (float64) / 1e2
    # (float32): an unstabilised exp overflows
    rng = rng_for(seed, 59)
    x = torch.from_numpy(rng.normal(size=(4, 12)) * scale / 3 + scale).to(dtype)
    for top_p in (0.5, 0.99):
        expected = torch.tensor([loop_top_p(r, top_p) for r in x.double().tolist()], dtype=torch.float64).to(dtype)
        got = call(gpt, "filter_logits", x, top_p=top_p)
        check_close(got, expected, f"filter_logits(top_p={top_p}) of logits around {scale:g}", **tol(dtype))


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
def test_filter_logits_without_limits_returns_a_new_unchanged_tensor(gpt, seed):
    # contract: neither top_k nor top_p -> the logits unchanged, as a new tensor (float32 stays float32)
    x = torch.from_numpy(rng_for(seed, 60).normal(size=(3, 7))).float()
    got = call(gpt, "filter_logits", x)
    check_close(got, x, "filter_logits(logits) without top_k and top_p", rtol=0, atol=0)
    assert got is not x, "filter_logits returned the input tensor itself; return a new tensor (e.g. logits.clone())"


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_k_then_top_p(gpt):
    # documented order: top_k first, then top_p on the renormalised remaining probabilities.
    # probabilities 0.4, 0.3, 0.2, 0.1; top_k=3 leaves 0.4, 0.3, 0.2 -> renormalised 4/9, 3/9, 2/9;
    # top_p=0.75: 4/9 < 0.75 <= 7/9 -> the first two remain (without renormalising, three would)
    logits = torch.log(torch.tensor([0.2, 0.4, 0.1, 0.3], dtype=torch.float64))
    expected = torch.tensor([-math.inf, math.log(0.4), -math.inf, math.log(0.3)], dtype=torch.float64)
    check_close(
        call(gpt, "filter_logits", logits, top_k=3, top_p=0.75), expected, "filter_logits(top_k=3, top_p=0.75)", **F64
    )


@pytest.mark.exercise("filter_logits", points=1, needs_core=True)
def test_filter_logits_rejects_bad_limits(gpt):
    # contract: top_k >= 1, 0 < top_p <= 1; the message names the argument
    for kwargs in ({"top_k": 0}, {"top_k": -2}, {"top_p": 0.0}, {"top_p": -0.5}, {"top_p": 1.5}):
        (name,) = kwargs
        expect_value_error(raising(gpt, "filter_logits", torch.zeros(5), **kwargs), f"filter_logits({kwargs})", name)


# --- generate --------------------------------------------------------------------------------------


def varied_model(seed, k, n_vocab=13, T_max=6):
    return gpt_params(gen(seed, k), n_vocab, T_max, 16, 2)


@pytest.mark.exercise("generate", points=1)
def test_generate_greedy_matches_loop(gpt, seed):
    # oracle: plain loop over the torch-built-in GPT, argmax of the last position's logits
    rng = rng_for(seed, 70)
    params = varied_model(seed, 70, T_max=16)
    prompt = [int(i) for i in rng.integers(0, 13, size=3)]
    got = call(gpt, "generate", prompt, params, 2, n_new=8)
    check_tensor(got, "generate(...)")
    check_dtype(got, torch.int64, "generate(...)")
    check_shape(got, (8,), "generate(..., n_new=8)")
    check_equal(got.tolist(), oracle_greedy(prompt, params, 2, 8), "greedy ids (temperature 0)")


@pytest.mark.exercise("generate", points=1)
def test_generate_crops_the_context_to_T_max(gpt, seed):
    # oracle: the same loop, which feeds only the last T_max ids; prompts shorter and longer than T_max
    rng = rng_for(seed, 71)
    params = varied_model(seed, 71, T_max=5)
    for n_prompt in (3, 9):
        prompt = [int(i) for i in rng.integers(0, 13, size=n_prompt)]
        got = call(gpt, "generate", torch.tensor(prompt), params, 2, n_new=7)
        check_equal(
            got.tolist(), oracle_greedy(prompt, params, 2, 7), f"greedy ids for a prompt of {n_prompt} ids, T_max=5"
        )


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_greedy_breaks_ties_by_lowest_id(gpt, seed):
    # contract: argmax takes the lowest id on ties. No blocks, zero-mean equal-norm embeddings:
    # token j's logit is proportional to wte[last] . wte[j], largest for last and its duplicate
    g = gen(seed, 72)
    wte = randn(g, 9, 8)
    wte = wte - wte.mean(dim=1, keepdim=True)
    wte = wte / wte.norm(dim=1, keepdim=True)
    wte[7] = wte[3]
    params = {"wte": wte, "wpe": torch.zeros(4, 8, dtype=torch.float64), "blocks": [],
              "ln_f": {"gamma": torch.ones(8, dtype=torch.float64), "beta": torch.zeros(8, dtype=torch.float64)}}  # fmt: skip
    got = call(gpt, "generate", [7], params, 2, n_new=3)
    check_equal(got.tolist(), [3, 3, 3], "greedy ids when tokens 3 and 7 tie")


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_sampling_is_seeded(gpt, seed):
    # property: same seed, same ids; another seed, other ids (temperature 2 on a 13-token vocabulary)
    params = varied_model(seed, 73)
    a = call(gpt, "generate", [1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 5)
    b = call(gpt, "generate", [1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 5)
    c = call(gpt, "generate", [1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 6)
    check_equal(a.tolist(), b.tolist(), "ids of two calls with the same seed")
    assert a.tolist() != c.tolist(), "two different seeds gave the same 12 sampled ids: use the seed argument"


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_samples_only_from_the_top_k(gpt, seed):
    # property: with top_k=3 the first new id is always one of the 3 most likely (and varies)
    params = varied_model(seed, 75)
    allowed = set(torch.topk(oracle_last_logits([4, 1], params, 2), 3).indices.tolist())
    seen = {
        int(call(gpt, "generate", [4, 1], params, 2, n_new=1, temperature=5.0, top_k=3, seed=seed * 30 + s)[0])
        for s in range(30)
    }
    assert seen <= allowed, "sampled an id outside the top_k most likely"
    assert len(seen) > 1, "30 seeds at temperature 5 always gave the same id: is it really sampling?"


@pytest.mark.exercise("generate", points=1)
def test_generate_sampling_frequencies_follow_the_temperature(gpt, seed):
    # oracle: softmax(logits / temperature). A model with known logits: no blocks, ln_f with gamma = 0
    # outputs beta, and wte = I makes the logits equal beta. 600 seeds; each frequency within 0.09
    # (>= 4.8 standard deviations); temperature 1 or 0.25 instead of 0.5 would be off by >= 0.2
    z = torch.tensor([0.0, 0.6, 1.2, 1.8, 2.4], dtype=torch.float64)[torch.from_numpy(rng_for(seed, 76).permutation(5))]
    params = {"wte": torch.eye(5, dtype=torch.float64), "wpe": torch.zeros(4, 5, dtype=torch.float64), "blocks": [],
              "ln_f": {"gamma": torch.zeros(5, dtype=torch.float64), "beta": z}}  # fmt: skip
    temperature, n = 0.5, 600
    counts = torch.zeros(5, dtype=torch.float64)
    # the first calls are checked (inputs unmodified, dtypes, no global randomness), the rest only count
    for ids in call_each(gpt, "generate", [(([2, 0, 3], params, 1), dict(n_new=1, temperature=temperature,
                                            seed=seed * n + s)) for s in range(n)]):  # fmt: skip
        counts[int(ids[0])] += 1
    check_close(
        counts / n,
        torch.softmax(z / temperature, dim=-1),
        "frequencies of the first sampled id (temperature 0.5)",
        rtol=0,
        atol=0.09,
    )


def known_logits_model(z):
    """No blocks, ln_f with gamma = 0 outputs beta = z, wte = I: the logits are z at every position,
    whatever the context."""
    V = len(z)
    return {"wte": torch.eye(V, dtype=torch.float64), "wpe": torch.zeros(4, V, dtype=torch.float64), "blocks": [],
            "ln_f": {"gamma": torch.zeros(V, dtype=torch.float64), "beta": z}}  # fmt: skip


@pytest.mark.exercise("generate", points=1)
def test_generate_sampling_equals_the_reference(gpt, gpt_ref, seed):
    # oracle: the reference generate — the docstring fixes the procedure (filter_logits(logits / T,
    # top_k), softmax, one torch.multinomial draw per step, step i from a generator seeded seed + i)
    params = varied_model(seed, 78, T_max=5)
    for kwargs in (dict(temperature=3.0), dict(temperature=2.0, top_k=4)):  # spread-out distributions
        expected = gpt_ref.generate([3, 1, 4], params, 2, n_new=12, seed=seed + 9, **kwargs)
        got = call(gpt, "generate", [3, 1, 4], params, 2, n_new=12, seed=seed + 9, **kwargs)
        check_equal(
            got.tolist(), expected.tolist(), f"sampled ids ({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
        )


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_sampling_steps_are_independent_draws(gpt, seed):
    # property: each step draws afresh from softmax(logits / T): on a model whose logits never change,
    # two consecutive ids are equal with probability sum(p^2) ~ 0.30 (a generator re-made at every
    # step from the same seed repeats its draw: 1.0), and the ids of later steps follow softmax(z)
    # (560 draws with 560 different seeds: runs 100 seeds apart, within 0.09 = 4 standard deviations)
    z = torch.tensor([0.0, 0.6, 1.2, 1.8, 2.4], dtype=torch.float64)[torch.from_numpy(rng_for(seed, 79).permutation(5))]
    params = known_logits_model(z)
    runs = [call(gpt, "generate", [1], params, 1, n_new=15, temperature=1.0, seed=seed * 4000 + 100 * s).tolist()
            for s in range(40)]  # fmt: skip
    p = torch.softmax(z, dim=-1)
    repeats = sum(a == b for run in runs for a, b in zip(run, run[1:])) / (40 * 14)
    assert abs(repeats - float((p**2).sum())) < 0.1, (
        f"{repeats:.0%} of consecutive sampled ids are equal, expected about {float((p**2).sum()):.0%}: step i "
        "should draw with its own generator seeded seed + i"
    )
    counts = torch.bincount(torch.tensor([i for run in runs for i in run[1:]]), minlength=5).double()
    check_close(counts / counts.sum(), p, "frequencies of the ids sampled after the first step", rtol=0, atol=0.09)


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_step_i_draws_with_seed_plus_i(gpt, seed):
    # contract (the course's one seeding rule): step i draws with torch.Generator().manual_seed(seed + i),
    # so token i of generate(seed=s) is the one-step generate from the prompt extended by the tokens
    # before it, with seed s + i (oracle: the student's own one-step calls)
    params = varied_model(seed, 82, T_max=6)
    params["wte"] = params["wte"] / 4  # logits of size ~1: spread-out distributions
    prompt, s = [2, 7], seed * 10 + 3
    for kwargs in (dict(temperature=1.5), dict(temperature=1.0, top_k=5)):
        ids = call(gpt, "generate", prompt, params, 2, n_new=6, seed=s, **kwargs).tolist()
        for i in range(6):
            one = call(gpt, "generate", prompt + ids[:i], params, 2, n_new=1, seed=s + i, **kwargs).tolist()
            assert one == ids[i : i + 1], (
                f"token {i} of generate(seed={s}) should be drawn with seed {s} + {i}: a one-step generate from the "
                f"prompt and the {i} tokens before it, seed={s + i}, drew another token"
            )


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_with_a_tiny_temperature_is_greedy(gpt, seed):
    # oracle: the greedy loop; at temperature 1e-6 logits / T are ~1e6 (a softmax without the maximum
    # subtracted overflows), and the most likely token has probability 1 to machine precision
    rng = rng_for(seed, 80)
    params = varied_model(seed, 80, T_max=8)
    prompt = [int(i) for i in rng.integers(0, 13, size=3)]
    got = call(gpt, "generate", prompt, params, 2, n_new=6, temperature=1e-6, seed=seed)
    check_equal(got.tolist(), oracle_greedy(prompt, params, 2, 6), "ids sampled at temperature 1e-6")


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_nothing(gpt, seed):
    # contract: n_new = 0 gives an empty int64 tensor (greedy and sampling alike)
    params = varied_model(seed, 81)
    for temperature in (0.0, 1.0):
        got = call(gpt, "generate", [1, 2], params, 2, n_new=0, temperature=temperature)
        check_tensor(got, "generate(..., n_new=0)")
        check_dtype(got, torch.int64, "generate(..., n_new=0)")
        check_shape(got, (0,), "generate(..., n_new=0)")


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_rejects_bad_arguments(gpt, seed):
    # contract: non-empty prompt, n_new >= 0, temperature >= 0; the message names the argument
    params = varied_model(seed, 77)
    expect_value_error(raising(gpt, "generate", [], params, 2, 2), "generate with an empty prompt", "prompt")
    expect_value_error(raising(gpt, "generate", [1], params, 2, -1), "generate with n_new = -1", "n_new")
    expect_value_error(raising(gpt, "generate", [1], params, 2, 2, temperature=-0.5),
                       "generate with temperature = -0.5", "temperature")  # fmt: skip


# --- moe_gate ---------------------------------------------------------------------------------------


def oracle_gate(x, W_gate, k):
    """Loop: per token, experts sorted by logit (descending), softmax over the first k logits."""
    logits = (x @ W_gate).tolist()
    weights, indices = [], []
    for row in logits:
        order = sorted(range(len(row)), key=lambda e: -row[e])[:k]
        top = torch.tensor([row[e] for e in order], dtype=torch.float64)
        weights.append(torch.softmax(top, dim=0).tolist())
        indices.append(order)
    return torch.tensor(weights, dtype=torch.float64), indices


@pytest.mark.exercise("moe_gate", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_moe_gate_equals_softmax_over_top_k_logits(gpt, seed, dtype):
    # oracle: a loop taking the k largest logits in descending order and a softmax over them
    for k in (1, 2, 3):
        rng = rng_for(seed, 80 + k)
        N, d, E = int(rng.integers(1, 12)), 6, int(rng.integers(k + 1, 9))
        g = gen(seed, 80 + k)
        x, W = randn(g, N, d, dtype=dtype), randn(g, d, E, dtype=dtype)
        weights, indices = call(gpt, "moe_gate", x, W, k)
        exp_w, exp_i = oracle_gate(x.double(), W.double(), k)
        check_shape(weights, (N, k), f"weights for k = {k}")
        check_dtype(weights, dtype, f"weights for {dtype} x")
        check_dtype(indices, torch.int64, "indices")
        check_equal(indices.tolist(), exp_i, f"indices for k = {k} (top-k experts, most likely first)")
        check_close(weights, exp_w.to(dtype), f"weights (softmax over the top-{k} logits) in {dtype}", **tol(dtype))


@pytest.mark.exercise("moe_gate", points=1, needs_core=True)
def test_moe_gate_weights_sum_to_one(gpt, seed):
    # property: each token's k weights are a distribution, in descending order
    g = gen(seed, 85)
    weights, _ = call(gpt, "moe_gate", randn(g, 20, 6, scale=3.0), randn(g, 6, 8), 3)
    check_close(weights.sum(dim=-1), torch.ones(20, dtype=torch.float64), "sum of each token's weights", **F64)
    assert bool((weights[:, :-1] >= weights[:, 1:]).all()), "weights should be sorted in descending order"


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_gradients_reach_the_router(gpt, seed):
    # oracle: torch.autograd through softmax(top-k logits) (k = 2: the renormalised weights still
    # depend on W_gate), for a random upstream gradient c
    g = gen(seed, 86)
    x, W = randn(g, 10, 6), randn(g, 6, 5)
    c = randn(g, 10, 2)
    (weights, indices), (grad,) = call_with_grad(gpt, "moe_gate", (x, W, 2), wrt=[W], output=0, cotangent=c)
    assert grad is not None, "weights are detached from W_gate: the router could not learn"
    W_ref = W.detach().clone().requires_grad_(True)
    top = (x @ W_ref).gather(1, torch.as_tensor(indices).long())
    (torch.softmax(top, dim=-1) * c).sum().backward()
    check_close(grad, W_ref.grad, "the gradient of the gate weights w.r.t. W_gate", **F64)


@pytest.mark.exercise("moe_gate", points=1, needs_core=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_moe_gate_with_k_equal_to_E(gpt, seed, dtype):
    # oracle: k = E is allowed: every expert, most likely first, weights = the full softmax sorted
    g = gen(seed, 87)
    x, W = randn(g, 9, 4, dtype=dtype), randn(g, 4, 5, dtype=dtype)
    weights, indices = call(gpt, "moe_gate", x, W, 5)
    exp_w, exp_i = oracle_gate(x.double(), W.double(), 5)
    check_equal(indices.tolist(), exp_i, "indices for k = E (every expert, most likely first)")
    check_close(weights, exp_w.to(dtype), "weights for k = E (the sorted softmax)", **tol(dtype))


@pytest.mark.exercise("moe_gate", points=1, needs_core=True)
@pytest.mark.parametrize("dtype, scale", [(torch.float64, 1e3), (torch.float32, 1e2)], ids=["float64", "float32"])
def test_moe_gate_is_stable_for_large_logits(gpt, seed, dtype, scale):
    # oracle: the loop's softmax over the top-k logits, for router logits of size 1e3 (float64) /
    # 1e2 (float32): an unstabilised exp overflows to inf / inf = NaN. Feature 0 of every token is 1
    # and its router row is `scale`, so every logit is scale + a moderate, distinct part
    g = gen(seed, 88)
    x = randn(g, 12, 4, dtype=dtype)
    x[:, 0] = 1.0
    W = randn(g, 4, 6, dtype=dtype)
    W[0] = scale
    weights, indices = call(gpt, "moe_gate", x, W, 3)
    exp_w, exp_i = oracle_gate(x.double(), W.double(), 3)
    check_finite(weights, "weights of large router logits")
    check_equal(indices.tolist(), exp_i, "indices of large router logits")
    check_close(weights, exp_w.to(dtype), f"weights for router logits of size {scale:g}", **tol(dtype))


@pytest.mark.exercise("moe_gate", points=1, needs_core=True)
def test_moe_gate_tied_experts_are_both_chosen(gpt, seed):
    # contract: ties may be broken either way, but the k chosen experts are distinct: experts 1 and 3
    # have identical router columns that beat the others by far, so with k = 2 both are chosen with
    # weight 1/2 each
    g = gen(seed, 89)
    x = randn(g, 8, 4).abs() + 0.5
    W = randn(g, 4, 5, scale=0.1)
    W[:, 3] = W[:, 1] = 2.0
    weights, indices = call(gpt, "moe_gate", x, W, 2)
    check_equal(sorted(map(sorted, indices.tolist())), [[1, 3]] * 8, "the two chosen experts when experts 1 and 3 tie")
    check_close(weights, torch.full((8, 2), 0.5, dtype=torch.float64), "weights of two tied experts", **F64)


@pytest.mark.exercise("moe_gate", points=1, needs_core=True)
def test_moe_gate_rejects_bad_arguments(gpt):
    # contract: x (N, d) with N >= 1, W_gate (d, E), 1 <= k <= E (here E = 4); the message names the argument
    x, W = torch.ones(3, 2), torch.ones(2, 4)
    cases = [((x, W, 0), "k = 0", "k"), ((x, W, 5), "k = 5 > E = 4", "k"), ((x, W, -1), "k = -1", "k"),
             ((x, W, True), "k = True (a bool, not a count)", "k"),
             ((torch.ones(2), W, 1), "1-D x", "x"), ((torch.ones(0, 2), W, 1), "an empty x", "x"),
             ((x, torch.ones(3, 4), 1), "W_gate of 3 rows for d = 2", "W_gate")]  # fmt: skip
    for args, what, names in cases:
        expect_value_error(raising(gpt, "moe_gate", *args), f"moe_gate with {what}", names)


# --- moe_layer ----------------------------------------------------------------------------------


def expert_params(g, d, d_ff, dtype=torch.float64):
    return {"W1": randn(g, d, d_ff, dtype=dtype), "b1": randn(g, d_ff, dtype=dtype, scale=0.3),
            "W2": randn(g, d_ff, d, dtype=dtype, scale=0.5), "b2": randn(g, d, dtype=dtype, scale=0.3)}  # fmt: skip


def dense_moe(x, W_gate, experts, k):
    """Oracle: run every expert on every token; add each token's top-k outputs with the gate weights."""
    weights, indices = oracle_gate(x.double(), W_gate.double(), k)
    outs = [torch.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"] for p in experts]  # E x (N, d)
    y = torch.zeros_like(x)
    for n in range(x.shape[0]):
        for j in range(k):
            y[n] = y[n] + weights[n, j].to(x.dtype) * outs[indices[n][j]][n]
    return y


@pytest.mark.exercise("moe_layer", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_moe_layer_matches_dense_loop(gpt, seed, dtype):
    # oracle: dense loop over all experts; router_probs = torch.softmax(x W_gate); indices = top-k
    for k in (1, 2):
        rng = rng_for(seed, 90 + k)
        N, d, E = int(rng.integers(3, 16)), 6, int(rng.integers(3, 7))
        g = gen(seed, 90 + k)
        x, W = randn(g, N, d, dtype=dtype), randn(g, d, E, dtype=dtype)
        experts = [expert_params(g, d, 10, dtype) for _ in range(E)]
        y, router_probs, indices = call(gpt, "moe_layer", x, W, experts, k)
        check_dtype(y, dtype, f"y for {dtype} x")
        check_close(y, dense_moe(x, W, experts, k), f"y (top-{k} of {E} experts) in {dtype}", **tol(dtype))
        check_close(router_probs, torch.softmax(x @ W, dim=-1), "router_probs", **tol(dtype))
        check_equal(indices.tolist(), oracle_gate(x.double(), W.double(), k)[1], f"indices for k = {k}")


@pytest.mark.exercise("moe_layer", points=1, needs_core=True)
def test_moe_layer_with_all_experts_is_the_softmax_mixture(gpt, seed):
    # property: k = E uses every expert with its full router probability
    g = gen(seed, 93)
    x, W = randn(g, 7, 5), randn(g, 5, 3)
    experts = [expert_params(g, 5, 8) for _ in range(3)]
    y, _, _ = call(gpt, "moe_layer", x, W, experts, 3)
    p = torch.softmax(x @ W, dim=-1)
    expected = sum(
        p[:, e : e + 1] * (torch.relu(x @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"]) for e, q in enumerate(experts)
    )
    check_close(y, expected, "y with k = E (softmax-weighted mixture of all experts)", **F64)


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_gradients_reach_router_and_experts(gpt, seed):
    # oracle: torch.autograd through a dense, differentiable mixture (softmax over the chosen logits
    # times every chosen expert's output), for the router and each expert's W1
    g = gen(seed, 94)
    x, W = randn(g, 12, 5), randn(g, 5, 4)
    experts = [expert_params(g, 5, 8) for _ in range(4)]
    c = randn(g, 12, 5)
    wrt = [W] + [p["W1"] for p in experts]
    (_, _, indices), grads = call_with_grad(gpt, "moe_layer", (x, W, experts, 2), wrt=wrt, output=0, cotangent=c)
    refs = [t.detach().clone().requires_grad_(True) for t in wrt]
    idx = torch.as_tensor(indices).long()
    w = torch.softmax((x @ refs[0]).gather(1, idx), dim=-1)  # (N, k)
    outs = torch.stack([torch.relu(x @ W1 + p["b1"]) @ p["W2"] + p["b2"] for W1, p in zip(refs[1:], experts)])
    y = sum(w[:, j : j + 1] * outs[idx[:, j], torch.arange(12)] for j in range(2))
    (y * c).sum().backward()
    for i, (got, ref) in enumerate(zip(grads, refs)):
        what = "the gradient w.r.t. W_gate" if i == 0 else f"the gradient w.r.t. expert {i - 1}'s W1"
        if got is None:
            raise CheckFailure(f"{what} is missing: y is not differentiable there")
        check_close(got, ref.grad, what, **F64)


@pytest.mark.exercise("moe_layer", points=1, needs_core=True)
def test_moe_layer_rejects_wrong_number_of_experts(gpt, seed):
    # contract: len(experts) must equal E (columns of W_gate), fewer and more alike; names experts
    g = gen(seed, 95)
    x, W = randn(g, 4, 5), randn(g, 5, 3)
    for n in (2, 4):
        experts = [expert_params(g, 5, 8) for _ in range(n)]
        expect_value_error(raising(gpt, "moe_layer", x, W, experts, 1), f"moe_layer with {n} experts for E = 3",
                           "experts")  # fmt: skip


@pytest.mark.exercise("moe_layer", points=1, needs_core=True)
def test_moe_layer_rejects_k_above_E(gpt, seed):
    # contract: the errors of moe_gate: k > E names k
    g = gen(seed, 96)
    x, W = randn(g, 4, 5), randn(g, 5, 3)
    experts = [expert_params(g, 5, 8) for _ in range(3)]
    expect_value_error(raising(gpt, "moe_layer", x, W, experts, 4), "moe_layer with k = 4 > E = 3", "k")


# --- load_balancing_loss ---------------------------------------------------------------------------


def loop_balance(router_probs, indices, E):
    N = router_probs.shape[0]
    flat = [e for row in indices.tolist() for e in row]
    total = 0.0
    for i in range(E):
        f_i = flat.count(i) / len(flat)
        P_i = sum(float(router_probs[n, i]) for n in range(N)) / N
        total += f_i * P_i
    return E * total


@pytest.mark.exercise("load_balancing_loss", points=1)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_load_balancing_loss_matches_loop(gpt, seed, dtype):
    # oracle: E * sum_i f_i P_i written as a loop over experts; k = 1 and k = 2; the input's dtype
    for k in (1, 2):
        rng = rng_for(seed, 100 + k)
        N, E = int(rng.integers(4, 30)), int(rng.integers(3, 9))
        router_probs = torch.softmax(randn(gen(seed, 100 + k), N, E, scale=2.0), dim=-1).to(dtype)
        indices = torch.topk(router_probs, k, dim=-1).indices
        got = call(gpt, "load_balancing_loss", router_probs, indices, E)
        check_tensor(got, "load_balancing_loss(...)")
        check_shape(got, (), "load_balancing_loss(...) (a 0-dim tensor)")
        check_dtype(got, dtype, f"load_balancing_loss for {dtype} router_probs")
        expected = torch.tensor(loop_balance(router_probs, indices, E), dtype=dtype)
        check_close(got, expected, f"load_balancing_loss with k = {k}", **tol(dtype))


@pytest.mark.exercise("load_balancing_loss", points=1, needs_core=True)
def test_load_balancing_loss_is_one_when_uniform(gpt):
    # property: f_i = P_i = 1/E gives E * E * (1/E)^2 = 1
    for E in (2, 5, 8):
        router_probs = torch.full((3 * E, E), 1.0 / E, dtype=torch.float64)
        indices = torch.arange(3 * E).remainder(E).unsqueeze(1)
        loss = call(gpt, "load_balancing_loss", router_probs, indices, E)
        check_close(loss, torch.tensor(1.0, dtype=torch.float64), f"loss for uniform routing over {E} experts", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1, needs_core=True)
def test_load_balancing_loss_approaches_E_when_collapsed(gpt):
    # property: every token to expert 0 with probability ~1: f_0 = 1, P_0 ~ 1, loss ~ E
    for E in (2, 5, 8):
        logits = torch.zeros(16, E, dtype=torch.float64)
        logits[:, 0] = 30.0
        collapsed = torch.zeros(16, 1, dtype=torch.long)
        loss = call(gpt, "load_balancing_loss", torch.softmax(logits, dim=-1), collapsed, E)
        what = f"loss when every token goes to one of {E} experts"
        check_close(loss, torch.tensor(float(E), dtype=torch.float64), what, rtol=1e-6, atol=0)


@pytest.mark.exercise("load_balancing_loss", points=0.5, needs_core=True)
def test_load_balancing_loss_of_one_token_and_unused_experts(gpt, seed):
    # oracle: loop_balance; one token (N = 1) sent to expert 0 only, so experts 1 and 2 get no
    # assignment: f = (1, 0, 0) has n_experts entries even though the counts end at expert 0
    router_probs = torch.softmax(randn(gen(seed, 105), 1, 3), dim=-1)
    indices = torch.zeros(1, 1, dtype=torch.long)
    got = call(gpt, "load_balancing_loss", router_probs, indices, 3)
    expected = torch.tensor(loop_balance(router_probs, indices, 3), dtype=torch.float64)
    check_close(got, expected, "load_balancing_loss of one token sent to expert 0 of 3", **F64)


@pytest.mark.exercise("load_balancing_loss", points=0.5, needs_core=True)
def test_load_balancing_loss_with_one_expert_is_one(gpt):
    # property: n_experts = 1 is allowed; every token goes to it, f_0 = P_0 = 1, loss = 1 * 1 * 1
    router_probs = torch.ones(5, 1, dtype=torch.float64)
    loss = call(gpt, "load_balancing_loss", router_probs, torch.zeros(5, 1, dtype=torch.long), 1)
    check_close(loss, torch.tensor(1.0, dtype=torch.float64), "loss with a single expert", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_gradient_flows_into_router_probs(gpt, seed):
    # oracle: d loss / d router_probs[n, i] = E * f_i / N (f is a count, P the differentiable mean)
    g = gen(seed, 104)
    router_probs = torch.softmax(randn(g, 10, 4), dim=-1)
    indices = torch.topk(router_probs, 2, dim=-1).indices
    _, (grad,) = call_with_grad(gpt, "load_balancing_loss", (router_probs, indices, 4), wrt=[router_probs])
    assert grad is not None, "the loss does not depend on router_probs"
    f = torch.bincount(indices.flatten(), minlength=4).double() / indices.numel()
    check_close(grad, (4 * f / 10).expand(10, 4), "gradient of the loss w.r.t. router_probs", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1, needs_core=True)
def test_load_balancing_loss_rejects_bad_arguments(gpt):
    # contract: router_probs is (N, n_experts); indices (N, k) in [0, n_experts); n_experts >= 1;
    # the message names the argument
    probs = torch.full((4, 3), 1 / 3, dtype=torch.float64)
    indices = torch.zeros(4, 1, dtype=torch.long)
    cases = [((probs, indices, 4), "router_probs (4, 3) with n_experts = 4", "router_probs"),
             ((probs, indices + 3, 3), "indices equal to n_experts", "indices"),
             ((probs, indices - 1, 3), "a negative index", "indices"),
             ((probs, indices[:3], 3), "indices for 3 of the 4 tokens", "indices"),
        ((probs, indices[:, :0], 3), "indices with k = 0 experts per token", "indices"),
             ((probs[:, :0], indices, 0), "n_experts = 0", "n_experts"),
             ((probs[:, :1], indices, True), "n_experts = True (a bool, not a count)", "n_experts"),
             ((probs[:0], indices[:0], 3), "router_probs for no tokens", "router_probs"),
             ((probs[0], indices, 3), "1-D router_probs", "router_probs")]  # fmt: skip
    for args, what, names in cases:
        expect_value_error(raising(gpt, "load_balancing_loss", *args), f"load_balancing_loss with {what}", names)


# --- beyond the book (0 points) ------------------------------------------------------------------------


def soft_model(seed, k, T_max):
    """varied_model with token embeddings scaled by 1/4: logits of size ~1, so that greedy decisions
    and sampled ids react to small errors in the forward pass."""
    params = varied_model(seed, k, T_max=T_max)
    params["wte"] = params["wte"] / 4
    return params


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_generates_nothing(gpt, seed):
    # contract: as generate, n_new = 0 gives an empty int64 tensor
    got = call(gpt, "generate_with_kv_cache", [1, 2], soft_model(seed, 113, T_max=6), 2, n_new=0)
    check_dtype(got, torch.int64, "generate_with_kv_cache(..., n_new=0)")
    check_shape(got, (0,), "generate_with_kv_cache(..., n_new=0)")


@pytest.mark.exercise("generate_with_kv_cache", points=0)
@pytest.mark.parametrize("n_prompt, T_max", [(3, 16), (3, 6), (9, 6)])
def test_kv_cache_greedy_equals_generate(gpt, seed, n_prompt, T_max):
    # oracle: the plain greedy loop (same ids as generate), also once the window slides past T_max
    rng = rng_for(seed, 110 + n_prompt + T_max)
    params = soft_model(seed, 110, T_max=T_max)
    prompt = [int(i) for i in rng.integers(0, 13, size=n_prompt)]
    got = call(gpt, "generate_with_kv_cache", prompt, params, 2, n_new=10)
    check_dtype(got, torch.int64, "generate_with_kv_cache(...)")
    check_equal(got.tolist(), oracle_greedy(prompt, params, 2, 10), "greedy ids with a key/value cache")


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_sampling_equals_generate(gpt, gpt_ref, seed):
    # oracle: the reference generate with the same seed, temperature and top_k
    params = soft_model(seed, 111, T_max=8)
    kwargs = dict(n_new=12, temperature=1.5, top_k=6, seed=seed + 3)
    expected = gpt_ref.generate([5, 6], params, 2, **kwargs)
    check_equal(
        call(gpt, "generate_with_kv_cache", [5, 6], params, 2, **kwargs).tolist(), expected.tolist(), "sampled ids"
    )


def loop_capacity(indices, capacity):
    used, keep = {}, []
    for row in indices.tolist():
        keep.append([])
        for e in row:
            keep[-1].append(used.get(e, 0) < capacity)
            used[e] = used.get(e, 0) + 1
    return keep


@pytest.mark.exercise("expert_capacity_mask", points=0)
@pytest.mark.parametrize("capacity", [0, 1, 3, 100])
def test_expert_capacity_mask_matches_loop(gpt, seed, capacity):
    # oracle: a loop over assignments in token order, then rank order
    rng = rng_for(seed, 120 + capacity)
    E, N, k = 5, 20, 2
    indices = torch.from_numpy(np.argsort(rng.random((N, E)), axis=1)[:, :k].copy())
    got = call(gpt, "expert_capacity_mask", indices, E, capacity)
    check_dtype(got, torch.bool, "expert_capacity_mask(...)")
    check_equal(got.tolist(), loop_capacity(indices, capacity), f"kept assignments with capacity {capacity}")


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_sampling_steps_are_independent_draws(gpt, seed):
    # property: as for generate, one generator per call: on a model whose logits never change, two
    # consecutive ids are equal with probability sum(p^2) ~ 0.30, not always
    z = torch.tensor([0.0, 0.6, 1.2, 1.8, 2.4], dtype=torch.float64)
    runs = [call(gpt, "generate_with_kv_cache", [1], known_logits_model(z), 1, n_new=15, temperature=1.0,
                 seed=seed * 40 + s).tolist() for s in range(40)]  # fmt: skip
    repeats = sum(a == b for run in runs for a, b in zip(run, run[1:])) / (40 * 14)
    p2 = float((torch.softmax(z, dim=-1) ** 2).sum())
    assert abs(repeats - p2) < 0.1, f"{repeats:.0%} of consecutive sampled ids are equal, expected about {p2:.0%}"


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_rejects_bad_arguments(gpt, seed):
    # contract: the errors of generate, naming the argument
    params = varied_model(seed, 112)
    expect_value_error(raising(gpt, "generate_with_kv_cache", [], params, 2, 2), "an empty prompt", "prompt")
    expect_value_error(raising(gpt, "generate_with_kv_cache", [1], params, 2, -1), "n_new = -1", "n_new")
    expect_value_error(raising(gpt, "generate_with_kv_cache", [1], params, 2, 2, temperature=-1.0),
                       "temperature = -1", "temperature")  # fmt: skip


@pytest.mark.exercise("expert_capacity_mask", points=0)
def test_expert_capacity_mask_rejects_bad_arguments(gpt):
    # contract: indices (N, k) in [0, E); n_experts >= 1; capacity >= 0; the message names the argument
    indices = torch.tensor([[0, 1], [1, 2]])
    cases = [((indices, 3, -1), "capacity = -1", "capacity"), ((indices, 0, 1), "n_experts = 0", "n_experts"),
             ((indices, 2, 1), "an index equal to n_experts", "indices"),
             ((indices - 1, 3, 1), "a negative index", "indices"),
             ((indices.flatten(), 3, 1), "1-D indices", "indices")]  # fmt: skip
    for args, what, names in cases:
        expect_value_error(raising(gpt, "expert_capacity_mask", *args), f"expert_capacity_mask with {what}", names)


@pytest.mark.exercise("expert_capacity_mask", points=0)
def test_expert_capacity_mask_with_one_expert(gpt):
    # oracle: n_experts = 1 is allowed: every assignment goes to expert 0, the first `capacity` are kept
    got = call(gpt, "expert_capacity_mask", torch.zeros(5, 1, dtype=torch.long), 1, 3)
    check_equal(got.tolist(), [[True], [True], [True], [False], [False]], "kept assignments with one expert")


# --- contract details the mutation testing showed untested --------------------------------


@pytest.mark.exercise("lm_loss", points=0.5, needs_core=True)
@pytest.mark.parametrize("where", ["below", "above"])
def test_lm_loss_accepts_a_pad_id_outside_the_vocabulary(gpt, seed, where):
    # oracle: F.cross_entropy(ignore_index=pad_id); contract (docstring): ids outside [0, n_vocab)
    # are allowed when they equal pad_id (e.g. -100, or n_vocab itself)
    logits, ids, _ = random_lm_batch(seed, 140)
    V = logits.shape[-1]
    pad_id = -100 if where == "below" else V
    ids = ids.clone()
    ids[:, -1] = pad_id  # the last target of every row is padding
    check_close(call(gpt, "lm_loss", logits, ids, pad_id=pad_id), shifted_cross_entropy(logits, ids, pad_id),
                f"lm_loss with pad_id = {pad_id} (outside the vocabulary)", **F64)  # fmt: skip


@pytest.mark.exercise("lm_loss", points=0.5, needs_core=True)
def test_lm_loss_with_a_single_real_target(gpt, seed):
    # oracle: F.cross_entropy of the one target that is not padding (the mean of one number)
    logits = randn(gen(seed, 141), 2, 4, 5)
    ids = torch.full((2, 4), 4)
    ids[1, 2] = 1  # the only real target: position 1 of row 1 predicts it
    check_close(call(gpt, "lm_loss", logits, ids, pad_id=4), F.cross_entropy(logits[1, 1:2], ids[1, 2:3]),
                "lm_loss with a single real target", **F64)  # fmt: skip


@pytest.mark.exercise("perplexity", points=0.5, needs_core=True)
@pytest.mark.parametrize("loss", [True, "1.0"], ids=["bool", "string"])
def test_perplexity_rejects_what_is_not_a_number(gpt, loss):
    # contract (docstring): a bool or a string is not a loss -> ValueError naming loss
    expect_value_error(lambda: call_exercise(gpt, "perplexity", (loss,), check_dtypes=False),
                       f"perplexity({loss!r})", "loss")  # fmt: skip


@pytest.mark.exercise("train_step", points=0.5, needs_core=True)
@pytest.mark.parametrize("n_prompt", [True, 1.5], ids=["bool", "float"])
def test_train_step_n_prompt_is_an_int(gpt, seed, n_prompt):
    # contract (docstring): n_prompt is an int in [0, T) -> ValueError naming n_prompt
    params, batches = train_case(seed, 142, n_steps=1)
    expect_value_error(raising(gpt, "run_train_steps", params, batches, 2, n_prompt=n_prompt),
                       f"n_prompt = {n_prompt!r}", "n_prompt")  # fmt: skip


@pytest.mark.exercise("filter_logits", points=0.25, needs_core=True)
@pytest.mark.parametrize("top_k", [True, 2.0], ids=["bool", "float"])
def test_filter_logits_top_k_is_an_int(gpt, top_k):
    # contract (docstring): top_k is an int >= 1 -> ValueError naming top_k
    expect_value_error(raising(gpt, "filter_logits", torch.zeros(5), top_k=top_k), f"top_k = {top_k!r}", "top_k")


@pytest.mark.exercise("expert_capacity_mask", points=0)
def test_expert_capacity_mask_counts_are_ints(gpt):
    # contract (docstring): n_experts and capacity are ints (not bools or floats) -> ValueError naming them
    indices = torch.tensor([[0, 1], [1, 2]])
    for args, name in (
        ((indices, 3.0, 1), "n_experts"),
        ((indices, 3, True), "capacity"),
        ((indices, 3, 1.5), "capacity"),
    ):
        expect_value_error(raising(gpt, "expert_capacity_mask", *args), f"expert_capacity_mask{args[1:]}", name)


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_checks_the_prompt_ids_and_heads(gpt, gpt_ref, seed):
    # contract: the errors of generate (ids in [0, n_vocab), n_heads divides d); id 0 and n_vocab - 1
    # are ordinary ids (oracle for those: the reference generate)
    params = varied_model(seed, 143)  # n_vocab 13 < d 16
    for prompt in ([-1, 2], [13], [2, 14]):
        expect_value_error(raising(gpt, "generate_with_kv_cache", prompt, params, 2, 2), f"prompt {prompt}", "prompt")
    expect_value_error(raising(gpt, "generate_with_kv_cache", [1], params, 3, 2), "n_heads = 3 for d = 16", "n_heads")
    for prompt in ([0, 3], [12]):
        got = call(gpt, "generate_with_kv_cache", prompt, params, 2, n_new=3)
        check_equal(got, gpt_ref.generate(prompt, params, 2, n_new=3), f"ids generated from the prompt {prompt}")


# --- beyond the book: a LLaMA-style block (0 points) --------------------------------------------


def rope_oracle(x, positions, base=10000.0):
    """Rotary embedding by the formula, one pair at a time (float64)."""
    d = x.shape[-1]
    out = x.double().clone()
    for i in range(d // 2):
        angle = positions.double() * base ** (-2 * i / d)  # (T,)
        a, b = x[..., 2 * i].double(), x[..., 2 * i + 1].double()
        out[..., 2 * i], out[..., 2 * i + 1] = a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()
    return out


def llama_params(g, d, d_ff, dtype=torch.float64):
    s = 1.0 / math.sqrt(d)
    return {"norm1": {"weight": 1 + randn(g, d, dtype=dtype, scale=0.2)},
            "attn": {"W_qkv": randn(g, d, 3 * d, dtype=dtype, scale=2 * s), "W_o": randn(g, d, d, dtype=dtype, scale=s)},
            "norm2": {"weight": 1 + randn(g, d, dtype=dtype, scale=0.2)},
            "mlp": {"W_gate": randn(g, d, d_ff, dtype=dtype, scale=s), "W_up": randn(g, d, d_ff, dtype=dtype, scale=s),
                    "W_down": randn(g, d_ff, d, dtype=dtype, scale=1.0 / math.sqrt(d_ff))}}  # fmt: skip


def llama_oracle(x, p, n_heads):
    """The block from torch built-ins: nn.RMSNorm, F.scaled_dot_product_attention(is_causal), F.silu."""
    B, T, d = x.shape
    dh = d // n_heads

    def norm(z, weight):
        layer = torch.nn.RMSNorm(d, eps=1e-6, dtype=z.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight)
        return layer(z)

    q, k, v = (norm(x, p["norm1"]["weight"]) @ p["attn"]["W_qkv"]).split(d, dim=-1)
    q, k, v = (t.view(B, T, n_heads, dh).transpose(1, 2) for t in (q, k, v))
    positions = torch.arange(T)
    q, k = rope_oracle(q, positions).to(x.dtype), rope_oracle(k, positions).to(x.dtype)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, d)
    h = x + y @ p["attn"]["W_o"]
    a = norm(h, p["norm2"]["weight"])
    return h + (F.silu(a @ p["mlp"]["W_gate"]) * (a @ p["mlp"]["W_up"])) @ p["mlp"]["W_down"]


@pytest.mark.exercise("rms_norm", points=0)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_rms_norm_matches_torch(gpt, seed, dtype):
    # oracle: torch.nn.RMSNorm(d, eps=1e-6) with its weight set to ours; leading dimensions (3, 5)
    g = gen(seed, 150 + (dtype == torch.float32))
    x, weight = randn(g, 3, 5, 8, dtype=dtype, scale=2.0), 1 + randn(g, 8, dtype=dtype, scale=0.3)
    layer = torch.nn.RMSNorm(8, eps=1e-6, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        expected = layer(x)
    got = call(gpt, "rms_norm", x, weight)
    check_dtype(got, dtype, "rms_norm(x, weight)")
    check_close(got, expected, "rms_norm(x, weight)", **tol(dtype))


@pytest.mark.exercise("rms_norm", points=0)
def test_rms_norm_uses_eps_and_rejects_a_bad_weight(gpt, seed):
    # oracle: the formula with eps = 0.5 (a large eps shows where it goes); a (d+1,) weight -> ValueError
    x, weight = randn(gen(seed, 152), 2, 4, scale=0.3), torch.ones(4, dtype=torch.float64)
    expected = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 0.5)
    check_close(call(gpt, "rms_norm", x, weight, eps=0.5), expected, "rms_norm(x, weight, eps=0.5)", **F64)
    expect_value_error(raising(gpt, "rms_norm", x, torch.ones(5, dtype=torch.float64)), "a (5,) weight", "weight")


@pytest.mark.exercise("apply_rope", points=0)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_apply_rope_rotates_each_pair(gpt, seed, dtype):
    # oracle: the formula pair by pair; positions need not start at 0; base 100 and 10000
    x = randn(gen(seed, 153), 2, 6, 8, dtype=dtype)
    positions = torch.tensor([0, 1, 2, 7, 30, 511])
    for base in (10000.0, 100.0):
        got = call(gpt, "apply_rope", x, positions, base=base)
        check_dtype(got, dtype, "apply_rope(x, positions)")
        check_close(got, rope_oracle(x, positions, base).to(dtype), f"apply_rope with base {base:g}", **tol(dtype))


@pytest.mark.exercise("apply_rope", points=0)
def test_apply_rope_scores_depend_on_relative_positions(gpt, seed):
    # property: q turned for position p and k for s give the same score as for p + c and s + c;
    # rotations keep lengths
    g = gen(seed, 154)
    q, k = randn(g, 1, 8), randn(g, 1, 8)
    scores = [
        (call(gpt, "apply_rope", q, torch.tensor([3 + c])) * call(gpt, "apply_rope", k, torch.tensor([1 + c]))).sum()
        for c in (0, 5, 37)
    ]
    for c, score in zip((5, 37), scores[1:]):
        check_close(score, scores[0], f"RoPE score of positions (3, 1) shifted by {c}", **F64)
    turned = call(gpt, "apply_rope", q, torch.tensor([9]))
    check_close(turned.norm(), q.norm(), "the length of a turned vector", **F64)


@pytest.mark.exercise("apply_rope", points=0)
def test_apply_rope_rejects_bad_shapes(gpt):
    # contract (docstring): an odd d names x; positions of the wrong length name positions
    expect_value_error(raising(gpt, "apply_rope", torch.zeros(3, 5), torch.arange(3)), "an odd d", "x")
    expect_value_error(raising(gpt, "apply_rope", torch.zeros(3, 4), torch.arange(4)), "4 positions for 3 rows",
                       "positions")  # fmt: skip


@pytest.mark.exercise("swiglu", points=0)
def test_swiglu_matches_silu(gpt, seed):
    # oracle: (F.silu(x W_gate) * (x W_up)) W_down; a wrong W_down shape names W_down
    g = gen(seed, 155)
    x, Wg, Wu, Wd = randn(g, 2, 3, 6), randn(g, 6, 10), randn(g, 6, 10), randn(g, 10, 6)
    check_close(call(gpt, "swiglu", x, Wg, Wu, Wd), (F.silu(x @ Wg) * (x @ Wu)) @ Wd, "swiglu", **F64)
    expect_value_error(raising(gpt, "swiglu", x, Wg, Wu, Wd.T), "W_down of shape (6, 10)", "W_down")


@pytest.mark.exercise("llama_block", points=0)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_llama_block_matches_torch_built_ins(gpt, seed, dtype):
    # oracle: nn.RMSNorm, the RoPE formula, F.scaled_dot_product_attention(is_causal=True) and F.silu
    g = gen(seed, 156 + (dtype == torch.float32))
    x, params = randn(g, 2, 7, 8, dtype=dtype), llama_params(g, 8, 16, dtype)
    got = call(gpt, "llama_block", x, params, 2)
    check_dtype(got, dtype, "llama_block(x, params, 2)")
    check_close(got, llama_oracle(x, params, 2), "llama_block(x, params, n_heads=2)", **tol(dtype))


@pytest.mark.exercise("llama_block", points=0)
def test_llama_block_is_causal_and_checks_heads(gpt, seed):
    # property: changing tokens 4, 5 never changes outputs 0..3; contract: d = 8 in 8 heads of width 1
    # (odd, no pairs for RoPE) -> ValueError naming n_heads
    g = gen(seed, 158)
    x, params = randn(g, 1, 6, 8), llama_params(g, 8, 16)
    x2 = x.clone()
    x2[:, 4:] = randn(g, 1, 2, 8, scale=5.0)
    a, b = call(gpt, "llama_block", x, params, 2), call(gpt, "llama_block", x2, params, 2)
    check_close(a[:, :4], b[:, :4], "llama_block outputs 0..3 after changing tokens 4 and 5", **F64)
    expect_value_error(raising(gpt, "llama_block", x, params, 8), "heads of width 1", "n_heads")


@pytest.mark.exercise("rms_norm", points=0)
def test_rms_norm_rejects_a_bad_weight_for_a_single_vector(gpt):
    # contract (docstring): weight must be (d,), also when x is one vector (d,) -> ValueError naming weight
    expect_value_error(raising(gpt, "rms_norm", torch.zeros(4), torch.ones(5)), "a (5,) weight for a (4,) x", "weight")


@pytest.mark.exercise("swiglu", points=0)
def test_swiglu_names_each_bad_weight(gpt):
    # contract (docstring): a weight of the wrong shape -> ValueError naming it
    x = torch.zeros(2, 6, dtype=torch.float64)
    Wg, Wu, Wd = torch.zeros(6, 10), torch.zeros(6, 10), torch.zeros(10, 6)
    cases = [((x, torch.zeros(7, 10), Wu, Wd), "W_gate of shape (7, 10)", "W_gate"),
             ((x, torch.zeros(6), Wu, Wd), "a 1-D W_gate", "W_gate"),
             ((x, Wg, torch.zeros(6, 9), Wd), "W_up of shape (6, 9)", "W_up")]  # fmt: skip
    for args, what, name in cases:
        expect_value_error(raising(gpt, "swiglu", *(a.double() for a in args)), what, name)


@pytest.mark.exercise("llama_block", points=0)
def test_llama_block_names_x_and_n_heads(gpt, seed):
    # contract (docstring): x not 3-D names x; n_heads that does not divide d (3 for d = 8), 0, or a
    # float names n_heads
    g = gen(seed, 159)
    x, params = randn(g, 1, 4, 8), llama_params(g, 8, 16)
    expect_value_error(raising(gpt, "llama_block", x[0], params, 2), "a 2-D x", "x")
    for n_heads in (3, 0, 2.0):
        expect_value_error(raising(gpt, "llama_block", x, params, n_heads), f"n_heads = {n_heads!r}", "n_heads")
