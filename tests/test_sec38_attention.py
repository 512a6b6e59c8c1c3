"""Public tests for §38 注意機構 (exercises/sec38_attention/attention.py).

Small, readable checks on hand-made inputs; the hidden suite adds random shapes, float32,
masks, PyTorch's scaled_dot_product_attention as an oracle and property checks.
Run: `pytest tests/test_sec38_attention.py`.
"""

import numpy as np
import pytest

from grader.calls import call
from grader.checks import check_close, check_dtype, check_equal, check_ndarray, check_shape

F64 = dict(rtol=1e-7, atol=1e-12)


@pytest.mark.exercise("bag_of_words", points=1)
def test_bag_of_words_skips_padding(attention):
    # oracle: E has row i = [i, 10 i]; the sentence [2, 3, 0] sums rows 2 and 3 only
    E = np.stack([np.arange(5.0), 10 * np.arange(5.0)], axis=1)
    v = call(attention, "bag_of_words", np.array([2, 3, 0]), E)
    check_ndarray(v, "bag_of_words(ids, E)")
    check_close(v, np.array([5.0, 50.0]), "bag of words of [2, 3, <pad>]", **F64, show_values=True)


@pytest.mark.exercise("memory_attention", points=1)
def test_memory_attention_picks_the_matching_memory(attention):
    # oracle: the query matches memory 1 far better than the others, so the output is values[1]
    query = np.array([[0.0, 20.0]])
    keys = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]])
    values = np.array([[[1.0], [2.0], [3.0]]])
    out, p = call(attention, "memory_attention", query, keys, values)
    check_shape(out, (1, 1), "output")
    check_shape(p, (1, 3), "weights")
    check_close(out, np.array([[2.0]]), "output", rtol=0, atol=1e-6, show_values=True)
    check_close(p.sum(axis=-1), np.ones(1), "sum of the weights", **F64, show_values=True)


@pytest.mark.exercise("memory_attention", points=1)
def test_memory_attention_is_not_scaled(attention):
    # oracle: scores [2, 0] (no division by sqrt(D)) give weights softmax([2, 0])
    query = np.array([[1.0, 1.0]])
    keys = np.array([[[1.0, 1.0], [0.0, 0.0]]])
    _, p = call(attention, "memory_attention", query, keys, np.zeros((1, 2, 1)))
    e = np.exp([2.0, 0.0])
    check_close(p, (e / e.sum())[None], "weights", **F64, show_values=True)


@pytest.mark.exercise("memnet_answer", points=1)
def test_memnet_answer_by_hand(attention):
    # oracle: the formulas written out with NumPy for a story of two one-word sentences
    A = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    C = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0], [0.0, 0.0]])
    B = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.5, 2.0]])
    W_out = np.array([[1.0, 0.0, -1.0, 2.0], [0.0, 1.0, 1.0, -1.0]])
    T_A = np.array([[0.0, 0.5], [0.2, 0.0]])
    T_C = np.array([[1.0, 0.0], [0.0, -1.0]])
    params = dict(A=A, B=B, C=C, W_out=W_out, T_A=T_A, T_C=T_C)
    logits, p = call(attention, "memnet_answer", np.array([[[1], [2]]]), np.array([[3, 0]]), params)
    u = B[3]
    m = np.stack([A[1] + T_A[0], A[2] + T_A[1]])
    c = np.stack([C[1] + T_C[0], C[2] + T_C[1]])
    e = np.exp(m @ u - (m @ u).max())
    p_exp = e / e.sum()
    check_close(p, p_exp[None], "p", **F64, show_values=True)
    check_close(logits, ((p_exp @ c + u) @ W_out)[None], "logits", **F64, show_values=True)


@pytest.mark.exercise("memnet_answer", points=1, needs_core=True)
def test_memnet_answer_shapes(attention):
    # property: logits (B, V) and one weight per sentence (B, N) summing to 1
    V, D, B, N, W = 6, 3, 2, 4, 3
    params = {k: np.ones((V, D)) * 0.1 for k in "ABC"}
    params["W_out"] = np.ones((D, V))
    story = np.ones((B, N, W), dtype=np.int64)
    logits, p = call(attention, "memnet_answer", story, np.ones((B, 2), dtype=np.int64), params)
    check_shape(logits, (B, V), "logits")
    check_shape(p, (B, N), "p")
    check_close(p, np.full((B, N), 1 / N), "p for identical sentences", **F64, show_values=True)


