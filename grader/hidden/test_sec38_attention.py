"""Hidden tests for §38 注意機構 (never shipped to students).

Oracles: torch.nn.functional.scaled_dot_product_attention with ``scale=1`` (unscaled dot products;
the weights are read off by attending over identity values), plain loops for bag of words, the
memory network, additive attention and greedy decoding, and property checks (permutations,
masked memories).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.calls import call
from grader.checks import TOL, check_close, check_dtype, check_equal, check_finite, check_shape, check_unchanged

F64 = TOL[np.dtype(np.float64)]
F32 = TOL[np.dtype(np.float32)]
DTYPES = [np.float64, np.float32]


def rng_for(seed, k):
    return np.random.default_rng(seed + k)


def rand(rng, shape, dtype=np.float64, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def random_mask(rng, B, N):
    """Random (B, N) mask with at least one True per row."""
    mask = rng.random((B, N)) < 0.6
    mask[np.arange(B), rng.integers(N, size=B)] = True
    return mask


def sdpa_oracle(query, keys, values, mask=None):
    """(output (B, Dv), weights (B, N)) from F.scaled_dot_product_attention(scale=1); the weights are
    the output of attending over identity values."""
    q = torch.from_numpy(query)[:, None, :]  # (B, 1, D)
    k = torch.from_numpy(keys)  # (B, N, D)
    v = torch.from_numpy(values)  # (B, N, Dv)
    m = None if mask is None else torch.from_numpy(mask)[:, None, :]  # (B, 1, N)
    eye = torch.eye(keys.shape[1], dtype=q.dtype).expand(keys.shape[0], -1, -1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=1.0)[:, 0]
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=m, scale=1.0)[:, 0]
    return out.numpy(), weights.numpy()


def loop_softmax(scores):
    e = [np.exp(s - max(scores)) for s in scores]
    return [x / sum(e) for x in e]


# --- bag_of_words ---------------------------------------------------------------------------


@pytest.mark.exercise("bag_of_words", points=2)
def test_bag_of_words_loop(attention, seed):
    # oracle: a plain loop over sentences and words, skipping pad_id (here 3, not 0); float32 kept
    rng = rng_for(seed, 1)
    V, D, pad = 9, 4, 3
    E = rand(rng, (V, D), np.float32)
    ids = rng.integers(0, V, size=(2, 3, 5))
    before = ids.copy()
    expected = np.zeros((2, 3, D), dtype=np.float64)
    for b in range(2):
        for n in range(3):
            for w in ids[b, n]:
                if w != pad:
                    expected[b, n] += E[w]
    out = call(attention, "bag_of_words", ids, E, pad_id=pad)
    check_dtype(out, np.float32, "bag of words of a float32 embedding")
    check_close(out, expected, "bag of words compared with a loop (leading dims (B, N))", **F32)
    check_unchanged(before, ids, "ids")


@pytest.mark.exercise("bag_of_words", points=1, needs_core=True)
def test_bag_of_words_bad_input(attention):
    # contract: float ids or ids outside [0, V) -> ValueError naming `ids`; E not 2-D -> naming `E`
    E = np.ones((5, 2))
    with pytest.raises(ValueError, match="ids"):
        call(attention, "bag_of_words", np.array([1.0, 2.0]), E)
    with pytest.raises(ValueError, match="ids"):
        call(attention, "bag_of_words", np.array([1, 5]), E)
    with pytest.raises(ValueError, match=r"\bE\b"):
        call(attention, "bag_of_words", np.array([1, 2]), np.ones(5))


@pytest.mark.exercise("bag_of_words", points=1)
def test_bag_of_words_any_rank(attention, seed):
    # oracle: a plain loop over the sentences of ids of rank 1 and rank 4 (leading axes are free)
    rng = rng_for(seed, 16)
    E = rand(rng, (7, 3))
    for shape in [(6,), (2, 1, 3, 4)]:
        ids = rng.integers(0, 7, size=shape)
        flat = ids.reshape(-1, shape[-1])
        expected = np.array([sum((E[w] for w in row if w != 0), np.zeros(3)) for row in flat])
        out = call(attention, "bag_of_words", ids, E)
        check_close(out, expected.reshape(shape[:-1] + (3,)), f"bag of words of ids of shape {shape}", **F64)


@pytest.mark.exercise("bag_of_words", points=0.5, needs_core=True)
def test_bag_of_words_empty_and_padding_only(attention, seed):
    # contract: a sentence of padding only, or of no words at all, gives the zero vector
    E = rand(rng_for(seed, 17), (5, 2))
    check_close(call(attention, "bag_of_words", np.zeros((2, 3), dtype=np.int64), E), np.zeros((2, 2)),
                "bag of words of sentences of padding only", **F64)  # fmt: skip
    out = call(attention, "bag_of_words", np.zeros((2, 0), dtype=np.int64), E)
    check_close(out, np.zeros((2, 2)), "bag of words of sentences without words (W = 0)", **F64)


@pytest.mark.exercise("bag_of_words", points=0.5, needs_core=True)
def test_bag_of_words_negative_ids(attention):
    # contract: an id outside [0, V), also a negative one (NumPy would index from the end) -> ValueError naming `ids`
    with pytest.raises(ValueError, match="ids"):
        call(attention, "bag_of_words", np.array([[1, -1]]), np.ones((5, 2)))


# --- memory_attention -----------------------------------------------------------------------


@pytest.mark.exercise("memory_attention", points=2)
def test_memory_attention_matches_sdpa(attention, seed):
    # oracle: F.scaled_dot_product_attention(scale=1) in float64 with a boolean mask
    rng = rng_for(seed, 2)
    B, N, D, Dv = 4, 6, 5, 3
    query, keys, values = rand(rng, (B, D)), rand(rng, (B, N, D)), rand(rng, (B, N, Dv))
    mask = random_mask(rng, B, N)
    out_exp, w_exp = sdpa_oracle(query, keys, values, mask)
    out, w = call(attention, "memory_attention", query, keys, values, mask=mask)
    check_close(w, w_exp, "weights compared with scaled_dot_product_attention(scale=1)", **F64)
    check_close(out, out_exp, "output compared with scaled_dot_product_attention(scale=1)", **F64)


@pytest.mark.exercise("memory_attention", points=1)
def test_memory_attention_float32(attention, seed):
    # oracle: SDPA(scale=1) in float32 without a mask; float32 in, float32 out
    rng = rng_for(seed, 3)
    query, keys, values = (
        rand(rng, (3, 4), np.float32),
        rand(rng, (3, 5, 4), np.float32),
        rand(rng, (3, 5, 2), np.float32),
    )
    out_exp, w_exp = sdpa_oracle(query, keys, values)
    out, w = call(attention, "memory_attention", query, keys, values)
    check_dtype(out, np.float32, "output")
    check_dtype(w, np.float32, "weights")
    check_close(out, out_exp, "output (float32)", **F32)
    check_close(w, w_exp, "weights (float32)", **F32)


@pytest.mark.exercise("memory_attention", points=1, needs_core=True)
def test_memory_attention_masked_memories(attention, seed):
    # property: 1e10 in masked memories changes nothing; a fully masked row gives weights 0 and output 0
    rng = rng_for(seed, 4)
    query, keys, values = rand(rng, (2, 3)), rand(rng, (2, 4, 3)), rand(rng, (2, 4, 2))
    mask = np.array([[True, False, True, False], [False, False, False, False]])
    out, w = call(attention, "memory_attention", query, keys, values, mask=mask)
    keys2, values2 = keys.copy(), values.copy()
    keys2[~mask], values2[~mask] = 1e10, 1e10
    out2, w2 = call(attention, "memory_attention", query, keys2, values2, mask=mask)
    check_finite(out2, "output with huge masked memories")
    check_close(out2, out, "output with huge values in masked memories", **F64)
    check_close(w[0, ~mask[0]], np.zeros(2), "weights of masked memories", **F64)
    check_close(w[1], np.zeros(4), "weights of a row whose memories are all masked", **F64)
    check_close(out[1], np.zeros(2), "output of a row whose memories are all masked", **F64)


@pytest.mark.exercise("memory_attention", points=1, needs_core=True)
def test_memory_attention_bad_input(attention):
    # contract: wrong ranks, an empty batch or memory, a mask of the wrong shape -> ValueError naming it
    q, k, v = np.zeros((2, 3)), np.zeros((2, 4, 3)), np.zeros((2, 4, 1))
    with pytest.raises(ValueError, match="mask"):
        call(attention, "memory_attention", q, k, v, mask=np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="keys"):
        call(attention, "memory_attention", q, np.zeros((2, 3)), v)
    with pytest.raises(ValueError, match="keys"):
        call(attention, "memory_attention", q, np.zeros((2, 0, 3)), np.zeros((2, 0, 1)))
    with pytest.raises(ValueError, match="query"):
        call(attention, "memory_attention", np.zeros((0, 3)), np.zeros((0, 4, 3)), np.zeros((0, 4, 1)))


def huge_where_masked(rng, arr, mask):
    """A copy of ``arr (B, N, ...)`` holding ±1e10 (random signs) at the masked memories."""
    out = arr.copy()
    out[~mask] = rng.choice([-1e10, 1e10], size=out[~mask].shape).astype(arr.dtype)
    return out


def check_masked_rows(attention, name, rng, dtype):
    """Rows 0, 1 have some masked keys, row 2 has all of them masked; the masked keys and values hold
    ±1e10. Oracle: SDPA(scale=1) on the pristine inputs for rows 0, 1; weights 0 and output 0 for row 2."""
    B, N, D, Dv = 3, 5, 4, 2
    query, keys, values = rand(rng, (B, D), dtype), rand(rng, (B, N, D), dtype), rand(rng, (B, N, Dv), dtype)
    mask = random_mask(rng, B, N)
    mask[2] = False
    out_exp, w_exp = sdpa_oracle(query[:2], keys[:2], values[:2], mask[:2])
    out, w = call(attention, name, query, huge_where_masked(rng, keys, mask), huge_where_masked(rng, values, mask),
                  mask=mask)  # fmt: skip
    tol = TOL[np.dtype(dtype)]
    check_finite(out, f"{name}: output with ±1e10 in the masked keys and values")
    check_close(w[2], np.zeros(N), f"{name}: weights of a row whose keys are all masked", **tol)
    check_close(out[2], np.zeros(Dv), f"{name}: output of a row whose keys are all masked", **tol)
    check_close(w[:2], w_exp, f"{name}: weights with ±1e10 in the masked keys (compared with SDPA)", **tol)
    check_close(out[:2], out_exp, f"{name}: output with ±1e10 in the masked values (compared with SDPA)", **tol)


LARGE = [(np.float64, 1e3), (np.float32, 1e2)]  # dtype, offset of every score (exp overflows past 709 / 88)


def check_large_scores(attention, name, rng, dtype, offset):
    """Every score is ``offset`` (1e3 in float64, 1e2 in float32) plus a spread of a few units, so the
    weights are far from one-hot and a naive exp overflows; oracle SDPA(scale=1) in float64."""
    query, keys, values = rand(rng, (3, 4)), rand(rng, (3, 6, 4)), rand(rng, (3, 6, 2))
    keys = keys + (offset / (query**2).sum(axis=1))[:, None, None] * query[:, None, :]  # k . q = k0 . q + offset
    query, keys, values = (a.astype(dtype) for a in (query, keys, values))
    out_exp, w_exp = sdpa_oracle(*(a.astype(np.float64) for a in (query, keys, values)))
    out, w = call(attention, name, query, keys, values)
    tol = TOL[np.dtype(dtype)]
    check_finite(w, f"{name}: weights for large scores")
    check_close(w, w_exp, f"{name}: weights for large scores (subtract the row maximum before exp)", **tol)
    check_close(out, out_exp, f"{name}: output for large scores", **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("memory_attention", points=0.5, needs_core=True)
def test_memory_attention_fully_masked_row_and_huge_masked_values(attention, seed, dtype):
    # oracle: SDPA(scale=1) on the rows with real memories; a fully masked row gives weights 0 and output 0
    check_masked_rows(attention, "memory_attention", rng_for(seed, 17), dtype)


@pytest.mark.parametrize("dtype,offset", LARGE)
@pytest.mark.exercise("memory_attention", points=0.5, needs_core=True)
def test_memory_attention_large_scores(attention, seed, dtype, offset):
    # oracle: SDPA(scale=1) in float64; scores of about 1e3 (float64) / 1e2 (float32) must not overflow
    check_large_scores(attention, "memory_attention", rng_for(seed, 18), dtype, offset)


@pytest.mark.exercise("memory_attention", points=0.5, needs_core=True)
def test_memory_attention_sizes_that_do_not_fit(attention):
    # contract: keys of another batch or width -> ValueError naming `keys`; values with another N -> `values`;
    # a query that is not 2-D -> `query`
    q, k, v = np.zeros((2, 3)), np.zeros((2, 4, 3)), np.zeros((2, 4, 1))
    with pytest.raises(ValueError, match="keys"):
        call(attention, "memory_attention", q, np.zeros((3, 4, 3)), np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="keys"):
        call(attention, "memory_attention", q, np.zeros((2, 4, 2)), v)
    with pytest.raises(ValueError, match="values"):
        call(attention, "memory_attention", q, k, np.zeros((2, 5, 1)))
    with pytest.raises(ValueError, match="query"):
        call(attention, "memory_attention", np.zeros(3), k, v)


# --- memnet_answer --------------------------------------------------------------------------


def memnet_params(rng, V, D, N, temporal=True):
    p = {k: rand(rng, (V, D), scale=0.5) for k in "ABC"}
    p["W_out"] = rand(rng, (D, V))
    if temporal:
        p["T_A"], p["T_C"] = rand(rng, (N, D)), rand(rng, (N, D))
    return p


def memnet_loop(story, question, p):
    """Plain-loop MemN2N (one hop, pad id 0)."""
    B, N, _ = story.shape
    D = p["A"].shape[1]
    logits, weights = [], []
    for b in range(B):
        u = sum((p["B"][w] for w in question[b] if w != 0), np.zeros(D))
        m = [
            sum((p["A"][w] for w in story[b, i] if w != 0), np.zeros(D)) + p.get("T_A", np.zeros((N, D)))[i]
            for i in range(N)
        ]
        c = [
            sum((p["C"][w] for w in story[b, i] if w != 0), np.zeros(D)) + p.get("T_C", np.zeros((N, D)))[i]
            for i in range(N)
        ]
        prob = loop_softmax([float(mi @ u) for mi in m])
        o = sum((pi * ci for pi, ci in zip(prob, c)), np.zeros(D))
        logits.append((o + u) @ p["W_out"])
        weights.append(prob)
    return np.array(logits), np.array(weights)


def memnet_case(rng, temporal=True):
    B, N, W, V, D = 3, 5, 4, 12, 6
    story = rng.integers(0, V, size=(B, N, W))
    story[0, 1] = 0  # a sentence of padding only
    question = rng.integers(0, V, size=(B, 3))
    return story, question, memnet_params(rng, V, D, N, temporal)


@pytest.mark.exercise("memnet_answer", points=2)
def test_memnet_answer_matches_loop(attention, seed):
    # oracle: a plain loop over stories, sentences and words, with temporal encodings T_A, T_C
    rng = rng_for(seed, 5)
    story, question, params = memnet_case(rng)
    exp_logits, exp_p = memnet_loop(story, question, params)
    logits, p = call(attention, "memnet_answer", story, question, params)
    check_close(p, exp_p, "p compared with a loop (with temporal encodings)", **F64)
    check_close(logits, exp_logits, "logits compared with a loop (with temporal encodings)", **F64)


@pytest.mark.exercise("memnet_answer", points=1)
def test_memnet_answer_without_temporal(attention, seed):
    # oracle: the plain loop when params has no T_A / T_C
    rng = rng_for(seed, 6)
    story, question, params = memnet_case(rng, temporal=False)
    exp_logits, exp_p = memnet_loop(story, question, params)
    logits, p = call(attention, "memnet_answer", story, question, params)
    check_close(p, exp_p, "p without temporal encodings", **F64)
    check_close(logits, exp_logits, "logits without temporal encodings", **F64)


@pytest.mark.exercise("memnet_answer", points=1, needs_core=True)
def test_memnet_answer_permutation(attention, seed):
    # property: permuting the sentences together with the rows of T_A and T_C permutes p; logits stay
    rng = rng_for(seed, 7)
    story, question, params = memnet_case(rng)
    perm = rng.permutation(story.shape[1])
    permuted = dict(params, T_A=params["T_A"][perm], T_C=params["T_C"][perm])
    logits, p = call(attention, "memnet_answer", story, question, params)
    logits2, p2 = call(attention, "memnet_answer", story[:, perm], question, permuted)
    check_close(p2, p[:, perm], "p after permuting the sentences with T_A, T_C", **F64)
    check_close(logits2, logits, "logits after permuting the sentences with T_A, T_C", **F64)


@pytest.mark.exercise("memnet_answer", points=1, needs_core=True)
def test_memnet_answer_bad_input(attention, seed):
    # contract: story not 3-D -> ValueError naming `story`; T_A not (N, D) -> naming `T_A`
    rng = rng_for(seed, 8)
    story, question, params = memnet_case(rng)
    with pytest.raises(ValueError, match="story"):
        call(attention, "memnet_answer", story[0], question, params)
    with pytest.raises(ValueError, match="T_A"):
        call(attention, "memnet_answer", story, question, dict(params, T_A=params["T_A"][:-1]))


@pytest.mark.exercise("memnet_answer", points=1)
def test_memnet_answer_float32(attention, seed):
    # oracle: the plain loop in float64 on float32 embeddings; float32 in, float32 out (logits and p)
    rng = rng_for(seed, 18)
    story, question, params = memnet_case(rng)
    params = {k: v.astype(np.float32) for k, v in params.items()}
    exp_logits, exp_p = memnet_loop(story, question, {k: v.astype(np.float64) for k, v in params.items()})
    logits, p = call(attention, "memnet_answer", story, question, params)
    check_close(p, exp_p, "p (float32)", **F32)
    check_close(logits, exp_logits, "logits (float32)", **F32)


@pytest.mark.exercise("memnet_answer", points=0.5)
def test_memnet_answer_only_T_A(attention, seed):
    # oracle: the plain loop with T_A and without T_C (each missing key means no temporal encoding)
    rng = rng_for(seed, 19)
    story, question, params = memnet_case(rng)
    del params["T_C"]
    exp_logits, exp_p = memnet_loop(story, question, params)
    logits, p = call(attention, "memnet_answer", story, question, params)
    check_close(p, exp_p, "p with T_A only", **F64)
    check_close(logits, exp_logits, "logits with T_A only", **F64)


@pytest.mark.exercise("memnet_answer", points=0.5, needs_core=True)
def test_memnet_answer_bad_question_and_T_C(attention, seed):
    # contract: question not 2-D or of another batch -> ValueError naming `question`; T_C not (N, D) -> `T_C`
    story, question, params = memnet_case(rng_for(seed, 20))
    with pytest.raises(ValueError, match="question"):
        call(attention, "memnet_answer", story, question[0], params)
    with pytest.raises(ValueError, match="question"):
        call(attention, "memnet_answer", story, question[:2], params)
    with pytest.raises(ValueError, match="T_C"):
        call(attention, "memnet_answer", story, question, dict(params, T_C=params["T_C"][:, :-1]))


# --- dot_product_attention ------------------------------------------------------------------


@pytest.mark.exercise("dot_product_attention", points=2)
def test_dot_product_attention_matches_sdpa(attention, seed):
    # oracle: F.scaled_dot_product_attention(scale=1) (Luong attention is unscaled) with a source mask
    rng = rng_for(seed, 9)
    B, S, H, Dv = 3, 7, 4, 5
    query, keys, values = rand(rng, (B, H)), rand(rng, (B, S, H)), rand(rng, (B, S, Dv))
    mask = random_mask(rng, B, S)
    out_exp, w_exp = sdpa_oracle(query, keys, values, mask)
    ctx, w = call(attention, "dot_product_attention", query, keys, values, mask=mask)
    check_close(w, w_exp, "weights compared with scaled_dot_product_attention(scale=1)", **F64)
    check_close(ctx, out_exp, "context compared with scaled_dot_product_attention(scale=1)", **F64)


@pytest.mark.exercise("dot_product_attention", points=1, needs_core=True)
def test_dot_product_attention_bad_mask(attention):
    # contract: a mask that is not (B, S) -> ValueError naming `mask`
    with pytest.raises(ValueError, match="mask"):
        call(
            attention,
            "dot_product_attention",
            np.zeros((2, 3)),
            np.zeros((2, 4, 3)),
            np.zeros((2, 4, 3)),
            mask=np.ones(4, bool),
        )


@pytest.mark.exercise("dot_product_attention", points=1)
def test_dot_product_attention_float32(attention, seed):
    # oracle: SDPA(scale=1) in float32 without a mask; float32 in, float32 out
    rng = rng_for(seed, 21)
    query, keys, values = (
        rand(rng, (2, 3), np.float32),
        rand(rng, (2, 6, 3), np.float32),
        rand(rng, (2, 6, 4), np.float32),
    )
    out_exp, w_exp = sdpa_oracle(query, keys, values)
    ctx, w = call(attention, "dot_product_attention", query, keys, values)
    check_close(w, w_exp, "weights (float32) compared with SDPA(scale=1)", **F32)
    check_close(ctx, out_exp, "context (float32) compared with SDPA(scale=1)", **F32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("dot_product_attention", points=0.5, needs_core=True)
def test_dot_product_attention_fully_masked_row_and_huge_masked_values(attention, seed, dtype):
    # oracle: SDPA(scale=1) on the rows with real source tokens; a fully masked row gives weights 0, context 0
    check_masked_rows(attention, "dot_product_attention", rng_for(seed, 22), dtype)


@pytest.mark.parametrize("dtype,offset", LARGE)
@pytest.mark.exercise("dot_product_attention", points=0.5, needs_core=True)
def test_dot_product_attention_large_scores(attention, seed, dtype, offset):
    # oracle: SDPA(scale=1) in float64; scores of about 1e3 (float64) / 1e2 (float32) must not overflow
    check_large_scores(attention, "dot_product_attention", rng_for(seed, 23), dtype, offset)


@pytest.mark.exercise("dot_product_attention", points=0.5, needs_core=True)
def test_dot_product_attention_sizes_that_do_not_fit(attention):
    # contract: as memory_attention: keys of another batch or width -> `keys`; values with another S -> `values`
    q, k = np.zeros((2, 3)), np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="keys"):
        call(attention, "dot_product_attention", q, np.zeros((1, 4, 3)), np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match="keys"):
        call(attention, "dot_product_attention", q, np.zeros((2, 4, 5)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="values"):
        call(attention, "dot_product_attention", q, k, np.zeros((2, 3, 3)))


# --- additive_attention ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("additive_attention", points=1)
def test_additive_attention_matches_loop(attention, seed, dtype):
    # oracle: a plain loop score_s = tanh(q W_q + k_s W_k) . v, softmax over unmasked keys
    rng = rng_for(seed, 10)
    B, S, Hq, Hk, A, Dv = 3, 5, 4, 6, 3, 2
    q, keys, values = rand(rng, (B, Hq), dtype), rand(rng, (B, S, Hk), dtype), rand(rng, (B, S, Dv), dtype)
    W_q, W_k, v = rand(rng, (Hq, A), dtype), rand(rng, (Hk, A), dtype), rand(rng, (A,), dtype)
    mask = random_mask(rng, B, S)
    exp_w = np.zeros((B, S))
    for b in range(B):
        real = [s for s in range(S) if mask[b, s]]
        scores = [float(np.tanh(q[b] @ W_q + keys[b, s] @ W_k) @ v) for s in real]
        for s, pw in zip(real, loop_softmax(scores)):
            exp_w[b, s] = pw
    exp_ctx = np.einsum("bs,bsv->bv", exp_w, values.astype(np.float64))
    ctx, w = call(attention, "additive_attention", q, keys, values, W_q, W_k, v, mask=mask)
    check_dtype(ctx, dtype, "context")
    tol = TOL[np.dtype(dtype)]
    check_close(w, exp_w, "weights compared with a loop", **tol)
    check_close(ctx, exp_ctx, "context compared with a loop", **tol)


@pytest.mark.exercise("additive_attention", points=1, needs_core=True)
def test_additive_attention_bad_input(attention):
    # contract: v not (A,) -> ValueError naming `v`; a mask that is not (B, S) -> naming `mask`
    q, k, val = np.zeros((2, 3)), np.zeros((2, 4, 5)), np.zeros((2, 4, 1))
    W_q, W_k = np.zeros((3, 2)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"\bv\b"):
        call(attention, "additive_attention", q, k, val, W_q, W_k, np.zeros(3))
    with pytest.raises(ValueError, match="mask"):
        call(attention, "additive_attention", q, k, val, W_q, W_k, np.zeros(2), mask=np.ones((4, 2), bool))


def additive_loop(q, keys, values, W_q, W_k, v, mask=None):
    """Plain-loop Bahdanau attention in float64 (weights 0 and context 0 where every key is masked)."""
    q, keys, values, W_q, W_k, v = (a.astype(np.float64) for a in (q, keys, values, W_q, W_k, v))
    B, S = keys.shape[:2]
    w = np.zeros((B, S))
    for b in range(B):
        real = [s for s in range(S) if mask is None or mask[b, s]]
        scores = [float(np.tanh(q[b] @ W_q + keys[b, s] @ W_k) @ v) for s in real]
        for s, pw in zip(real, loop_softmax(scores)):
            w[b, s] = pw
    return np.einsum("bs,bsv->bv", w, values), w


def additive_case(rng, dtype, v_scale=1.0):
    B, S, Hq, Hk, A, Dv = 3, 5, 4, 6, 3, 2
    return (rand(rng, (B, Hq), dtype), rand(rng, (B, S, Hk), dtype), rand(rng, (B, S, Dv), dtype),
            rand(rng, (Hq, A), dtype), rand(rng, (Hk, A), dtype), rand(rng, (A,), dtype, v_scale))  # fmt: skip


@pytest.mark.exercise("additive_attention", points=1)
def test_additive_attention_without_mask(attention, seed):
    # oracle: the plain loop over every key (mask=None)
    args = additive_case(rng_for(seed, 24), np.float64)
    exp_ctx, exp_w = additive_loop(*args)
    ctx, w = call(attention, "additive_attention", *args)
    check_close(w, exp_w, "weights without a mask compared with a loop", **F64)
    check_close(ctx, exp_ctx, "context without a mask compared with a loop", **F64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("additive_attention", points=0.5, needs_core=True)
def test_additive_attention_fully_masked_row_and_huge_masked_values(attention, seed, dtype):
    # oracle: the loop on the pristine inputs; ±1e10 in masked keys/values changes nothing; a row whose
    # keys are all masked gets weights 0 and context 0
    rng = rng_for(seed, 25)
    q, keys, values, W_q, W_k, v = additive_case(rng, dtype)
    mask = random_mask(rng, 3, 5)
    mask[1] = False
    exp_ctx, exp_w = additive_loop(q, keys, values, W_q, W_k, v, mask)
    ctx, w = call(attention, "additive_attention", q, huge_where_masked(rng, keys, mask),
                  huge_where_masked(rng, values, mask), W_q, W_k, v, mask=mask)  # fmt: skip
    tol = TOL[np.dtype(dtype)]
    check_finite(ctx, "context with ±1e10 in the masked keys and values")
    check_close(w, exp_w, "weights (masked keys hold ±1e10; row 1 fully masked)", **tol)
    check_close(ctx, exp_ctx, "context (masked values hold ±1e10; row 1 fully masked)", **tol)


@pytest.mark.parametrize("dtype,offset", LARGE)
@pytest.mark.exercise("additive_attention", points=0.5, needs_core=True)
def test_additive_attention_large_scores(attention, seed, dtype, offset):
    # oracle: the plain loop (a stable softmax) in float64; attention unit 0 is tanh(50 q_0) = 1 for
    # every key, and v_0 = offset puts every score near 1e3 (float64) / 1e2 (float32): a naive exp overflows
    q, keys, values, W_q, W_k, v = additive_case(rng_for(seed, 26), np.float64)
    q[:, 0] = np.abs(q[:, 0]) + 1.0
    W_q[:, 0], W_k[:, 0], v[0] = 0.0, 0.0, offset
    W_q[0, 0] = 50.0
    args = tuple(a.astype(dtype) for a in (q, keys, values, W_q, W_k, v))
    exp_ctx, exp_w = additive_loop(*args)
    ctx, w = call(attention, "additive_attention", *args)
    tol = TOL[np.dtype(dtype)]
    check_close(w, exp_w, "weights for large scores (subtract the row maximum before exp)", **tol)
    check_close(ctx, exp_ctx, "context for large scores", **tol)


@pytest.mark.exercise("additive_attention", points=0.5, needs_core=True)
def test_additive_attention_sizes_that_do_not_fit(attention):
    # contract: W_q, W_k, keys or values of sizes that do not fit -> ValueError naming the argument
    q, k, val = np.zeros((2, 3)), np.zeros((2, 4, 5)), np.zeros((2, 4, 1))
    W_q, W_k, v = np.zeros((3, 2)), np.zeros((5, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="W_q"):
        call(attention, "additive_attention", q, k, val, np.zeros((4, 2)), W_k, v)
    with pytest.raises(ValueError, match="W_k"):
        call(attention, "additive_attention", q, k, val, W_q, np.zeros((5, 3)), v)
    with pytest.raises(ValueError, match="keys"):
        call(attention, "additive_attention", q, np.zeros((3, 4, 5)), np.zeros((3, 4, 1)), W_q, W_k, v)
    with pytest.raises(ValueError, match="values"):
        call(attention, "additive_attention", q, k, np.zeros((2, 2, 1)), W_q, W_k, v)


@pytest.mark.exercise("additive_attention", points=0.5, needs_core=True)
def test_additive_attention_empty_batch_or_source(attention):
    # contract: a query that is not 2-D or an empty batch -> ValueError naming `query`; no keys (S = 0) -> `keys`
    W_q, W_k, v = np.zeros((3, 2)), np.zeros((5, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="query"):
        call(attention, "additive_attention", np.zeros(3), np.zeros((1, 4, 5)), np.zeros((1, 4, 1)), W_q, W_k, v)
    with pytest.raises(ValueError, match="query"):
        call(attention, "additive_attention", np.zeros((0, 3)), np.zeros((0, 4, 5)), np.zeros((0, 4, 1)), W_q, W_k, v)
    with pytest.raises(ValueError, match="keys"):
        call(attention, "additive_attention", np.zeros((2, 3)), np.zeros((2, 0, 5)), np.zeros((2, 0, 1)), W_q, W_k, v)


@pytest.mark.exercise("additive_attention", points=0.5, needs_core=True)
def test_additive_attention_one_key(attention, seed):
    # oracle: the loop; with one source state (S = 1) its weight is 1 and the context is its value
    rng = rng_for(seed, 30)
    q, keys, values, W_q, W_k, v = additive_case(rng, np.float64)
    keys, values = keys[:, :1], values[:, :1]
    exp_ctx, exp_w = additive_loop(q, keys, values, W_q, W_k, v)
    ctx, w = call(attention, "additive_attention", q, keys, values, W_q, W_k, v)
    check_close(w, exp_w, "weights over one source state", **F64)
    check_close(ctx, exp_ctx, "context over one source state", **F64)


# --- attention_decoder_step -----------------------------------------------------------------


def decoder_params(rng, V, D, H, Hc):
    return dict(E=rand(rng, (V, D)), W_x=rand(rng, (D, H), scale=0.5), W_h=rand(rng, (H, H), scale=0.5),
                b=rand(rng, (H,), scale=0.2), W_c=rand(rng, (2 * H, Hc), scale=0.5), b_c=rand(rng, (Hc,), scale=0.2),
                W_out=rand(rng, (Hc, V), scale=1.5), b_out=rand(rng, (V,), scale=0.2))  # fmt: skip


def decoder_step_loop(y, h_prev, enc, mask, p):
    """Plain oracle of one decoder step for one batch row (context first in the concatenation)."""
    h = np.tanh(p["E"][y] @ p["W_x"] + h_prev @ p["W_h"] + p["b"])
    real = [s for s in range(enc.shape[0]) if mask is None or mask[s]]
    w = np.zeros(enc.shape[0])
    for s, pw in zip(real, loop_softmax([float(enc[s] @ h) for s in real])):
        w[s] = pw
    ctx = w @ enc
    logits = np.tanh(np.concatenate([ctx, h]) @ p["W_c"] + p["b_c"]) @ p["W_out"] + p["b_out"]
    return h, logits, w


@pytest.mark.exercise("attention_decoder_step", points=2)
def test_attention_decoder_step_matches_loop(attention, attention_ref, seed):
    # oracle: a plain per-row computation with random weights (so that the concat order matters), and the reference
    rng = rng_for(seed, 11)
    B, S, H, D, V, Hc = 3, 6, 4, 5, 8, 7
    params = decoder_params(rng, V, D, H, Hc)
    y = rng.integers(0, V, size=B)
    h_prev, enc = rand(rng, (B, H), scale=0.5), rand(rng, (B, S, H))
    mask = random_mask(rng, B, S)
    rows = [decoder_step_loop(y[b], h_prev[b], enc[b], mask[b], params) for b in range(B)]
    exp_h, exp_logits, exp_w = (np.array([r[i] for r in rows]) for i in range(3))
    ref = attention_ref.attention_decoder_step(y, h_prev, enc, mask, params)
    check_close(ref[1], exp_logits, "reference logits (test self-check)", **F64)
    h_t, logits, w = call(attention, "attention_decoder_step", y, h_prev, enc, mask, params)
    check_close(h_t, exp_h, "h_t", **F64)
    check_close(w, exp_w, "attention weights", **F64)
    check_close(logits, exp_logits, "logits = tanh([ctx ; h_t] W_c + b_c) W_out + b_out", **F64)


@pytest.mark.exercise("attention_decoder_step", points=1, needs_core=True)
def test_attention_decoder_step_bad_y_prev(attention, seed):
    # contract: y_prev that is not (B,) -> ValueError naming `y_prev`
    rng = rng_for(seed, 12)
    params = decoder_params(rng, 5, 3, 2, 4)
    with pytest.raises(ValueError, match="y_prev"):
        call(
            attention, "attention_decoder_step", np.array([[1, 2]]), np.zeros((2, 2)), np.zeros((2, 3, 2)), None, params
        )


@pytest.mark.exercise("attention_decoder_step", points=1)
def test_attention_decoder_step_float32_without_mask(attention, seed):
    # oracle: the plain per-row step in float64 on float32 weights (enc_mask=None); float32 in, float32 out
    rng = rng_for(seed, 27)
    B, S, H, D, V, Hc = 2, 4, 3, 5, 6, 4
    params = {k: a.astype(np.float32) for k, a in decoder_params(rng, V, D, H, Hc).items()}
    y = rng.integers(0, V, size=B)
    h_prev, enc = rand(rng, (B, H), np.float32, 0.5), rand(rng, (B, S, H), np.float32)
    p64 = {k: a.astype(np.float64) for k, a in params.items()}
    rows = [
        decoder_step_loop(y[b], h_prev[b].astype(np.float64), enc[b].astype(np.float64), None, p64) for b in range(B)
    ]
    h_t, logits, w = call(attention, "attention_decoder_step", y, h_prev, enc, None, params)
    check_close(h_t, np.array([r[0] for r in rows]), "h_t (float32)", **F32)
    check_close(w, np.array([r[2] for r in rows]), "attention weights (float32, enc_mask=None)", **F32)
    check_close(logits, np.array([r[1] for r in rows]), "logits (float32)", **F32)


@pytest.mark.exercise("attention_decoder_step", points=0.5, needs_core=True)
def test_attention_decoder_step_fully_masked_source(attention, seed):
    # oracle: the plain step: a row whose source is all masked has weights 0 and context 0, so its
    # logits are tanh([0 ; h_t] W_c + b_c) W_out + b_out
    rng = rng_for(seed, 28)
    B, S, H, D, V, Hc = 2, 4, 3, 5, 6, 4
    params = decoder_params(rng, V, D, H, Hc)
    y, h_prev, enc = rng.integers(0, V, size=B), rand(rng, (B, H), scale=0.5), rand(rng, (B, S, H))
    mask = np.array([[True, False, True, True], [False, False, False, False]])
    rows = [decoder_step_loop(y[b], h_prev[b], enc[b], mask[b], params) for b in range(B)]
    h_t, logits, w = call(attention, "attention_decoder_step", y, h_prev, enc, mask, params)
    check_close(w, np.array([r[2] for r in rows]), "attention weights (row 1 fully masked)", **F64)
    check_close(logits, np.array([r[1] for r in rows]), "logits (row 1 fully masked: context 0)", **F64)


@pytest.mark.exercise("attention_decoder_step", points=0.5, needs_core=True)
def test_attention_decoder_step_bad_mask(attention, seed):
    # contract: any error of dot_product_attention: an enc_mask that is not (B, S) -> ValueError naming the mask
    params = decoder_params(rng_for(seed, 29), 5, 3, 2, 4)
    with pytest.raises(ValueError, match="mask"):
        call(attention, "attention_decoder_step", np.array([1, 2]), np.zeros((2, 2)), np.zeros((2, 3, 2)),
             np.ones((2, 4), dtype=bool), params)  # fmt: skip


@pytest.mark.exercise("attention_decoder_step", points=0.5, needs_core=True)
def test_attention_decoder_step_y_prev_batch(attention, seed):
    # contract: y_prev that is not (B,) with B = h_prev.shape[0] -> ValueError naming `y_prev`
    params = decoder_params(rng_for(seed, 31), 5, 3, 2, 4)
    with pytest.raises(ValueError, match="y_prev"):
        call(attention, "attention_decoder_step", np.array([1, 2, 3]), np.zeros((2, 2)), np.zeros((2, 3, 2)), None,
             params)  # fmt: skip
    with pytest.raises(ValueError, match="y_prev"):
        call(attention, "attention_decoder_step", np.array([[1], [2]]), np.zeros((2, 2)), np.zeros((2, 3, 2)), None,
             params)  # fmt: skip


# --- attention_greedy_decode ----------------------------------------------------------------


def seq2seq_attention_params(rng, V_src, V_tgt, D, H, Hc):
    enc = dict(E=rand(rng, (V_src, D)), W_x=rand(rng, (D, H), scale=0.6), W_h=rand(rng, (H, H), scale=0.6),
               b=rand(rng, (H,), scale=0.2))  # fmt: skip
    return {"enc": enc, "dec": decoder_params(rng, V_tgt, D, H, Hc)}


def greedy_loop(src, params, bos, n):
    """Plain-loop oracle: the first n greedy ids (EOS ignored) and their attention rows."""
    enc = params["enc"]
    h, states = np.zeros(enc["W_h"].shape[0]), []
    for i in src:
        h = np.tanh(enc["E"][i] @ enc["W_x"] + h @ enc["W_h"] + enc["b"])
        states.append(h)
    states = np.array(states)
    y, ids, rows = bos, [], []
    for _ in range(n):
        h, logits, w = decoder_step_loop(y, h, states, None, params["dec"])
        y = int(np.argmax(logits))
        ids.append(y)
        rows.append(w)
    return ids, np.array(rows)


@pytest.mark.exercise("attention_greedy_decode", points=2)
def test_attention_greedy_decode_stops_before_eos(attention, seed):
    # oracle: plain loop; EOS is chosen as a token the greedy path really produces
    rng = rng_for(seed, 13)
    for k in range(3):
        params = seq2seq_attention_params(rng, 7, 9, 4, 5, 6)
        src = rng.integers(0, 7, size=int(rng.integers(2, 7))).tolist()
        path, rows = greedy_loop(src, params, bos=1, n=10)
        j = max(i for i in range(len(path)) if path[i] not in path[:i])  # last first-occurrence
        ids, att = call(attention, "attention_greedy_decode", src, params, 1, path[j], 10)
        check_equal(ids, path[:j], f"generated ids (case {k})")
        check_close(att, rows[:j].reshape(j, len(src)), f"attention rows (case {k})", **F64)


@pytest.mark.exercise("attention_greedy_decode", points=1)
def test_attention_greedy_decode_max_len(attention, seed):
    # oracle: plain loop; with an EOS that never comes the output has max_len ids and rows summing to 1
    rng = rng_for(seed, 14)
    params = seq2seq_attention_params(rng, 6, 8, 3, 4, 5)
    src = [2, 5, 1, 3]
    path, rows = greedy_loop(src, params, bos=0, n=5)
    eos = next(t for t in range(8) if t not in path)  # 5 ids of 8 possible: some id never appears
    ids, att = call(attention, "attention_greedy_decode", src, params, 0, eos, 5)
    check_equal(ids, path, "generated ids when EOS never comes")
    check_shape(att, (5, 4), "attention (len(ids), len(src))")
    check_close(att.sum(axis=1), np.ones(5), "sum of each attention row", **F64)


@pytest.mark.exercise("attention_greedy_decode", points=1, needs_core=True)
def test_attention_greedy_decode_bad_input(attention, seed):
    # contract: empty src -> ValueError naming `src`; max_len < 1 -> naming `max_len`
    params = seq2seq_attention_params(rng_for(seed, 15), 4, 4, 2, 3, 3)
    with pytest.raises(ValueError, match="src"):
        call(attention, "attention_greedy_decode", [], params, 0, 1, 5)
    with pytest.raises(ValueError, match="max_len"):
        call(attention, "attention_greedy_decode", [1, 2], params, 0, 1, 0)


@pytest.mark.exercise("attention_greedy_decode", points=0.5, needs_core=True)
def test_attention_greedy_decode_eos_first(attention, seed):
    # contract: when the first token is eos_id the result is ([], attention of shape (0, len(src))),
    # still in the weights' dtype (float32 here)
    rng = rng_for(seed, 16)
    params = seq2seq_attention_params(rng, 6, 8, 3, 4, 5)
    params = {part: {k: a.astype(np.float32) for k, a in params[part].items()} for part in ("enc", "dec")}
    src = [2, 5, 1]
    path, _ = greedy_loop(src, params, bos=0, n=1)
    ids, att = call(attention, "attention_greedy_decode", src, params, 0, path[0], 5)
    check_equal(ids, [], "ids when the first token is EOS")
    check_shape(att, (0, 3), "attention when the first token is EOS (0, len(src))")


@pytest.mark.exercise("attention_greedy_decode", points=0.5, needs_core=True)
def test_attention_greedy_decode_ties_go_to_the_lowest_id(attention, seed):
    # oracle: np.argmax (the first maximum): ids 3 and 6 tie as the best logit at every step, so the
    # decoder writes 3 until max_len; the ids are Python ints
    rng = rng_for(seed, 17)
    params = seq2seq_attention_params(rng, 6, 8, 3, 4, 5)
    dec = params["dec"]
    dec["W_out"], dec["b_out"] = dec["W_out"].copy(), dec["b_out"].copy()
    dec["W_out"][:, [3, 6]] = 0.0  # logits of 3 and 6 are their bias alone (|tanh| < 1 bounds the others)
    dec["b_out"][[3, 6]] = 1.0 + np.abs(dec["W_out"]).sum(axis=0).max() + np.abs(dec["b_out"]).max()
    ids, _ = call(attention, "attention_greedy_decode", [1, 4], params, 0, 7, 4)
    check_equal(ids, [3, 3, 3, 3], "greedy ids when two ids tie (the lower id wins)")
    assert all(type(t) is int for t in ids), "attention_greedy_decode should return Python ints"


@pytest.mark.exercise("attention_greedy_decode", points=1)
def test_attention_greedy_decode_float32(attention, seed):
    # oracle: the plain loop in float64 on float32 weights; the attention comes back float32
    rng = rng_for(seed, 18)
    params = seq2seq_attention_params(rng, 6, 8, 3, 4, 5)
    p32 = {part: {k: a.astype(np.float32) for k, a in params[part].items()} for part in ("enc", "dec")}
    p64 = {part: {k: a.astype(np.float64) for k, a in p32[part].items()} for part in ("enc", "dec")}
    src = [3, 0, 4, 2]
    path, rows = greedy_loop(src, p64, bos=1, n=4)
    eos = next(t for t in range(8) if t not in path)
    ids, att = call(attention, "attention_greedy_decode", src, p32, 1, eos, 4)
    check_equal(ids, path, "generated ids (float32 weights)")
    check_close(att, rows, "attention rows (float32)", **F32)


@pytest.mark.exercise("attention_greedy_decode", points=0.5, needs_core=True)
def test_attention_greedy_decode_max_len_one(attention, seed):
    # oracle: plain loop; max_len = 1 is allowed and gives the first greedy id and its attention row
    rng = rng_for(seed, 19)
    params = seq2seq_attention_params(rng, 6, 8, 3, 4, 5)
    src = [4, 1, 3]
    path, rows = greedy_loop(src, params, bos=2, n=1)
    ids, att = call(attention, "attention_greedy_decode", src, params, 2, (path[0] + 1) % 8, 1)
    check_equal(ids, path, "ids with max_len=1")
    check_close(att, rows, "attention with max_len=1", **F64)


# --- bonus: beam_search_decode -------------------------------------------------------------


def sequence_log_prob(src, params, bos, tokens):
    """Plain-loop oracle: sum of log softmax(logits) of ``tokens`` fed one by one after ``bos``."""
    enc = params["enc"]
    h, states = np.zeros(enc["W_h"].shape[0]), []
    for i in src:
        h = np.tanh(enc["E"][i] @ enc["W_x"] + h @ enc["W_h"] + enc["b"])
        states.append(h)
    states, y, total = np.array(states), bos, 0.0
    for t in tokens:
        h, logits, _ = decoder_step_loop(y, h, states, None, params["dec"])
        total += logits[t] - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()
        y = t
    return total


def exhaustive_search(src, params, bos, eos, V, max_len, length_penalty):
    """Oracle: every possible output (n < max_len ids then EOS, or max_len ids without EOS), scored
    sum / steps ** length_penalty; the best, ties → the lower token sequence."""
    import itertools

    words = [v for v in range(V) if v != eos]
    outputs = [list(w) + [eos] for n in range(max_len) for w in itertools.product(words, repeat=n)]
    outputs += [list(w) for w in itertools.product(words, repeat=max_len)]
    scored = [(sequence_log_prob(src, params, bos, t) / len(t) ** length_penalty, t) for t in outputs]
    score, tokens = min(scored, key=lambda s: (-s[0], s[1]))
    return (tokens[:-1] if tokens[-1] == eos else tokens), score


@pytest.mark.exercise("beam_search_decode", points=3)
@pytest.mark.parametrize("length_penalty", [0.0, 0.7, 1.0])
def test_beam_search_wide_beam_equals_exhaustive_search(attention, seed, length_penalty):
    # oracle: exhaustive search over a 3-token vocabulary, 3 steps (a beam of 9 prunes nothing: at most
    # 3 hypotheses live after step 1, 4 after step 2)
    rng = rng_for(seed, 40)
    for k in range(6):  # six cases: outputs of every length from 0 to 3 ids come up
        params = seq2seq_attention_params(rng, 5, 3, 3, 4, 4)
        src = rng.integers(0, 5, size=int(rng.integers(1, 5))).tolist()
        expected_ids, expected_score = exhaustive_search(src, params, 0, 2, 3, 3, length_penalty)
        ids, score = call(attention, "beam_search_decode", src, params, 0, 2, 3, 9, length_penalty=length_penalty)
        check_equal(ids, expected_ids, f"best ids (case {k}, length_penalty={length_penalty})")
        check_close(score, expected_score, f"its score (case {k}, length_penalty={length_penalty})", **F64)


def beam_loop(src, params, bos, eos, V, max_len, beam_width, length_penalty):
    """Plain-loop oracle of the docstring's beam search, every candidate scored from scratch."""
    alive, finished = [[]], []
    for step in range(1, max_len + 1):
        candidates = sorted(((sequence_log_prob(src, params, bos, t + [v]), t + [v]) for t in alive for v in range(V)),
                            key=lambda c: (-c[0], c[1]))[:beam_width]  # fmt: skip
        finished += [(s, t, step) for s, t in candidates if t[-1] == eos]
        alive = [t for s, t in candidates if t[-1] != eos]
        if not alive:
            break
    finished += [(sequence_log_prob(src, params, bos, t), t, max_len) for t in alive]
    s, tokens, length = min(finished, key=lambda f: (-f[0] / f[2] ** length_penalty, f[1]))
    return (tokens[:-1] if tokens[-1] == eos else tokens), s / length**length_penalty


