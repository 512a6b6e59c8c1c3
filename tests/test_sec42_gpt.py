"""Public tests for §42 GPT と Mixture of Experts (exercises/sec42_gpt/gpt.py).

Small, readable checks on hand-made inputs; the hidden suite adds random shapes, float32 and
float64, PyTorch oracles (F.scaled_dot_product_attention, F.layer_norm, F.gelu), causality and
sampling properties. Run: `pytest tests/test_sec42_gpt.py`.
"""

import math

import pytest
import torch

from grader.calls import call
from grader.checks import check_close, check_dtype, check_equal, check_shape, check_tensor

F64 = dict(rtol=1e-7, atol=1e-12)


def repeat_model(n_vocab=6, d=4):
    """A GPT with no blocks whose logits favour the last token: greedy decoding repeats it.

    Token embeddings have zero mean and equal norm, positions add nothing and ln_f is the identity
    map of a LayerNorm, so the logit of token j is proportional to wte[last] · wte[j]."""
    angles = torch.arange(n_vocab, dtype=torch.float64) * (2 * math.pi / n_vocab)
    wte = torch.stack([torch.cos(angles), torch.sin(angles), -torch.cos(angles), -torch.sin(angles)], dim=1)
    return {
        "wte": wte,
        "wpe": torch.zeros(8, d, dtype=torch.float64),
        "blocks": [],
        "ln_f": {"gamma": torch.ones(d, dtype=torch.float64), "beta": torch.zeros(d, dtype=torch.float64)},
    }