@pytest.mark.exercise("dot_product_attention", points=1)
def test_dot_product_attention_mask(attention):
    # oracle: with the last source token masked, equal scores split the weight between the first two
    enc = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 9.0]]])
    ctx, w = call(
        attention, "dot_product_attention", np.array([[1.0, 1.0]]), enc, enc, mask=np.array([[True, True, False]])
    )
    check_close(w, np.array([[0.5, 0.5, 0.0]]), "weights with the last key masked", **F64, show_values=True)
    check_close(ctx, np.array([[1.0, 0.0]]), "context", **F64, show_values=True)


@pytest.mark.exercise("additive_attention", points=1)
def test_additive_attention_by_hand(attention):
    # oracle: score_s = tanh(q W_q + k_s W_k) . v written out for two keys and A = 1
    q = np.array([[1.0]])
    keys = np.array([[[0.0], [1.0]]])
    values = np.array([[[10.0], [20.0]]])
    ctx, w = call(
        attention, "additive_attention", q, keys, values, np.array([[1.0]]), np.array([[1.0]]), np.array([2.0])
    )
    s = 2 * np.tanh(np.array([1.0, 2.0]))
    e = np.exp(s - s.max())
    expected = e / e.sum()
    check_close(w, expected[None], "weights", **F64, show_values=True)
    check_close(ctx, np.array([[expected @ np.array([10.0, 20.0])]]), "context", **F64, show_values=True)


@pytest.mark.exercise("attention_decoder_step", points=1, needs_core=True)
def test_attention_decoder_step_shapes(attention):
    # property: shapes h_t (B, H), logits (B, V), weights (B, S) summing to 1
    B, S, H, D, V, Hc = 2, 5, 3, 4, 7, 6
    params = dict(E=np.ones((V, D)), W_x=np.ones((D, H)) * 0.1, W_h=np.eye(H), b=np.zeros(H),
                  W_c=np.ones((2 * H, Hc)) * 0.1, b_c=np.zeros(Hc), W_out=np.ones((Hc, V)), b_out=np.zeros(V))  # fmt: skip
    h_t, logits, w = call(attention, "attention_decoder_step", np.array([1, 2]), np.zeros((B, H)), np.ones((B, S, H)), None,
                                                      params)  # fmt: skip
    check_shape(h_t, (B, H), "h_t")
    check_shape(logits, (B, V), "logits")
    check_shape(w, (B, S), "weights")
    check_close(w.sum(axis=-1), np.ones(B), "sum of the weights", **F64, show_values=True)


@pytest.mark.exercise("attention_decoder_step", points=1)
def test_attention_decoder_step_by_hand(attention):
    # oracle: the formulas written out with NumPy; one source state (its weight is 1, ctx = enc[0])
    # and weights that tell the context from h_t in the concatenation
    E = np.array([[0.0, 0.0], [1.0, -1.0]])
    params = dict(E=E, W_x=np.array([[0.5, 0.0], [0.0, 1.0]]), W_h=np.array([[1.0, 0.0], [0.5, 1.0]]),
                  b=np.array([0.1, 0.0]), W_c=np.array([[1.0], [0.0], [0.0], [-2.0]]), b_c=np.array([0.3]),
                  W_out=np.array([[1.0, -1.0, 2.0]]), b_out=np.array([0.0, 0.5, 0.0]))  # fmt: skip
    h_prev, enc = np.array([[0.2, -0.4]]), np.array([[[0.7, 0.1]]])
    h_t, logits, w = call(attention, "attention_decoder_step", np.array([1]), h_prev, enc, None, params)
    h = np.tanh(E[1] @ params["W_x"] + h_prev[0] @ params["W_h"] + params["b"])
    att = np.tanh(np.concatenate([enc[0, 0], h]) @ params["W_c"] + params["b_c"])
    check_close(h_t, h[None], "h_t", **F64, show_values=True)
    check_close(w, np.ones((1, 1)), "weights over one source state", **F64, show_values=True)
    check_close(logits, (att @ params["W_out"] + params["b_out"])[None], "logits = tanh([ctx ; h_t] W_c + b_c) W_out + b_out",
                **F64, show_values=True)  # fmt: skip


