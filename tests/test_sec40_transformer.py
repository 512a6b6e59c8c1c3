"""Public tests for §40 トランスフォーマー (exercises/sec40_transformer/transformer.py).

Small, readable checks on hand-made inputs; the hidden suite adds random shapes, float32 and
float64, masks, the torch oracles (F.layer_norm, F.scaled_dot_product_attention,
nn.MultiheadAttention, nn.TransformerEncoderLayer) and property checks.
Run: `pytest tests/test_sec40_transformer.py`.

Every call goes through `call(transformer, "name", ...)`, which also checks the course's
conventions: no argument is modified, float32 in gives float32 out, no global random state is used.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from grader.calls import call
from grader.checks import check_close, check_dtype, check_shape, check_tensor

F64 = dict(rtol=1e-7, atol=1e-12)
F32 = dict(rtol=1e-4, atol=1e-5)
MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


@pytest.mark.exercise("positional_encoding", points=1)
def test_positional_encoding_first_rows(transformer):
    # oracle: the formula by hand — row 0 is [0, 1, 0, 1, ...]; pe[1, 0] = sin 1, pe[1, 1] = cos 1
    pe = call(transformer, "positional_encoding", 3, 6)
    check_tensor(pe, "positional_encoding(3, 6)")
    check_shape(pe, (3, 6), "positional_encoding(3, 6)")
    check_dtype(pe, torch.float32, "positional_encoding(3, 6)")
    check_close(pe[0], torch.tensor([0.0, 1, 0, 1, 0, 1]), "pe[0] (position 0)", **F32, show_values=True)
    check_close(pe[1, :2], torch.tensor([math.sin(1.0), math.cos(1.0)]), "pe[1, :2]", **F32, show_values=True)


@pytest.mark.exercise("positional_encoding", points=1)
def test_positional_encoding_is_interleaved(transformer):
    # oracle: column pair (2, 3) uses the frequency 1 / 10000^(2/4) = 1/100: sin and cos side by side
    pe = call(transformer, "positional_encoding", 2, 4)
    expected = torch.tensor([math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)])
    check_close(pe[1], expected, "pe[1] for d_model=4 (sin, cos, sin, cos)", **F32, show_values=True)


@pytest.mark.exercise("add_positional_encoding", points=1)
def test_add_positional_encoding_to_zeros_gives_pe(transformer):
    # oracle: 0 + pe = pe for every sequence of the batch (pe written out: frequencies 1 and 1/100)
    x = torch.zeros(2, 3, 4)
    out = call(transformer, "add_positional_encoding", x)
    check_shape(out, (2, 3, 4), "add_positional_encoding(x)")
    pe = torch.tensor([[f(p * w) for w in (1.0, 0.01) for f in (math.sin, math.cos)] for p in range(3)])
    check_close(out[0], pe, "sequence 0 of x + pe", **F32, show_values=True)
    check_close(out[1], pe, "sequence 1 of x + pe", **F32, show_values=True)


@pytest.mark.exercise("layer_norm", points=1)
def test_layer_norm_by_hand(transformer):
    # oracle: [1, 2, 3, 4] has mean 2.5 and biased variance 1.25; eps inside the square root
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    y = call(transformer, "layer_norm", x, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    expected = (x - 2.5) / math.sqrt(1.25 + 1e-5)
    check_close(y, expected, "layer_norm([1, 2, 3, 4])", **F64, show_values=True)


@pytest.mark.exercise("layer_norm", points=1)
def test_layer_norm_applies_gamma_and_beta(transformer):
    # oracle: gamma scales and beta shifts the normalised vector [-1, 1]
    x = torch.tensor([0.0, 2.0], dtype=torch.float64)
    gamma = torch.tensor([2.0, 3.0], dtype=torch.float64)
    beta = torch.tensor([10.0, 20.0], dtype=torch.float64)
    y = call(transformer, "layer_norm", x, gamma, beta, eps=0.0)
    check_close(
        y, torch.tensor([8.0, 23.0], dtype=torch.float64), "layer_norm with gamma, beta", **F64, show_values=True
    )


@pytest.mark.exercise("feed_forward", points=1)
def test_feed_forward_by_hand(transformer):
    # oracle: relu([1, -1] + 0) = [1, 0]; [1, 0] @ W2 + b2 = [2] + [0.5]
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    W1 = torch.eye(2, dtype=torch.float64)
    b1 = torch.zeros(2, dtype=torch.float64)
    W2 = torch.tensor([[2.0], [3.0]], dtype=torch.float64)
    b2 = torch.tensor([0.5], dtype=torch.float64)
    out = call(transformer, "feed_forward", x, W1, b1, W2, b2)
    check_close(out, torch.tensor([[2.5]], dtype=torch.float64), "feed_forward", **F64, show_values=True)


@pytest.mark.exercise("split_heads", points=1)
def test_split_heads_gives_each_head_its_features(transformer):
    # oracle: with d = 4 and 2 heads, head 1 owns features 2 and 3 of every token
    x = torch.arange(24.0).reshape(1, 6, 4)  # token t holds [4t, 4t+1, 4t+2, 4t+3]
    heads = call(transformer, "split_heads", x, 2)
    check_shape(heads, (1, 2, 6, 2), "split_heads(x, 2)")
    check_close(heads[0, 1], x[0, :, 2:4], "head 1 of split_heads(x, 2)", **F32, show_values=True)


@pytest.mark.exercise("merge_heads", points=1)
def test_merge_heads_undoes_split_heads(transformer):
    # oracle: merge_heads puts head i back at features [i*dh, (i+1)*dh)
    heads = torch.arange(24.0).reshape(1, 2, 3, 4)  # (B, h, T, dh)
    x = call(transformer, "merge_heads", heads)
    check_shape(x, (1, 3, 8), "merge_heads")
    check_close(x[0, :, 4:], heads[0, 1], "features 4..7 (head 1) of merge_heads", **F32, show_values=True)


@pytest.mark.exercise("scaled_dot_product_attention", points=1)
def test_attention_picks_the_most_similar_key(transformer):
    # oracle: the query is far more similar to key 1 than to the others, so it returns value 1
    q = torch.tensor([[0.0, 100.0]], dtype=torch.float64)
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]], dtype=torch.float64)
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v)
    check_shape(out, (1, 2), "out")
    check_shape(weights, (1, 3), "weights")
    check_close(out, torch.tensor([[0.0, 1.0]], dtype=torch.float64), "out", rtol=0, atol=1e-9, show_values=True)


@pytest.mark.exercise("scaled_dot_product_attention", points=1)
def test_attention_mask_true_means_may_attend(transformer):
    # oracle: equal scores; the mask lets the query see keys 0 and 2 only -> weights [1/2, 0, 1/2]
    q = torch.zeros(1, 2, dtype=torch.float64)
    k = torch.zeros(3, 2, dtype=torch.float64)
    v = torch.tensor([[2.0], [100.0], [4.0]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v, mask=mask)
    check_close(weights, torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64), "weights", **F64, show_values=True)
    check_close(out, torch.tensor([[3.0]], dtype=torch.float64), "out", **F64, show_values=True)


@pytest.mark.exercise("multi_head_attention", points=1)
def test_multi_head_attention_with_identity_weights(transformer):
    # oracle: with W = identity and b = 0, head i is plain attention over features [2i, 2i+2), by hand
    d, h = 4, 2
    eye = torch.eye(d, dtype=torch.float64)
    params = {k: eye if k.startswith("W") else torch.zeros(d, dtype=torch.float64) for k in MHA_KEYS}
    x = torch.tensor([[[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 1.0, 0.0], [2.0, 1.0, 0.0, -1.0]]], dtype=torch.float64)
    out, weights = call(transformer, "multi_head_attention", x, x, params, h)
    expected = []
    for i in range(h):
        xi = x[0, :, 2 * i : 2 * i + 2]  # (T, 2): the features of head i
        w = torch.softmax(xi @ xi.T / math.sqrt(2), dim=-1)
        check_close(weights[0, i], w, f"weights of head {i}", **F64, show_values=True)
        expected.append(w @ xi)
    check_close(out[0], torch.cat(expected, dim=-1), "out (heads side by side)", **F64, show_values=True)


@pytest.mark.exercise("multi_head_attention", points=1, needs_core=True)
def test_multi_head_attention_shapes(transformer):
    # oracle: shapes from the contract; every head's weights sum to 1 over the keys
    g = torch.Generator().manual_seed(0)
    d, h = 8, 2
    params = {k: torch.randn(d, d, generator=g) if k.startswith("W") else torch.zeros(d) for k in MHA_KEYS}
    x_q, x_kv = torch.randn(3, 5, d, generator=g), torch.randn(3, 7, d, generator=g)
    out, weights = call(transformer, "multi_head_attention", x_q, x_kv, params, h)
    check_shape(out, (3, 5, d), "out")
    check_shape(weights, (3, h, 5, 7), "weights")
    check_close(weights.sum(-1), torch.ones(3, h, 5), "weights summed over the keys", **F32)


@pytest.mark.exercise("transformer_block", points=1)
def test_post_ln_block_with_zero_attention_weights(transformer):
    # oracle: with W_o = 0 the attention adds b_o to every token; then post-LN written out with F.layer_norm
    g = torch.Generator().manual_seed(1)
    d = 4
    attn = {k: torch.randn(d, d, generator=g) if k.startswith("W") else torch.zeros(d) for k in MHA_KEYS}
    attn["W_o"], attn["b_o"] = torch.zeros(d, d), torch.tensor([1.0, -1.0, 0.5, 0.0])
    ffn = dict(
        W1=torch.randn(d, 8, generator=g), b1=torch.zeros(8), W2=torch.randn(8, d, generator=g), b2=torch.ones(d)
    )
    ln1 = dict(gamma=torch.tensor([1.0, 2.0, 1.0, 0.5]), beta=torch.zeros(d))
    ln2 = dict(gamma=torch.ones(d), beta=torch.tensor([0.0, 0.0, 1.0, 1.0]))
    params = dict(attn=attn, ln1=ln1, ffn=ffn, ln2=ln2)
    x = torch.randn(2, 3, d, generator=g)
    out = call(transformer, "transformer_block", x, params, n_heads=2)
    h1 = F.layer_norm(x + attn["b_o"], (d,), ln1["gamma"], ln1["beta"], eps=1e-5)
    ffn_out = torch.relu(h1 @ ffn["W1"] + ffn["b1"]) @ ffn["W2"] + ffn["b2"]
    expected = F.layer_norm(h1 + ffn_out, (d,), ln2["gamma"], ln2["beta"], eps=1e-5)
    check_close(out, expected, "post-LN block: ln2(h + ffn(h)) with h = ln1(x + b_o)", **F32, show_values=True)


@pytest.mark.exercise("transformer_block", points=1, needs_core=True)
def test_pre_ln_block_with_zero_weights_is_the_identity(transformer):
    # oracle: with all weights and biases 0, attention and FFN add 0, so pre-LN returns x itself
    d = 4
    zeros = dict(W1=torch.zeros(d, 8), b1=torch.zeros(8), W2=torch.zeros(8, d), b2=torch.zeros(d))
    attn = {k: torch.zeros(d, d) if k.startswith("W") else torch.zeros(d) for k in MHA_KEYS}
    ln = dict(gamma=torch.ones(d), beta=torch.zeros(d))
    params = dict(attn=attn, ln1=ln, ffn=zeros, ln2=ln)
    x = torch.randn(2, 3, d, generator=torch.Generator().manual_seed(0))
    out = call(transformer, "transformer_block", x, params, n_heads=2, norm_first=True)
    check_close(out, x, "pre-LN block with zero weights", **F32, show_values=True)


@pytest.mark.exercise("scaled_dot_product_attention", points=1)
def test_attention_divides_the_scores_by_sqrt_dk(transformer):
    # oracle: by hand — q·k = [1, 0], divided by sqrt(2): weights = softmax([1/sqrt 2, 0])
    q = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    k = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    v = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    out, weights = call(transformer, "scaled_dot_product_attention", q, k, v)
    e = math.exp(1 / math.sqrt(2))
    expected = torch.tensor([[e / (e + 1), 1 / (e + 1)]], dtype=torch.float64)
    check_close(weights, expected, "weights (scores / sqrt(d_k))", **F64, show_values=True)


@pytest.mark.exercise("feed_forward", points=1)
def test_feed_forward_output_can_be_negative(transformer):
    # oracle: relu([1, -1]) = [1, 0]; [1, 0] @ [[-2], [3]] + 0.5 = -1.5 (no ReLU after the second layer)
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    W1, b1 = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    W2, b2 = torch.tensor([[-2.0], [3.0]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    out = call(transformer, "feed_forward", x, W1, b1, W2, b2)
    check_close(out, torch.tensor([[-1.5]], dtype=torch.float64), "feed_forward", **F64, show_values=True)


@pytest.mark.exercise("multi_head_attention", points=1)
def test_multi_head_attention_mask_true_means_may_attend(transformer):
    # oracle: W = identity, b = 0 and equal scores (x = 0 on the query side): the mask lets every
    # head see keys 0 and 2 only -> weights [1/2, 0, 1/2] in each head
    d, h = 4, 2
    eye = torch.eye(d, dtype=torch.float64)
    params = {k: eye if k.startswith("W") else torch.zeros(d, dtype=torch.float64) for k in MHA_KEYS}
    x_q = torch.zeros(1, 1, d, dtype=torch.float64)
    x_kv = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0], [3.0, 2.0, 1.0, 0.0]]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    out, weights = call(transformer, "multi_head_attention", x_q, x_kv, params, h, mask=mask)
    half = torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64)
    check_close(weights[0], half.expand(h, 1, 3), "weights (True = may attend)", **F64, show_values=True)
    check_close(out[0, 0], torch.tensor([2.0, 2.0, 2.0, 2.0], dtype=torch.float64), "out", **F64, show_values=True)


@pytest.mark.exercise("multi_head_attention", points=1)
def test_multi_head_attention_projects_before_splitting_heads(transformer):
    # oracle: a plain loop — with every W = diag(1, 2, 3, 4) and b = 0, q = k = v = x W and head i
    # attends with the projected features [2i, 2i + 2); the heads side by side go through W_o = W
    d, h = 4, 2
    W = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    params = {k: W if k.startswith("W") else torch.zeros(d, dtype=torch.float64) for k in MHA_KEYS}
    x = torch.tensor([[[1.0, 0.0, 0.0, 0.5], [0.0, 0.5, 0.5, 0.0], [0.5, 0.5, 0.0, -0.5]]], dtype=torch.float64)
    out, weights = call(transformer, "multi_head_attention", x, x, params, h)
    p = x[0] @ W  # (T, d): queries, keys and values alike
    heads = []
    for i in range(h):
        pi = p[:, 2 * i : 2 * i + 2]  # (T, 2): the projected features of head i
        w = torch.softmax(pi @ pi.T / math.sqrt(2), dim=-1)
        check_close(weights[0, i], w, f"weights of head {i}", **F64, show_values=True)
        heads.append(w @ pi)
    check_close(out[0], torch.cat(heads, dim=-1) @ W, "out (heads side by side, then W_o)", **F64, show_values=True)