@pytest.mark.exercise("beam_search_decode", points=2)
@pytest.mark.parametrize("beam_width", [2, 3])
def test_beam_search_matches_plain_loop(attention, seed, beam_width):
    # oracle: the plain loop above (the best beam_width of all candidates survive each step)
    rng = rng_for(seed, 43)
    for k in range(3):
        params = seq2seq_attention_params(rng, 6, 5, 3, 4, 4)
        src = rng.integers(0, 6, size=int(rng.integers(2, 5))).tolist()
        expected_ids, expected_score = beam_loop(src, params, 0, 4, 5, 4, beam_width, 0.5)
        ids, score = call(attention, "beam_search_decode", src, params, 0, 4, 4, beam_width, length_penalty=0.5)
        check_equal(ids, expected_ids, f"best ids (case {k}, beam_width={beam_width})")
        check_close(score, expected_score, f"its score (case {k}, beam_width={beam_width})", **F64)


@pytest.mark.exercise("beam_search_decode", points=2)
def test_beam_search_of_width_one_is_greedy(attention, seed):
    # oracle: the plain greedy loop; a beam of one keeps the argmax of every step
    rng = rng_for(seed, 41)
    for k in range(3):
        params = seq2seq_attention_params(rng, 7, 9, 4, 5, 6)
        src = rng.integers(0, 7, size=int(rng.integers(2, 7))).tolist()
        path, _ = greedy_loop(src, params, bos=1, n=8)
        eos = path[5] if path[5] not in path[:5] else next(t for t in range(9) if t not in path)
        expected = path[: path.index(eos)] if eos in path else path
        ids, score = call(attention, "beam_search_decode", src, params, 1, eos, 8, 1)
        check_equal(ids, expected, f"ids of a beam of width 1 (case {k})")
        steps = expected + [eos] if len(expected) < 8 else expected
        check_close(score, sequence_log_prob(src, params, 1, steps), f"its score (case {k})", **F64)