@pytest.mark.exercise("attention_greedy_decode", points=1)
def test_attention_greedy_decode_max_len(attention):
    # oracle: a decoder whose bias always prefers token 2 (never EOS = 0) gives max_len twos
    V, H = 4, 2
    enc = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H))
    dec = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H), W_c=np.zeros((2 * H, 3)),
               b_c=np.zeros(3), W_out=np.zeros((3, V)), b_out=np.array([0.0, 0.5, 1.0, 0.2]))  # fmt: skip
    ids, att = call(
        attention, "attention_greedy_decode", [1, 2, 3], {"enc": enc, "dec": dec}, bos_id=1, eos_id=0, max_len=3
    )
    check_equal(ids, [2, 2, 2], "generated ids")
    check_shape(att, (3, 3), "attention (len(ids), len(src))")


def _constant_preference_params(b_out):
    """A decoder whose logits are b_out at every step (W_out = 0), whatever the source."""
    V, H = len(b_out), 2
    enc = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H))
    dec = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H) * 0.5, b=np.zeros(H), W_c=np.zeros((2 * H, 3)),
               b_c=np.zeros(3), W_out=np.zeros((3, V)), b_out=np.asarray(b_out, dtype=np.float64))  # fmt: skip
    return {"enc": enc, "dec": dec}


@pytest.mark.exercise("beam_search_decode", points=1)
def test_beam_search_without_eos_runs_max_len_steps(attention):
    # oracle: log-probabilities written out; EOS = 0 is never the best, so 3 steps of token 2
    b_out = np.array([0.0, 0.5, 1.0, 0.2])
    log_p = b_out - np.log(np.exp(b_out).sum())
    ids, score = call(attention, "beam_search_decode", [1, 2, 3], _constant_preference_params(b_out), 1, 0, 3, 2)
    check_equal(ids, [2, 2, 2], "ids of the best hypothesis")
    check_close(score, 3 * log_p[2], "score = sum of the 3 log-probabilities", **F64, show_values=True)


@pytest.mark.exercise("beam_search_decode", points=1)
def test_beam_search_length_penalty_divides_by_the_number_of_steps(attention):
    # oracle: EOS = 3 is the best first token (length 1, EOS counted); [] is returned, score log p / 1 ** 1
    b_out = np.array([0.0, 0.5, 1.0, 2.0])
    log_p = b_out - np.log(np.exp(b_out).sum())
    params = _constant_preference_params(b_out)
    ids, score = call(attention, "beam_search_decode", [1], params, 1, 3, 4, 2, length_penalty=1.0)
    check_equal(ids, [], "ids when EOS comes first (EOS itself is not returned)")
    check_close(score, log_p[3], "score of the hypothesis [EOS] with length_penalty = 1", **F64, show_values=True)


@pytest.mark.exercise("dot_product_attention", points=1)
def test_dot_product_attention_is_not_scaled(attention):
    # oracle: Luong's score is the plain dot product q . k_s (no 1/sqrt(H)): scores [1, 0] by hand
    keys = np.array([[[1.0, 0.0], [0.0, 0.0]]])
    ctx, w = call(attention, "dot_product_attention", np.array([[1.0, 1.0]]), keys, keys)
    e = np.e
    check_close(w, np.array([[e / (e + 1), 1 / (e + 1)]]), "weights = softmax(q . k_s)", **F64, show_values=True)