def random_model(n_vocab=7, T_max=8, d=8, n_layers=2, seed=0):
    """A small GPT with seeded random float64 weights."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape, s=0.5: torch.randn(*shape, generator=g, dtype=torch.float64) * s  # noqa: E731

    def ln():
        return {"gamma": 1 + r(d, s=0.1), "beta": r(d, s=0.1)}

    blocks = [
        {
            "ln1": ln(),
            "attn": {"W_qkv": r(d, 3 * d), "b_qkv": r(3 * d, s=0.1), "W_o": r(d, d), "b_o": r(d, s=0.1)},
            "ln2": ln(),
            "mlp": {"W_fc": r(d, 4 * d), "b_fc": r(4 * d, s=0.1), "W_proj": r(4 * d, d), "b_proj": r(d, s=0.1)},
        }
        for _ in range(n_layers)
    ]
    return {"wte": r(n_vocab, d, s=1.0), "wpe": r(T_max, d), "blocks": blocks, "ln_f": ln()}


@pytest.mark.exercise("causal_mask", points=1)
def test_causal_mask_of_three_tokens(gpt):
    # oracle: written out by hand — token i sees tokens 0..i
    expected = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    got = call(gpt, "causal_mask", 3)
    check_tensor(got, "causal_mask(3)")
    check_dtype(got, torch.bool, "causal_mask(3)")
    check_equal(got, expected, "causal_mask(3)")


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_with_zero_queries_averages_the_past(gpt):
    # oracle: with W_q = W_k = 0 every score is 0, so token t takes the plain mean of v_0..v_t;
    # with W_v = W_o = I the output is the running mean of x
    d = 4
    eye, zero = torch.eye(d, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64)
    params = {
        "W_qkv": torch.cat([zero, zero, eye], dim=1),
        "b_qkv": torch.zeros(3 * d, dtype=torch.float64),
        "W_o": eye,
        "b_o": torch.zeros(d, dtype=torch.float64),
    }
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 3, d)
    expected = x.cumsum(dim=1) / torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 3, 1)
    got = call(gpt, "causal_self_attention", x, params, n_heads=2)
    check_shape(got, (1, 3, d), "causal_self_attention(x)")
    check_close(got, expected, "running mean of x (uniform causal attention)", **F64, show_values=True)


@pytest.mark.exercise("gpt_block", points=1, needs_core=True)
def test_gpt_block_with_zero_sublayers_returns_its_input(gpt):
    # oracle: both sub-layers output 0 when their weights and biases are 0; the residuals keep x
    d = 4
    z = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
    ln = {"gamma": torch.ones(d, dtype=torch.float64), "beta": z(d)}
    params = {
        "ln1": ln,
        "attn": {"W_qkv": z(d, 3 * d), "b_qkv": z(3 * d), "W_o": z(d, d), "b_o": z(d)},
        "ln2": ln,
        "mlp": {"W_fc": z(d, 8), "b_fc": z(8), "W_proj": z(8, d), "b_proj": z(d)},
    }
    x = torch.linspace(-1, 1, 2 * 3 * d, dtype=torch.float64).reshape(2, 3, d)
    check_close(
        call(gpt, "gpt_block", x, params, n_heads=2), x, "gpt_block(x) with zero sub-layers", **F64, show_values=True
    )


@pytest.mark.exercise("gpt_forward", points=1, needs_core=True)
def test_gpt_forward_gives_one_logit_per_vocabulary_entry(gpt):
    # oracle: shapes — (B, T) ids in, (B, T, n_vocab) logits out, in wte's dtype
    params = random_model(n_vocab=7)
    logits = call(gpt, "gpt_forward", torch.tensor([[1, 2, 3], [4, 5, 6]]), params, n_heads=2)
    check_tensor(logits, "gpt_forward(ids)")
    check_shape(logits, (2, 3, 7), "gpt_forward(ids) for ids of shape (2, 3) and 7 tokens")
    check_dtype(logits, torch.float64, "gpt_forward(ids)")


@pytest.mark.exercise("gpt_block", points=1)
def test_gpt_block_mlp_adds_the_exact_gelu(gpt):
    # oracle: with a zero attention sub-layer and ln2's gamma = 0, ln2(x) is the constant beta; with
    # W_fc = W_proj = I and zero biases the block returns x + gelu(beta), gelu(z) = z * (1 + erf(z / sqrt 2)) / 2
    d = 4
    z = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
    eye = torch.eye(d, dtype=torch.float64)
    beta = torch.tensor([1.0, -1.0, 2.0, 0.5], dtype=torch.float64)
    params = {
        "ln1": {"gamma": torch.ones(d, dtype=torch.float64), "beta": z(d)},
        "attn": {"W_qkv": z(d, 3 * d), "b_qkv": z(3 * d), "W_o": z(d, d), "b_o": z(d)},
        "ln2": {"gamma": z(d), "beta": beta},
        "mlp": {"W_fc": eye, "b_fc": z(d), "W_proj": eye, "b_proj": z(d)},
    }
    x = torch.linspace(-1, 1, 2 * 3 * d, dtype=torch.float64).reshape(2, 3, d)
    gelu = torch.tensor([b * (1 + math.erf(b / math.sqrt(2))) / 2 for b in beta.tolist()], dtype=torch.float64)
    got = call(gpt, "gpt_block", x, params, n_heads=2)
    check_close(got, x + gelu, "gpt_block(x) = x + gelu(beta)", **F64, show_values=True)


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_logits_use_the_tied_embedding(gpt):
    # oracle: repeat_model has no blocks and zero positions, so logits = ln_f(wte[id]) @ wte.T; its
    # embeddings [cos a, sin a, -cos a, -sin a] have mean 0 and variance 1/2, so the logit of token j
    # after token i is wte[i] . wte[j] / sqrt(1/2 + 1e-5) = 2 cos(a_i - a_j) / sqrt(1/2 + 1e-5)
    params = repeat_model(n_vocab=6)
    ids = torch.tensor([[0, 3, 5]])
    angles = torch.arange(6, dtype=torch.float64) * (2 * math.pi / 6)
    expected = 2 * torch.cos(angles[ids][..., None] - angles) / math.sqrt(0.5 + 1e-5)
    got = call(gpt, "gpt_forward", ids, params, n_heads=1)
    check_close(got, expected, "gpt_forward logits through the tied embedding", **F64, show_values=True)


# --- the language-model loss and the training step ----------------------------------------------


def next_token_nll(logits, ids, pad_id=None):
    """Plain loop: mean over b and t < T-1 of -log softmax(logits[b, t])[ids[b, t + 1]], skipping pad targets."""
    total, count = 0.0, 0
    B, T, _ = logits.shape
    for b in range(B):
        for t in range(T - 1):
            target = int(ids[b, t + 1])
            if target == pad_id:
                continue
            row = logits[b, t].tolist()
            top = max(row)
            total += top + math.log(sum(math.exp(z - top) for z in row)) - row[target]
            count += 1
    return total / count


@pytest.mark.exercise("lm_loss", points=2)
def test_lm_loss_position_t_predicts_the_next_token(gpt):
    # oracle: a plain loop over the positions 0..T-2, each scored on the token that follows it
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 5, generator=g, dtype=torch.float64) * 2
    ids = torch.tensor([[1, 4, 0, 2], [3, 3, 1, 0]])
    loss = call(gpt, "lm_loss", logits, ids)
    check_tensor(loss, "lm_loss(logits, ids)")
    check_shape(loss, (), "lm_loss(logits, ids)")
    check_dtype(loss, torch.float64, "lm_loss(logits, ids)")
    expected = torch.tensor(next_token_nll(logits, ids), dtype=torch.float64)
    check_close(loss, expected, "mean cross-entropy of logits[:, :-1] against ids[:, 1:]", **F64)


@pytest.mark.exercise("lm_loss", points=1)
def test_lm_loss_skips_padding_targets(gpt):
    # oracle: the same loop without the targets equal to pad_id (row 1 ends with two pads)
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 5, 6, generator=g, dtype=torch.float64) * 2
    ids = torch.tensor([[5, 1, 2, 3, 4], [2, 4, 1, 0, 0]])
    expected = torch.tensor(next_token_nll(logits, ids, pad_id=0), dtype=torch.float64)
    check_close(call(gpt, "lm_loss", logits, ids, pad_id=0), expected, "lm_loss with pad_id=0", **F64)


@pytest.mark.exercise("lm_loss", points=1)
def test_lm_loss_keeps_float32(gpt):
    # contract: float32 logits give a float32 loss (oracle: the loop of the first test)
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(1, 4, 3, generator=g)
    ids = torch.tensor([[0, 2, 1, 1]])
    loss = call(gpt, "lm_loss", logits, ids)
    check_dtype(loss, torch.float32, "lm_loss of float32 logits")
    check_close(loss, torch.tensor(next_token_nll(logits, ids)), "lm_loss of float32 logits", rtol=1e-4, atol=1e-5)


@pytest.mark.exercise("lm_loss", points=1, needs_core=True)
def test_lm_loss_without_targets_is_zero(gpt):
    # contract: when every target is pad_id there is nothing to average: 0.0, not NaN
    logits = torch.zeros(2, 3, 4, dtype=torch.float64)
    loss = call(gpt, "lm_loss", logits, torch.tensor([[1, 0, 0], [3, 0, 0]]), pad_id=0)
    check_close(loss, torch.tensor(0.0, dtype=torch.float64), "lm_loss when every target is pad_id", rtol=0, atol=0)


@pytest.mark.exercise("perplexity", points=1)
def test_perplexity_of_a_uniform_guess_is_the_vocabulary_size(gpt):
    # oracle: uniform logits over V = 7 tokens have loss log 7, and exp(log 7) = 7
    got = call(gpt, "perplexity", torch.tensor(math.log(7.0), dtype=torch.float64))
    assert isinstance(got, float), f"perplexity should return a Python float, got {type(got).__name__}"
    check_close(torch.tensor(got), torch.tensor(7.0, dtype=torch.float64), "perplexity(log 7)", **F64)


def blockless_model(n_vocab=5, T_max=6, d=4, seed=3):
    """A GPT with no blocks: logits = layer_norm(wte[ids] + wpe[:T]) @ wte.T (float64, seeded)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    return {"wte": r(n_vocab, d), "wpe": r(T_max, d) * 0.5, "blocks": [],
            "ln_f": {"gamma": 1 + 0.1 * r(d), "beta": 0.1 * r(d)}}  # fmt: skip