@pytest.mark.exercise("beam_search_decode", points=1, needs_core=True)
@pytest.mark.parametrize("beam_width, length_penalty, expected",
                         [(2, 0.0, ([0, 0, 0], -3 * np.log(4))), (4, 0.0, ([], -np.log(4))),
                          (4, 1.0, ([0, 0, 0], -np.log(4)))])  # fmt: skip
def test_beam_search_ties_go_to_the_lower_sequence(attention, beam_width, length_penalty, expected):
    # oracle: the rule worked by hand: uniform logits (W_out = b_out = 0) tie every candidate; a beam of
    # 2 keeps [0], [1] (EOS = 3 is pruned), a beam of 4 keeps [EOS] too; equal scores → the lower list
    V, H = 4, 2
    enc = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H))
    dec = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H), W_c=np.zeros((2 * H, 3)),
               b_c=np.zeros(3), W_out=np.zeros((3, V)), b_out=np.zeros(V))  # fmt: skip
    ids, score = call(attention, "beam_search_decode", [1, 2], {"enc": enc, "dec": dec}, 0, 3, 3, beam_width,
                      length_penalty=length_penalty)  # fmt: skip
    check_equal(ids, expected[0], f"ids when every candidate ties (beam_width={beam_width})")
    check_close(score, expected[1], f"score when every candidate ties (beam_width={beam_width})", **F64)