@pytest.mark.exercise("bag_of_words", points=1)
def test_bag_of_words_skips_a_padding_id_with_a_nonzero_embedding(attention):
    # oracle: E has row i = [i, 10 i]; with pad_id = 4 the sentence [2, 4, 4] is row 2 alone
    E = np.stack([np.arange(5.0), 10 * np.arange(5.0)], axis=1)
    v = call(attention, "bag_of_words", np.array([2, 4, 4]), E, pad_id=4)
    check_close(v, np.array([2.0, 20.0]), "bag of words of [2, <pad>, <pad>] (pad_id=4)", **F64, show_values=True)


@pytest.mark.exercise("attention_greedy_decode", points=1, needs_core=True)
def test_attention_greedy_decode_stops_before_eos(attention):
    # oracle: a decoder that always prefers EOS = 0 stops at once: no id and no attention row for EOS
    params = _constant_preference_params([1.0, 0.5, 0.0, 0.2])
    ids, att = call(attention, "attention_greedy_decode", [1, 2, 3], params, bos_id=1, eos_id=0, max_len=3)
    check_equal(ids, [], "generated ids (EOS first: nothing before it)")
    check_shape(att, (0, 3), "attention (len(ids), len(src))")


def _bigram_params(M):
    """A decoder whose logits after token y are tanh(tanh(1)) * M[y] whatever the source (W_h = 0 and
    W_c reads h_t = tanh(e_y) only): a bigram table written out by hand."""
    V = len(M)
    enc = dict(E=np.ones((V, V)), W_x=np.eye(V), W_h=np.eye(V) * 0.5, b=np.zeros(V))
    dec = dict(E=np.eye(V), W_x=np.eye(V), W_h=np.zeros((V, V)), b=np.zeros(V), W_c=np.vstack([np.zeros((V, V)), np.eye(V)]),
               b_c=np.zeros(V), W_out=np.asarray(M, dtype=np.float64), b_out=np.zeros(V))  # fmt: skip
    return {"enc": enc, "dec": dec}


@pytest.mark.exercise("beam_search_decode", points=1)
def test_beam_search_keeps_the_best_of_all_hypotheses(attention):
    # oracle: the bigram table by hand (EOS = 0 and BOS = 1 never likely). After BOS, 2 is a little
    # likelier than 3; after 2 the next token is a coin toss, after 3 another 3 is almost sure. With
    # beam_width = 2 both [2] and [3] survive step 1, and at step 2 the best of *all* four
    # candidates is [3, 3] (log p ≈ log p(3 | BOS)), not one of the two extensions of [2]
    M = np.array([[0.0, 0, 0, 0], [-10, -10, 0.5, 0], [-10, -10, 0, 0.2], [-10, -10, 0, 10]])
    z = np.tanh(np.tanh(1.0)) * M
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log_p[y, v] = log p(v | y)
    ids, score = call(attention, "beam_search_decode", [2], _bigram_params(M), 1, 0, 2, 2)
    check_equal(ids, [3, 3], "ids (are the beam_width best of all candidates kept, whichever hypothesis they extend?)")
    check_close(score, log_p[1, 3] + log_p[3, 3], "score of [3, 3]", **F64, show_values=True)


@pytest.mark.exercise("beam_search_decode", points=1)
def test_beam_search_length_counts_the_eos_step(attention):
    # oracle: log-probabilities written out (constant logits, EOS = 0, beam_width = 2, max_len = 2,
    # length_penalty = 2): the finished hypotheses are [EOS] (length 1), [2, EOS] (length 2: EOS
    # counts) and [2, 2]; (log p_2 + log p_0) / 2**2 is the best of the three scores
    b_out = np.array([1.0, -2.0, 0.5])
    log_p = b_out - np.log(np.exp(b_out).sum())
    params = _constant_preference_params(b_out)
    ids, score = call(attention, "beam_search_decode", [1], params, 1, 0, 2, 2, length_penalty=2.0)
    check_equal(ids, [2], "ids (the length of a hypothesis ended by EOS counts the EOS step)")
    check_close(score, (log_p[2] + log_p[0]) / 2**2, "score of [2, EOS] with length_penalty = 2", **F64,
                show_values=True)  # fmt: skip