def sgd_oracle(params, batches, lr):
    """Plain SGD on the blockless model with autograd and F.cross_entropy on the shifted tensors."""
    p = {name: params[name].clone().requires_grad_(True) for name in ("wte", "wpe")}
    ln_f = {name: params["ln_f"][name].clone().requires_grad_(True) for name in ("gamma", "beta")}
    leaves, losses = [p["wte"], p["wpe"], ln_f["gamma"], ln_f["beta"]], []
    for ids in batches:
        T = ids.shape[1]
        h = torch.nn.functional.layer_norm(p["wte"][ids] + p["wpe"][:T], (4,), ln_f["gamma"], ln_f["beta"])
        logits = h @ p["wte"].T  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 5), ids[:, 1:].reshape(-1))
        grads = torch.autograd.grad(loss, leaves)
        with torch.no_grad():
            for leaf, grad in zip(leaves, grads):
                leaf -= lr * grad
        losses.append(loss.item())
    return {"wte": p["wte"], "wpe": p["wpe"], "gamma": ln_f["gamma"], "beta": ln_f["beta"]}, losses


@pytest.mark.exercise("train_step", points=2)
def test_train_step_two_sgd_steps_match_autograd(gpt):
    # oracle: two plain SGD steps (lr 0.5) computed with torch.autograd and F.cross_entropy on the
    # shifted tensors; the given run_train_steps calls your train_step once per batch
    params = blockless_model()
    batches = torch.tensor([[[1, 2, 3, 4, 0], [4, 3, 2, 1, 0]], [[0, 1, 0, 1, 0], [2, 2, 4, 4, 1]]])
    expected, expected_losses = sgd_oracle(params, batches, lr=0.5)
    got = call(gpt, "run_train_steps", params, batches, n_heads=1, lr=0.5)
    for loss in got["losses"]:
        assert isinstance(loss, float), (
            f"train_step should return the loss as a Python float (loss.item()), got {type(loss).__name__}"
        )
    check_close(torch.tensor(got["losses"], dtype=torch.float64), torch.tensor(expected_losses, dtype=torch.float64),
                "the losses returned by train_step (before each update)", **F64, show_values=True)  # fmt: skip
    check_close(got["params"]["wte"], expected["wte"], "wte after two steps (zero_grad, backward, step?)", **F64)
    check_close(got["params"]["wpe"], expected["wpe"], "wpe after two steps", **F64)
    check_close(got["params"]["ln_f"]["gamma"], expected["gamma"], "ln_f gamma after two steps", **F64)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_k_keeps_the_two_largest(gpt):
    # oracle: by hand — 3 and 2 are the two largest, the rest become -inf
    got = call(gpt, "filter_logits", torch.tensor([1.0, 3.0, 2.0, 0.0]), top_k=2)
    inf = float("inf")
    check_close(got, torch.tensor([-inf, 3.0, 2.0, -inf]), "filter_logits(top_k=2)", **F64, show_values=True)