@pytest.mark.exercise("beam_search_decode", points=1, needs_core=True)
def test_beam_search_bad_input(attention, seed):
    # contract (docstring): each bad argument raises ValueError naming it
    params = seq2seq_attention_params(rng_for(seed, 42), 4, 4, 2, 3, 3)
    for args, kwargs, name in [(([], 5, 2), {}, "src"), (([1], 0, 2), {}, "max_len"), (([1], 5, 0), {}, "beam_width"),
                               (([1], 5, 2), {"length_penalty": -1.0}, "length_penalty")]:  # fmt: skip
        src, max_len, beam_width = args
        with pytest.raises(ValueError, match=name):
            call(attention, "beam_search_decode", src, params, 0, 1, max_len, beam_width, **kwargs)


@pytest.mark.exercise("attention_greedy_decode", points=0.5, needs_core=True)
@pytest.mark.parametrize("max_len", [2.5, True], ids=["float", "bool"])
def test_attention_greedy_decode_max_len_is_an_int(attention, seed, max_len):
    # contract (docstring): max_len is an int >= 1; a float or a bool -> ValueError naming max_len
    params = seq2seq_attention_params(rng_for(seed, 16), 4, 4, 2, 3, 3)
    with pytest.raises(ValueError, match="max_len"):
        call(attention, "attention_greedy_decode", [1, 2], params, 0, 1, max_len)