@pytest.mark.exercise("attention_decoder_step", points=1)
def test_attention_decoder_step_keeps_float32(attention):
    # oracle: the formulas written out with NumPy in float64 (one source state: its weight is 1);
    # float32 weights give h_t, logits and weights in float32
    rng = np.random.default_rng(0)
    V, D, H, Hc = 3, 2, 2, 2
    shapes = dict(E=(V, D), W_x=(D, H), W_h=(H, H), b=(H,), W_c=(2 * H, Hc), b_c=(Hc,), W_out=(Hc, V), b_out=(V,))
    p64 = {k: rng.normal(size=s) for k, s in shapes.items()}
    h_prev, enc = rng.normal(size=(1, H)), rng.normal(size=(1, 1, H))
    f32 = {k: v.astype(np.float32) for k, v in p64.items()}
    h_t, logits, w = call(attention, "attention_decoder_step", np.array([1]), h_prev.astype(np.float32),
                          enc.astype(np.float32), None, f32)  # fmt: skip
    for value, what in ((h_t, "h_t"), (logits, "logits"), (w, "weights")):
        check_dtype(value, np.float32, f"{what} for float32 weights (is the embedding lookup cast to float64?)")
    h = np.tanh(p64["E"][1] @ p64["W_x"] + h_prev[0] @ p64["W_h"] + p64["b"])
    att = np.tanh(np.concatenate([enc[0, 0], h]) @ p64["W_c"] + p64["b_c"])
    check_close(h_t, h[None], "h_t in float32", atol=1e-5, rtol=1e-4)
    check_close(logits, (att @ p64["W_out"] + p64["b_out"])[None], "logits in float32", atol=1e-5, rtol=1e-4)


def _memnet_by_hand(params, story, question):
    """The MemN2N formulas written out with NumPy for one story of one-word sentences (B = 1)."""
    N = story.shape[1]
    m = params["A"][story[0, :, 0]] + params.get("T_A", np.zeros((N, 2)))
    c = params["C"][story[0, :, 0]] + params.get("T_C", np.zeros((N, 2)))
    u = params["B"][question[0]].sum(axis=0)
    e = np.exp(m @ u - (m @ u).max())
    p = e / e.sum()
    return ((p @ c + u) @ params["W_out"])[None], p[None]


MEMNET_PARAMS = dict(
    A=np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
    C=np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0], [0.0, 0.0]]),
    B=np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.5, 2.0]]),
    W_out=np.array([[1.0, 0.0, -1.0, 2.0], [0.0, 1.0, 1.0, -1.0]]),
)


@pytest.mark.exercise("memnet_answer", points=1)
def test_memnet_answer_with_T_A_alone(attention):
    # oracle: the formulas written out with NumPy; T_A is given, T_C is not (no temporal encoding of
    # the output memories)
    params = dict(MEMNET_PARAMS, T_A=np.array([[0.0, 0.5], [0.2, 0.0]]))
    story, question = np.array([[[1], [2]]]), np.array([[3, 0]])
    logits, p = call(attention, "memnet_answer", story, question, params)
    logits_exp, p_exp = _memnet_by_hand(params, story, question)
    check_close(p, p_exp, "p with T_A and no T_C", **F64, show_values=True)
    check_close(logits, logits_exp, "logits with T_A and no T_C (a missing T_C means none)", **F64, show_values=True)


@pytest.mark.exercise("memnet_answer", points=1)
def test_memnet_answer_keeps_float32(attention):
    # oracle: the formulas written out with NumPy in float64; float32 embeddings give logits and p in float32
    story, question = np.array([[[1], [2]]]), np.array([[3, 0]])
    f32 = {k: v.astype(np.float32) for k, v in MEMNET_PARAMS.items()}
    logits, p = call(attention, "memnet_answer", story, question, f32)
    check_dtype(logits, np.float32, "logits for float32 embeddings")
    check_dtype(p, np.float32, "p for float32 embeddings")
    logits_exp, p_exp = _memnet_by_hand(MEMNET_PARAMS, story, question)
    check_close(p, p_exp, "p in float32", atol=1e-5, rtol=1e-4)
    check_close(logits, logits_exp, "logits in float32", atol=1e-5, rtol=1e-4)