@pytest.mark.exercise("filter_logits", points=1)
def test_filter_logits_top_p_keeps_the_nucleus(gpt):
    # oracle: probabilities 0.5, 0.3, 0.2: 0.5 < 0.7, 0.5 + 0.3 >= 0.7, so the first two are kept
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))
    got = call(gpt, "filter_logits", logits, top_p=0.7)
    expected = torch.tensor([math.log(0.5), math.log(0.3), -math.inf], dtype=torch.float64)
    check_close(got, expected, "filter_logits(top_p=0.7)", **F64, show_values=True)


@pytest.mark.exercise("generate", points=1)
def test_generate_greedy_repeats_with_a_repeat_model(gpt):
    # oracle: repeat_model's most likely next token is always the last token
    ids = call(gpt, "generate", [0, 4, 2], repeat_model(), n_heads=1, n_new=4)
    check_tensor(ids, "generate(...)")
    check_dtype(ids, torch.int64, "generate(...)")
    check_equal(ids.tolist(), [2, 2, 2, 2], "the 4 new ids")


@pytest.mark.exercise("generate", points=1, needs_core=True)
def test_generate_step_i_draws_with_seed_plus_i(gpt):
    # contract (the course's one seeding rule): step i draws with torch.Generator().manual_seed(seed + i);
    # oracle: your one-step generate from the prompt extended by the first new token, with seed 5 + 1
    params = random_model(T_max=8)
    params["wte"] = params["wte"] / 4  # logits of size ~1: a spread-out distribution
    first_two = call(gpt, "generate", [1, 2], params, n_heads=2, n_new=2, temperature=1.0, seed=5).tolist()
    second = call(gpt, "generate", [1, 2, first_two[0]], params, n_heads=2, n_new=1, temperature=1.0, seed=6).tolist()
    check_equal(first_two[1:], second, "the 2nd token of generate(seed=5) vs a one-step generate with seed=6")


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_picks_and_renormalises_the_top_two(gpt):
    # oracle: logits log 1, log 2, log 3 give probabilities 1/6, 2/6, 3/6; the top two are experts
    # 2 and 1, renormalised to 3/5 and 2/5
    x = torch.tensor([[1.0]], dtype=torch.float64)
    W_gate = torch.log(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    weights, indices = call(gpt, "moe_gate", x, W_gate, k=2)
    check_equal(indices.tolist(), [[2, 1]], "indices")
    check_close(weights, torch.tensor([[0.6, 0.4]], dtype=torch.float64), "weights", **F64, show_values=True)


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_with_one_expert_is_that_expert(gpt):
    # oracle: one expert with k = 1 gets weight 1 for every token: y = relu(x W1 + b1) W2 + b2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    expert = {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in
              {"W1": (3, 4), "b1": (4,), "W2": (4, 3), "b2": (3,)}.items()}  # fmt: skip
    y, router_probs, indices = call(gpt, "moe_layer", x, torch.zeros(3, 1, dtype=torch.float64), [expert], k=1)
    expected = torch.relu(x @ expert["W1"] + expert["b1"]) @ expert["W2"] + expert["b2"]
    check_close(y, expected, "y", **F64, show_values=True)
    check_close(router_probs, torch.ones(5, 1, dtype=torch.float64), "router_probs", **F64, show_values=True)
    check_equal(indices.tolist(), [[0]] * 5, "indices")


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_is_one_for_uniform_routing(gpt):
    # oracle: f_i = P_i = 1/4 for 4 experts: 4 * 4 * (1/4 * 1/4) = 1
    router_probs = torch.full((8, 4), 0.25, dtype=torch.float64)
    indices = torch.tensor([[0], [1], [2], [3], [0], [1], [2], [3]])
    loss = call(gpt, "load_balancing_loss", router_probs, indices, n_experts=4)
    check_close(loss, torch.tensor(1.0, dtype=torch.float64), "load_balancing_loss", **F64, show_values=True)