@pytest.mark.exercise("beam_search_decode", points=1, needs_core=True)
def test_beam_search_with_very_confident_logits(attention, seed):
    # oracle: exhaustive search (its log-softmax subtracts each row's maximum); logits of size ~1e3,
    # whose exp overflows unless each beam's row is shifted by its own maximum
    rng = rng_for(seed, 44)
    for k in range(2):
        params = seq2seq_attention_params(rng, 5, 3, 3, 4, 4)
        params["dec"] = dict(params["dec"], W_out=params["dec"]["W_out"] * 400.0)
        src = rng.integers(0, 5, size=3).tolist()
        expected_ids, expected_score = exhaustive_search(src, params, 0, 2, 3, 3, 0.5)
        ids, score = call(attention, "beam_search_decode", src, params, 0, 2, 3, 9, length_penalty=0.5)
        check_equal(ids, expected_ids, f"best ids with logits of size ~1e3 (case {k})")
        check_close(score, expected_score, f"its score with logits of size ~1e3 (case {k})", rtol=1e-7, atol=1e-6)


@pytest.mark.exercise("beam_search_decode", points=1, needs_core=True)
@pytest.mark.parametrize(
    "max_len, beam_width, length_penalty, name",
    [(2.5, 2, 0.0, "max_len"), (True, 2, 0.0, "max_len"), (3, 2.0, 0.0, "beam_width"), (3, True, 0.0, "beam_width"),
     (3, 2, True, "length_penalty"), (3, 2, "1", "length_penalty")],
    ids=["max_len_float", "max_len_bool", "beam_float", "beam_bool", "penalty_bool", "penalty_str"],
)  # fmt: skip
def test_beam_search_counts_are_ints_and_names_them(attention, seed, max_len, beam_width, length_penalty, name):
    # contract (docstring): max_len, beam_width ints >= 1, length_penalty a number >= 0; the message names
    # the argument as a word
    params = seq2seq_attention_params(rng_for(seed, 45), 4, 4, 2, 3, 3)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(attention, "beam_search_decode", [1], params, 0, 1, max_len, beam_width, length_penalty=length_penalty)
