"""Hidden tests for §42 GPT と Mixture of Experts (never shipped to students).

Seeded random models and inputs (base seed from the `seed` fixture), float64 and float32.
Oracles: F.scaled_dot_product_attention(is_causal=True), F.layer_norm and F.gelu (exact erf)
assembled into an independent GPT; plain Python loops for filtering, greedy generation, routing
(a dense loop over every expert) and the load-balancing loss; and properties (causality, the
first token attends to itself only, weights sum to 1, gradients reach the router, uniform routing
gives loss 1 and collapsed routing ≈ E, seeded sampling is reproducible).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.checks import (
    check_close,
    check_dtype,
    check_equal,
    check_finite,
    check_shape,
    check_tensor,
    check_unchanged,
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


def expect_value_error(call, what):
    """``call()`` must raise ValueError; ``what`` names the bad argument case in the message."""
    try:
        call()
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as e:
        raise AssertionError(f"{what} should raise ValueError, got {type(e).__name__}") from None
    raise AssertionError(f"{what} should raise ValueError, but returned normally")


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


def clone(tree):
    if isinstance(tree, dict):
        return {k: clone(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [clone(v) for v in tree]
    return tree.clone()


def check_tree_unchanged(before, after, what):
    if isinstance(before, dict):
        for k in before:
            check_tree_unchanged(before[k], after[k], f"{what}[{k!r}]")
    elif isinstance(before, list):
        for i, (b, a) in enumerate(zip(before, after)):
            check_tree_unchanged(b, a, f"{what}[{i}]")
    else:
        check_unchanged(before, after, what)


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
        got = gpt.causal_mask(T)
        check_tensor(got, f"causal_mask({T})")
        check_dtype(got, torch.bool, f"causal_mask({T})")
        check_equal(got, torch.ones(T, T).tril().bool(), f"causal_mask({T})")


@pytest.mark.exercise("causal_mask", points=1)
def test_causal_mask_rejects_bad_lengths(gpt):
    # contract: seq_len must be a positive int
    for bad in (0, -3):
        expect_value_error(lambda bad=bad: gpt.causal_mask(bad), f"causal_mask({bad})")


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
        got = gpt.causal_self_attention(x, params, n_heads)
        check_tensor(got, "causal_self_attention(x)")
        check_dtype(got, dtype, f"causal_self_attention(x) for {dtype} x")
        what = f"causal_self_attention with {n_heads} heads in {dtype}"
        check_close(got, oracle_attention(x, params, n_heads), what, **tol(dtype))


@pytest.mark.exercise("causal_self_attention", points=2)
def test_causal_self_attention_ignores_the_future(gpt, seed):
    # property: changing the tokens after t never changes the outputs at positions <= t
    g = gen(seed, 10)
    x = randn(g, 2, 7, 8)
    params = attn_params(g, 8, torch.float64)
    before = gpt.causal_self_attention(x, params, 2)
    for t in (0, 3, 5):
        x2 = x.clone()
        x2[:, t + 1 :] = randn(g, 2, 6 - t, 8, scale=5.0)
        after = gpt.causal_self_attention(x2, params, 2)
        check_close(
            after[:, : t + 1], before[:, : t + 1], f"outputs at positions <= {t} after changing later tokens", **F64
        )


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_first_token_sees_itself_only(gpt, seed):
    # property: out[:, 0] equals attention over token 0 alone, i.e. (x0 W_v + b_v) W_o + b_o
    g = gen(seed, 11)
    x = randn(g, 3, 6, 8)
    p = attn_params(g, 8, torch.float64)
    out = gpt.causal_self_attention(x, p, 4)
    alone = gpt.causal_self_attention(x[:, :1], p, 4)
    v0 = x[:, 0] @ p["W_qkv"][:, 16:] + p["b_qkv"][16:]
    check_close(out[:, 0], v0 @ p["W_o"] + p["b_o"], "out[:, 0] (token 0 can only attend to itself)", **F64)
    check_close(out[:, :1], alone, "out[:, :1] compared with attention over x[:, :1] alone", **F64)


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_leaves_its_inputs_alone(gpt, seed):
    # convention: inputs are never modified in place
    g = gen(seed, 12)
    x = randn(g, 2, 4, 8)
    p = attn_params(g, 8, torch.float64)
    x0, p0 = x.clone(), clone(p)
    gpt.causal_self_attention(x, p, 2)
    check_unchanged(x0, x, "x")
    check_tree_unchanged(p0, p, "params")


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_rejects_bad_arguments(gpt, seed):
    # contract: n_heads must divide d; W_qkv is (d, 3d); x is (B, T, d)
    g = gen(seed, 13)
    x, p = randn(g, 2, 4, 8), attn_params(g, 8, torch.float64)
    bad_p = {**p, "W_qkv": randn(g, 8, 16)}
    expect_value_error(lambda: gpt.causal_self_attention(x, p, 3), "n_heads = 3 for d = 8")
    expect_value_error(lambda: gpt.causal_self_attention(x, bad_p, 2), "W_qkv of shape (d, 2d)")
    expect_value_error(lambda: gpt.causal_self_attention(x[0], p, 2), "x of shape (T, d)")


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
    got = gpt.gpt_block(x, p, 2)
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
    check_close(gpt.gpt_block(x, p, 2), expected, "gpt_block with a zero attention sub-layer (exact erf GELU)", **F64)


@pytest.mark.exercise("gpt_block", points=1)
def test_gpt_block_is_causal(gpt, seed):
    # property: changing the last tokens does not change the block's outputs before them
    g = gen(seed, 22)
    x = randn(g, 2, 6, 8)
    p = block_params(g, 8, torch.float64)
    x2 = x.clone()
    x2[:, 4:] = randn(g, 2, 2, 8, scale=3.0)
    check_close(
        gpt.gpt_block(x2, p, 4)[:, :4], gpt.gpt_block(x, p, 4)[:, :4], "gpt_block outputs at positions < 4", **F64
    )


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
    got = gpt.gpt_forward(ids, params, 2)
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
    check_close(gpt.gpt_forward(ids, params, 2), expected, "gpt_forward with no blocks", **F64)


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_is_causal(gpt, seed):
    # property: logits at position t depend on ids[:, :t+1] only
    rng = rng_for(seed, 32)
    params = gpt_params(gen(seed, 32), 13, 8, 8, 2)
    ids = torch.from_numpy(rng.integers(0, 13, size=(2, 8)))
    ids2 = ids.clone()
    ids2[:, 5:] = (ids2[:, 5:] + 1) % 13
    check_close(
        gpt.gpt_forward(ids2, params, 2)[:, :5],
        gpt.gpt_forward(ids, params, 2)[:, :5],
        "logits at positions < 5",
        **F64,
    )


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_rejects_bad_ids(gpt, seed):
    # contract: ids is a (B, T) integer tensor with T <= T_max and ids in [0, n_vocab)
    params = gpt_params(gen(seed, 33), 9, 4, 8, 1)
    cases = {"ids longer than T_max": torch.zeros(1, 5, dtype=torch.long),
             "an id >= n_vocab": torch.tensor([[1, 9]]),
             "1-D ids": torch.tensor([1, 2])}  # fmt: skip
    for what, ids in cases.items():
        expect_value_error(lambda ids=ids: gpt.gpt_forward(ids, params, 2), f"gpt_forward with {what}")


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
        x0 = x.clone()
        got = gpt.filter_logits(x, top_k=top_k)
        expected = torch.tensor([[loop_top_k(r, top_k) for r in rows] for rows in x.tolist()], dtype=torch.float64)
        check_dtype(got, torch.float64, "filter_logits(x) for float64 x")
        check_close(got, expected, f"filter_logits(top_k={top_k}) for 10 logits", **F64)
        check_unchanged(x0, x, "logits")


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_k_keeps_ties_at_the_boundary(gpt):
    # documented tie rule: every logit equal to the k-th largest is kept
    x = torch.tensor([[0.5, 2.0, 1.0, 1.0, -1.0], [3.0, 3.0, 3.0, 0.0, 0.0]], dtype=torch.float64)
    inf = math.inf
    expected = torch.tensor([[-inf, 2.0, 1.0, 1.0, -inf], [3.0, 3.0, 3.0, -inf, -inf]], dtype=torch.float64)
    check_close(gpt.filter_logits(x, top_k=2), expected, "filter_logits(top_k=2) with ties at the 2nd largest", **F64)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_p_matches_loop(gpt, seed):
    # oracle: a Python loop — the smallest set of most likely tokens with total probability >= top_p
    # (the most likely token is always kept). A cumulative sum of random probabilities lands within
    # rounding error of top_p with probability ~1e-15, so the floating-point boundary does not matter.
    for top_p in (0.05, 0.5, 0.9, 1.0):
        rng = rng_for(seed, 50 + int(100 * top_p))
        x = torch.from_numpy(rng.normal(scale=2.0, size=(4, 12)))
        expected = torch.tensor([loop_top_p(r, top_p) for r in x.tolist()], dtype=torch.float64)
        check_close(gpt.filter_logits(x, top_p=top_p), expected, f"filter_logits(top_p={top_p})", **F64)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_k_then_top_p(gpt):
    # documented order: top_k first, then top_p on the renormalised remaining probabilities.
    # probabilities 0.4, 0.3, 0.2, 0.1; top_k=3 leaves 0.4, 0.3, 0.2 -> renormalised 4/9, 3/9, 2/9;
    # top_p=0.75: 4/9 < 0.75 <= 7/9 -> the first two remain (without renormalising, three would)
    logits = torch.log(torch.tensor([0.2, 0.4, 0.1, 0.3], dtype=torch.float64))
    expected = torch.tensor([-math.inf, math.log(0.4), -math.inf, math.log(0.3)], dtype=torch.float64)
    check_close(gpt.filter_logits(logits, top_k=3, top_p=0.75), expected, "filter_logits(top_k=3, top_p=0.75)", **F64)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_rejects_bad_limits(gpt):
    # contract: top_k >= 1, 0 < top_p <= 1
    for kwargs in ({"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        expect_value_error(
            lambda kwargs=kwargs: gpt.filter_logits(torch.zeros(5), **kwargs), f"filter_logits({kwargs})"
        )


# --- generate --------------------------------------------------------------------------------------


def varied_model(seed, k, n_vocab=13, T_max=6):
    return gpt_params(gen(seed, k), n_vocab, T_max, 16, 2)


@pytest.mark.exercise("generate", points=1)
def test_generate_greedy_matches_loop(gpt, seed):
    # oracle: plain loop over the torch-built-in GPT, argmax of the last position's logits
    rng = rng_for(seed, 70)
    params = varied_model(seed, 70, T_max=16)
    prompt = [int(i) for i in rng.integers(0, 13, size=3)]
    got = gpt.generate(prompt, params, 2, n_new=8)
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
        got = gpt.generate(torch.tensor(prompt), params, 2, n_new=7)
        check_equal(
            got.tolist(), oracle_greedy(prompt, params, 2, 7), f"greedy ids for a prompt of {n_prompt} ids, T_max=5"
        )


@pytest.mark.exercise("generate", points=1)
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
    check_equal(gpt.generate([7], params, 2, n_new=3).tolist(), [3, 3, 3], "greedy ids when tokens 3 and 7 tie")


@pytest.mark.exercise("generate", points=1)
def test_generate_sampling_is_seeded(gpt, seed):
    # property: same seed, same ids; another seed, other ids (temperature 2 on a 13-token vocabulary)
    params = varied_model(seed, 73)
    a = gpt.generate([1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 5)
    b = gpt.generate([1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 5)
    c = gpt.generate([1, 2], params, 2, n_new=12, temperature=2.0, seed=seed + 6)
    check_equal(a.tolist(), b.tolist(), "ids of two calls with the same seed")
    assert a.tolist() != c.tolist(), "two different seeds gave the same 12 sampled ids: use the seed argument"


@pytest.mark.exercise("generate", points=1)
def test_generate_samples_only_from_the_top_k(gpt, seed):
    # property: with top_k=3 the first new id is always one of the 3 most likely (and varies)
    params = varied_model(seed, 75)
    allowed = set(torch.topk(oracle_last_logits([4, 1], params, 2), 3).indices.tolist())
    seen = {
        int(gpt.generate([4, 1], params, 2, n_new=1, temperature=5.0, top_k=3, seed=seed * 30 + s)[0])
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
    for s in range(n):
        counts[int(gpt.generate([2, 0, 3], params, 1, n_new=1, temperature=temperature, seed=seed * n + s)[0])] += 1
    check_close(
        counts / n,
        torch.softmax(z / temperature, dim=-1),
        "frequencies of the first sampled id (temperature 0.5)",
        rtol=0,
        atol=0.09,
    )


@pytest.mark.exercise("generate", points=1)
def test_generate_rejects_bad_arguments(gpt, seed):
    # contract: non-empty prompt, n_new >= 0, temperature >= 0
    params = varied_model(seed, 77)
    expect_value_error(lambda: gpt.generate([], params, 2, 2), "generate with an empty prompt")
    expect_value_error(lambda: gpt.generate([1], params, 2, -1), "generate with n_new = -1")
    expect_value_error(lambda: gpt.generate([1], params, 2, 2, temperature=-0.5), "generate with temperature = -0.5")


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
        weights, indices = gpt.moe_gate(x, W, k)
        exp_w, exp_i = oracle_gate(x.double(), W.double(), k)
        check_shape(weights, (N, k), f"weights for k = {k}")
        check_dtype(weights, dtype, f"weights for {dtype} x")
        check_dtype(indices, torch.int64, "indices")
        check_equal(indices.tolist(), exp_i, f"indices for k = {k} (top-k experts, most likely first)")
        check_close(weights, exp_w.to(dtype), f"weights (softmax over the top-{k} logits) in {dtype}", **tol(dtype))


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_weights_sum_to_one(gpt, seed):
    # property: each token's k weights are a distribution, in descending order
    g = gen(seed, 85)
    weights, _ = gpt.moe_gate(randn(g, 20, 6, scale=3.0), randn(g, 6, 8), 3)
    check_close(weights.sum(dim=-1), torch.ones(20, dtype=torch.float64), "sum of each token's weights", **F64)
    assert bool((weights[:, :-1] >= weights[:, 1:]).all()), "weights should be sorted in descending order"


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_gradients_reach_the_router(gpt, seed):
    # property: d(sum weights * c)/dW_gate is non-zero (k >= 2: renormalised weights still depend on W_gate)
    g = gen(seed, 86)
    x, W = randn(g, 10, 6), randn(g, 6, 5).requires_grad_(True)
    c = randn(g, 10, 2)
    weights, _ = gpt.moe_gate(x, W, 2)
    assert weights.requires_grad, "weights are detached from W_gate: the router could not learn"
    (weights * c).sum().backward()
    assert W.grad is not None and float(W.grad.abs().sum()) > 1e-8, "no gradient reaches W_gate"
    check_finite(W.grad, "the gradient of W_gate")


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_rejects_bad_k(gpt):
    # contract: 1 <= k <= E (here E = 4)
    for k in (0, 5):
        expect_value_error(
            lambda k=k: gpt.moe_gate(torch.ones(3, 2), torch.ones(2, 4), k), f"moe_gate with k = {k}, E = 4"
        )


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
        y, router_probs, indices = gpt.moe_layer(x, W, experts, k)
        check_dtype(y, dtype, f"y for {dtype} x")
        check_close(y, dense_moe(x, W, experts, k), f"y (top-{k} of {E} experts) in {dtype}", **tol(dtype))
        check_close(router_probs, torch.softmax(x @ W, dim=-1), "router_probs", **tol(dtype))
        check_equal(indices.tolist(), oracle_gate(x.double(), W.double(), k)[1], f"indices for k = {k}")


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_with_all_experts_is_the_softmax_mixture(gpt, seed):
    # property: k = E uses every expert with its full router probability
    g = gen(seed, 93)
    x, W = randn(g, 7, 5), randn(g, 5, 3)
    experts = [expert_params(g, 5, 8) for _ in range(3)]
    y, _, _ = gpt.moe_layer(x, W, experts, 3)
    p = torch.softmax(x @ W, dim=-1)
    expected = sum(
        p[:, e : e + 1] * (torch.relu(x @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"]) for e, q in enumerate(experts)
    )
    check_close(y, expected, "y with k = E (softmax-weighted mixture of all experts)", **F64)


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_gradients_reach_router_and_experts(gpt, seed):
    # property: the loss of y has a non-zero gradient for W_gate and for the experts that were used
    g = gen(seed, 94)
    x, W = randn(g, 12, 5), randn(g, 5, 4).requires_grad_(True)
    experts = [{k: v.requires_grad_(True) for k, v in expert_params(g, 5, 8).items()} for _ in range(4)]
    y, _, indices = gpt.moe_layer(x, W, experts, 2)
    (y * randn(g, 12, 5)).sum().backward()
    assert W.grad is not None and float(W.grad.abs().sum()) > 1e-8, "no gradient reaches W_gate through y"
    for e in set(indices.flatten().tolist()):
        grad = experts[e]["W1"].grad
        assert grad is not None and float(grad.abs().sum()) > 0, "no gradient reaches a used expert's W1"


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_rejects_wrong_number_of_experts(gpt, seed):
    # contract: len(experts) must equal E (columns of W_gate)
    g = gen(seed, 95)
    x, W, experts = randn(g, 4, 5), randn(g, 5, 3), [expert_params(g, 5, 8) for _ in range(2)]
    expect_value_error(lambda: gpt.moe_layer(x, W, experts, 1), "moe_layer with 2 experts for E = 3")


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
def test_load_balancing_loss_matches_loop(gpt, seed):
    # oracle: E * sum_i f_i P_i written as a loop over experts; k = 1 and k = 2
    for k in (1, 2):
        rng = rng_for(seed, 100 + k)
        N, E = int(rng.integers(4, 30)), int(rng.integers(3, 9))
        router_probs = torch.softmax(randn(gen(seed, 100 + k), N, E, scale=2.0), dim=-1)
        indices = torch.topk(router_probs, k, dim=-1).indices
        got = gpt.load_balancing_loss(router_probs, indices, E)
        check_tensor(got, "load_balancing_loss(...)")
        check_shape(got, (), "load_balancing_loss(...) (a 0-dim tensor)")
        expected = torch.tensor(loop_balance(router_probs, indices, E), dtype=torch.float64)
        check_close(got, expected, f"load_balancing_loss with k = {k}", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_is_one_when_uniform(gpt):
    # property: f_i = P_i = 1/E gives E * E * (1/E)^2 = 1
    for E in (2, 5, 8):
        router_probs = torch.full((3 * E, E), 1.0 / E, dtype=torch.float64)
        indices = torch.arange(3 * E).remainder(E).unsqueeze(1)
        loss = gpt.load_balancing_loss(router_probs, indices, E)
        check_close(loss, torch.tensor(1.0, dtype=torch.float64), f"loss for uniform routing over {E} experts", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_approaches_E_when_collapsed(gpt):
    # property: every token to expert 0 with probability ~1: f_0 = 1, P_0 ~ 1, loss ~ E
    for E in (2, 5, 8):
        logits = torch.zeros(16, E, dtype=torch.float64)
        logits[:, 0] = 30.0
        loss = gpt.load_balancing_loss(torch.softmax(logits, dim=-1), torch.zeros(16, 1, dtype=torch.long), E)
        what = f"loss when every token goes to one of {E} experts"
        check_close(loss, torch.tensor(float(E), dtype=torch.float64), what, rtol=1e-6, atol=0)


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_gradient_flows_into_router_probs(gpt, seed):
    # oracle: d loss / d router_probs[n, i] = E * f_i / N (f is a count, P the differentiable mean)
    g = gen(seed, 104)
    router_probs = torch.softmax(randn(g, 10, 4), dim=-1).requires_grad_(True)
    indices = torch.topk(router_probs.detach(), 2, dim=-1).indices
    gpt.load_balancing_loss(router_probs, indices, 4).backward()
    f = torch.bincount(indices.flatten(), minlength=4).double() / indices.numel()
    assert router_probs.grad is not None, "the loss does not depend on router_probs"
    check_close(router_probs.grad, (4 * f / 10).expand(10, 4), "gradient of the loss w.r.t. router_probs", **F64)


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_rejects_bad_arguments(gpt):
    # contract: router_probs is (N, n_experts); indices lie in [0, n_experts)
    probs = torch.full((4, 3), 1 / 3, dtype=torch.float64)
    indices = torch.zeros(4, 1, dtype=torch.long)
    expect_value_error(lambda: gpt.load_balancing_loss(probs, indices, 4), "router_probs (4, 3) with n_experts = 4")
    expect_value_error(lambda: gpt.load_balancing_loss(probs, indices + 3, 3), "indices equal to n_experts")


# --- beyond the book (0 points) ------------------------------------------------------------------------


@pytest.mark.exercise("generate_with_kv_cache", points=0)
@pytest.mark.parametrize("n_prompt, T_max", [(3, 16), (3, 6), (9, 6)])
def test_kv_cache_greedy_equals_generate(gpt, seed, n_prompt, T_max):
    # oracle: the plain greedy loop (same ids as generate), also once the window slides past T_max
    rng = rng_for(seed, 110 + n_prompt + T_max)
    params = varied_model(seed, 110, T_max=T_max)
    prompt = [int(i) for i in rng.integers(0, 13, size=n_prompt)]
    got = gpt.generate_with_kv_cache(prompt, params, 2, n_new=10)
    check_dtype(got, torch.int64, "generate_with_kv_cache(...)")
    check_equal(got.tolist(), oracle_greedy(prompt, params, 2, 10), "greedy ids with a key/value cache")


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_kv_cache_sampling_equals_generate(gpt, gpt_ref, seed):
    # oracle: the reference generate with the same seed, temperature and top_k
    params = varied_model(seed, 111, T_max=8)
    kwargs = dict(n_new=12, temperature=1.5, top_k=6, seed=seed + 3)
    expected = gpt_ref.generate([5, 6], params, 2, **kwargs)
    check_equal(gpt.generate_with_kv_cache([5, 6], params, 2, **kwargs).tolist(), expected.tolist(), "sampled ids")


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
    got = gpt.expert_capacity_mask(indices, E, capacity)
    check_dtype(got, torch.bool, "expert_capacity_mask(...)")
    check_equal(got.tolist(), loop_capacity(indices, capacity), f"kept assignments with capacity {capacity}")