# --- beyond the book (0 points) ---------------------------------------------------------------


@pytest.mark.exercise("generate_with_kv_cache", points=0)
def test_generate_with_kv_cache_gives_the_same_ids_as_generate(gpt):
    # oracle: your generate (the cache changes how fast, not what)
    params = random_model(T_max=8)
    expected = call(gpt, "generate", [1, 2, 3], params, n_heads=2, n_new=4)
    check_equal(call(gpt, "generate_with_kv_cache", [1, 2, 3], params, n_heads=2, n_new=4), expected, "the new ids")


@pytest.mark.exercise("expert_capacity_mask", points=0)
def test_expert_capacity_mask_drops_late_assignments(gpt):
    # oracle: by hand, capacity 2; expert 0 is chosen by tokens 0, 1, 2 -> token 2's choice is dropped;
    # expert 1 by tokens 0, 2, 3 -> token 3's choice is dropped
    indices = torch.tensor([[0, 1], [0, 2], [0, 1], [1, 2]])
    got = call(gpt, "expert_capacity_mask", indices, n_experts=3, capacity=2)
    expected = torch.tensor([[True, True], [True, True], [False, True], [False, True]])
    check_equal(got, expected, "expert_capacity_mask(capacity=2)")


@pytest.mark.exercise("causal_self_attention", points=1)
def test_causal_self_attention_heads_own_contiguous_features(gpt):
    # oracle: a plain loop over heads and tokens — with W_qkv = [I, I, I] and W_o = I, head h attends
    # with features [2h, 2h + 2) of x (q = k = v = x) over tokens 0..t, scores / sqrt(2)
    d, n_heads, T = 4, 2, 3
    eye = torch.eye(d, dtype=torch.float64)
    params = {"W_qkv": torch.cat([eye, eye, eye], dim=1), "b_qkv": torch.zeros(3 * d, dtype=torch.float64),
              "W_o": eye, "b_o": torch.zeros(d, dtype=torch.float64)}  # fmt: skip
    x = torch.tensor([[[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 1.0, 0.0], [2.0, 1.0, 0.0, -1.0]]], dtype=torch.float64)
    expected = torch.zeros(1, T, d, dtype=torch.float64)
    for h in range(n_heads):
        xh = x[0, :, 2 * h : 2 * h + 2]  # (T, 2): the features of head h
        for t in range(T):
            w = torch.softmax(xh[: t + 1] @ xh[t] / math.sqrt(2), dim=0)  # (t + 1,)
            expected[0, t, 2 * h : 2 * h + 2] = w @ xh[: t + 1]
    got = call(gpt, "causal_self_attention", x, params, n_heads=n_heads)
    check_close(got, expected, "causal_self_attention (head h = features [2h, 2h + 2))", **F64, show_values=True)


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_adds_the_position_embeddings(gpt):
    # oracle: repeat_model with position embeddings and no blocks: logits = ln_f(wte[id] + wpe[t]) @ wte.T,
    # ln_f the LayerNorm with gamma = 1, beta = 0 written out (biased variance, eps 1e-5)
    params = repeat_model(n_vocab=6)
    params["wpe"] = torch.arange(32.0, dtype=torch.float64).reshape(8, 4) / 10
    ids = torch.tensor([[0, 0, 3]])
    h = params["wte"][ids] + params["wpe"][:3]  # (1, 3, 4)
    mean, var = h.mean(-1, keepdim=True), h.var(-1, unbiased=False, keepdim=True)
    expected = (h - mean) / torch.sqrt(var + 1e-5) @ params["wte"].T
    got = call(gpt, "gpt_forward", ids, params, n_heads=1)
    check_close(got, expected, "gpt_forward logits (token + position embeddings)", **F64, show_values=True)


@pytest.mark.exercise("moe_layer", points=1)
def test_moe_layer_weighs_each_expert_by_its_own_gate_weight(gpt):
    # oracle: by hand — logits x W_gate = [1, 0], k = E = 2, so the weights are softmax([1, 0]) =
    # [e, 1] / (e + 1); expert 0 outputs [1, 0] and expert 1 [0, 1] (W = 0, b2 = output), so y = the weights
    z = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
    experts = [{"W1": z(2, 3), "b1": z(3), "W2": z(3, 2), "b2": torch.eye(2, dtype=torch.float64)[e]} for e in range(2)]
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    W_gate = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    y, _, _ = call(gpt, "moe_layer", x, W_gate, experts, k=2)
    e = math.e
    check_close(y, torch.tensor([[e / (e + 1), 1 / (e + 1)]], dtype=torch.float64), "y", **F64, show_values=True)


@pytest.mark.exercise("gpt_forward", points=1)
def test_gpt_forward_takes_exactly_T_max_tokens(gpt):
    # oracle: the tied-embedding logits 2 cos(a_i - a_j) / sqrt(1/2 + 1e-5) of repeat_model (see above)
    # for T = T_max = 8 tokens: a context as long as wpe has rows fits
    params = repeat_model(n_vocab=6)
    ids = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1]])  # T = 8 = T_max
    angles = torch.arange(6, dtype=torch.float64) * (2 * math.pi / 6)
    expected = 2 * torch.cos(angles[ids][..., None] - angles) / math.sqrt(0.5 + 1e-5)
    got = call(gpt, "gpt_forward", ids, params, n_heads=1)
    check_close(got, expected, "gpt_forward of T = T_max tokens (allowed: 1 <= T <= T_max)", **F64, show_values=True)


@pytest.mark.exercise("moe_gate", points=1)
def test_moe_gate_weights_have_the_softmax_gradient(gpt):
    # oracle: autograd through softmax of the k chosen logits (the renormalised top-k is that softmax),
    # with the experts torch.topk picks
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, generator=g, dtype=torch.float64)
    W = torch.randn(2, 4, generator=g, dtype=torch.float64).requires_grad_(True)
    c = torch.tensor([1.0, -2.0], dtype=torch.float64)  # d loss / d weights[:, j]
    weights, indices = call(gpt, "moe_gate", x, W, k=2)
    assert weights.requires_grad, "weights are detached from W_gate: the router could not learn"
    (grad,) = torch.autograd.grad((weights * c).sum(), [W])
    W_ref = W.detach().clone().requires_grad_(True)
    top = (x @ W_ref).gather(1, torch.topk(x @ W.detach(), 2, dim=-1).indices)  # (3, 2) chosen logits
    (torch.softmax(top, dim=-1) * c).sum().backward()
    check_close(grad, W_ref.grad, "the gradient of the weights w.r.t. W_gate: keep the renormalising sum in the graph",
                **F64)  # fmt: skip


@pytest.mark.exercise("load_balancing_loss", points=1)
def test_load_balancing_loss_keeps_float32(gpt):
    # contract: float32 router probabilities give a float32 loss; oracle: E * sum_i f_i P_i in a loop
    g = torch.Generator().manual_seed(0)
    router_probs = torch.softmax(torch.randn(6, 3, generator=g), dim=-1)  # float32
    indices = torch.tensor([[0], [0], [1], [2], [0], [1]])
    loss = call(gpt, "load_balancing_loss", router_probs, indices, n_experts=3)
    check_dtype(loss, torch.float32, "load_balancing_loss of float32 router_probs")
    f = [sum(int(i) == e for i in indices.flatten()) / 6 for e in range(3)]
    P = [sum(float(router_probs[n, e]) for n in range(6)) / 6 for e in range(3)]
    expected = torch.tensor(3 * sum(fe * Pe for fe, Pe in zip(f, P)))
    check_close(loss, expected, "load_balancing_loss of float32 router_probs", rtol=1e-4, atol=1e-5, show_values=True)


# --- beyond the book: a LLaMA-style block (bonus, 0 points) -----------------------------------


@pytest.mark.exercise("rms_norm", points=1)
def test_rms_norm_divides_by_the_root_mean_square(gpt):
    # oracle: by hand — [3, -4, 2, 1]: mean of squares 30/4, no mean subtracted, then times weight
    x = torch.tensor([[3.0, -4.0, 2.0, 1.0]], dtype=torch.float64)
    weight = torch.tensor([1.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    expected = x / math.sqrt(30 / 4 + 1e-6) * weight
    check_close(call(gpt, "rms_norm", x, weight), expected, "rms_norm of [3, -4, 2, 1] (no mean is subtracted)", **F64)


@pytest.mark.exercise("apply_rope", points=1)
def test_apply_rope_turns_each_interleaved_pair(gpt):
    # oracle: by hand — d = 4: pair (0, 1) turns by p rad, pair (2, 3) by p / 100 rad (base 10000)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]] * 2, dtype=torch.float64)  # rows at positions 0 and 2
    got = call(gpt, "apply_rope", x, torch.tensor([0, 2]))
    a, b = 2.0, 2.0 / 100
    expected = torch.tensor([[1.0, 0.0, 0.0, 1.0], [math.cos(a), math.sin(a), -math.sin(b), math.cos(b)]],
                            dtype=torch.float64)  # fmt: skip
    check_close(got, expected, "apply_rope: row 0 unchanged, row 1 turned for position 2 (pairs (0,1), (2,3))", **F64)


@pytest.mark.exercise("swiglu", points=1)
def test_swiglu_gates_with_silu(gpt):
    # oracle: by hand — d = d_ff = 1: silu(2 * 1.5) * (2 * 0.5) * 3
    x = torch.tensor([[2.0]], dtype=torch.float64)
    W_gate, W_up, W_down = (torch.tensor([[v]], dtype=torch.float64) for v in (1.5, 0.5, 3.0))
    silu = 3.0 / (1 + math.exp(-3.0))
    check_close(call(gpt, "swiglu", x, W_gate, W_up, W_down), torch.tensor([[silu * 1.0 * 3.0]], dtype=torch.float64),
                "swiglu with silu(z) = z sigmoid(z)", **F64)  # fmt: skip


@pytest.mark.exercise("llama_block", points=1)
def test_llama_block_turns_only_queries_and_keys(gpt):
    # oracle: the block written out with torch built-ins — RMSNorm, RoPE on q and k (not v), causal
    # softmax attention, SwiGLU — on seeded weights
    g = torch.Generator().manual_seed(0)
    B, T, d, n_heads, d_ff = 1, 4, 4, 1, 6

    def r(*shape, s=0.5):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * s

    x = r(B, T, d, s=1.0)
    p = {"norm1": {"weight": 1 + r(d, s=0.1)}, "attn": {"W_qkv": r(d, 3 * d), "W_o": r(d, d)},
         "norm2": {"weight": 1 + r(d, s=0.1)}, "mlp": {"W_gate": r(d, d_ff), "W_up": r(d, d_ff), "W_down": r(d_ff, d)}}  # fmt: skip

    def norm(z, w):
        return z / torch.sqrt((z * z).mean(-1, keepdim=True) + 1e-6) * w

    def rope(z):  # (T, d) rows at positions 0..T-1, pairs (0, 1) and (2, 3)
        out = z.clone()
        for i in range(d // 2):
            angle = torch.arange(T, dtype=torch.float64) * 10000.0 ** (-2 * i / d)
            a, b = z[:, 2 * i], z[:, 2 * i + 1]
            out[:, 2 * i], out[:, 2 * i + 1] = a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()
        return out

    q, k, v = (norm(x[0], p["norm1"]["weight"]) @ p["attn"]["W_qkv"]).split(d, dim=-1)
    scores = rope(q) @ rope(k).T / math.sqrt(d)
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    h = x[0] + torch.softmax(scores, dim=-1) @ v @ p["attn"]["W_o"]
    a = norm(h, p["norm2"]["weight"])
    gate = a @ p["mlp"]["W_gate"]
    expected = h + (gate * torch.sigmoid(gate) * (a @ p["mlp"]["W_up"])) @ p["mlp"]["W_down"]
    check_close(call(gpt, "llama_block", x, p, n_heads)[0], expected, "llama_block (one head)", rtol=1e-7, atol=1e-10)
