"""Public tests for §37 回帰型ニューラルネットワーク (exercises/sec37_rnn/rnn.py).

Small, readable checks on hand-made inputs; the hidden suite adds random shapes, float32,
padding, PyTorch oracles (nn.RNN, nn.LSTM, ...) and statistical tests of the sampler.
Run: `pytest tests/test_sec37_rnn.py`.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.calls import call
from grader.checks import check_close, check_dtype, check_equal, check_ndarray, check_shape

F64 = dict(rtol=1e-7, atol=1e-12)


@pytest.mark.exercise("image_to_vector", points=1)
def test_image_to_vector_is_row_major_and_scaled(rnn):
    # oracle: a 2x2 grey image read row by row, divided by 255
    image = np.array([[0, 51], [102, 255]], dtype=np.uint8)
    v = call(rnn, "image_to_vector", image)
    check_ndarray(v, "image_to_vector(image)")
    check_close(v, np.array([0.0, 0.2, 0.4, 1.0]), "image_to_vector of a 2x2 image", **F64, show_values=True)


@pytest.mark.exercise("image_to_patches", points=1)
def test_image_to_patches_order(rnn):
    # oracle: a 4x4 one-channel image holding 0..15; patch 2 gives the four 2x2 corners, row-major
    image = np.arange(16).reshape(4, 4, 1)
    patches = call(rnn, "image_to_patches", image, 2)
    expected = np.array([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]])
    check_close(patches, expected, "patches of a 4x4 image", **F64, show_values=True)


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_pads_at_the_end(rnn):
    # oracle: written out by hand
    ids, mask = call(rnn, "pad_sequences", [[5, 6, 7], [8]], pad_id=0)
    check_equal(ids, np.array([[5, 6, 7], [8, 0, 0]]), "ids")
    check_equal(mask, np.array([[True, True, True], [True, False, False]]), "mask")
    check_dtype(ids, np.int64, "ids")
    check_dtype(mask, np.bool_, "mask")


@pytest.mark.exercise("rnn_step", points=1)
def test_rnn_step_by_hand(rnn):
    # oracle: tanh(x W_x + h W_h + b) with identity weights: tanh(x + h + b)
    x = np.array([[0.5, -1.0]])
    h = np.array([[0.25, 0.0]])
    out = call(rnn, "rnn_step", x, h, np.eye(2), np.eye(2), np.array([0.0, 1.0]))
    check_close(out, np.tanh(np.array([[0.75, 0.0]])), "h_t", **F64, show_values=True)


@pytest.mark.exercise("rnn_forward", points=1, needs_core=True)
def test_rnn_forward_shapes_and_padding(rnn):
    # property: padded steps give hs = 0 and leave the state unchanged
    x = np.ones((2, 3, 2))
    mask = np.array([[True, True, True], [True, False, False]])
    W = 0.5 * np.eye(2)
    hs, h_last = call(rnn, "rnn_forward", x, np.zeros((2, 2)), W, W, np.zeros(2), mask=mask)
    check_shape(hs, (2, 3, 2), "hs")
    check_shape(h_last, (2, 2), "h_last")
    check_close(hs[1, 1:], np.zeros((2, 2)), "hs at padded steps", **F64, show_values=True)
    check_close(h_last[1], hs[1, 0], "h_last of the sequence of length 1", **F64, show_values=True)
    check_close(h_last[0], hs[0, 2], "h_last of the full-length sequence", **F64, show_values=True)


@pytest.mark.exercise("rnn_forward", points=1)
def test_rnn_forward_by_hand(rnn):
    # oracle: two steps of tanh(x W_x + h W_h + b) written out; the second row's step 2 is padding
    x = np.array([[[1.0], [2.0]], [[1.0], [5.0]]])
    h0 = np.array([[0.0], [0.5]])
    mask = np.array([[True, True], [True, False]])
    hs, h_last = call(rnn, "rnn_forward", x, h0, np.array([[0.5]]), np.array([[1.0]]), np.array([0.1]), mask=mask)
    a1, b1 = np.tanh(0.5 + 0.1), np.tanh(0.5 + 0.5 + 0.1)
    a2 = np.tanh(1.0 + a1 + 0.1)
    check_close(hs, np.array([[[a1], [a2]], [[b1], [0.0]]]), "hs", **F64, show_values=True)
    check_close(h_last, np.array([[a2], [b1]]), "h_last", **F64, show_values=True)


@pytest.mark.exercise("stacked_rnn_forward", points=1)
def test_stacked_rnn_with_one_layer_is_rnn_forward(rnn):
    # oracle: one layer written out by hand (two steps of tanh(x W_x + h W_h + b))
    x = np.array([[[1.0], [2.0]]])
    layer = (np.array([[0.5]]), np.array([[1.0]]), np.array([0.0]))
    hs, h_last = call(rnn, "stacked_rnn_forward", x, np.zeros((1, 1, 1)), [layer])
    h1 = np.tanh(0.5)
    h2 = np.tanh(1.0 + h1)
    check_close(hs, np.array([[[h1], [h2]]]), "hs", **F64, show_values=True)
    check_shape(h_last, (1, 1, 1), "h_last (L, B, H)")


@pytest.mark.exercise("bidirectional_rnn_forward", points=1)
def test_bidirectional_output_layout(rnn):
    # oracle: the backward half at step 0 has read the whole sequence from its end
    x = np.array([[[1.0], [2.0]]])
    one = (np.array([[1.0]]), np.array([[1.0]]), np.array([0.0]))
    out, h_n = call(rnn, "bidirectional_rnn_forward", x, np.zeros((2, 1, 1)), one, one)
    check_shape(out, (1, 2, 2), "out (B, T, 2H)")
    fwd = [np.tanh(1.0), np.tanh(2.0 + np.tanh(1.0))]
    bwd = [np.tanh(1.0 + np.tanh(2.0)), np.tanh(2.0)]
    check_close(out[0, :, 0], np.array(fwd), "forward half out[..., :H]", **F64, show_values=True)
    check_close(out[0, :, 1], np.array(bwd), "backward half out[..., H:]", **F64, show_values=True)
    check_close(h_n[:, 0, 0], np.array([fwd[1], bwd[0]]), "h_n", **F64, show_values=True)


@pytest.mark.exercise("lstm_step", points=1)
def test_lstm_step_with_zero_weights(rnn):
    # oracle: z = 0 -> every gate is sigmoid(0) = 1/2 and g = tanh(0) = 0: c = c_prev / 2
    c_prev = np.array([[2.0, -4.0]])
    h, c = call(
        rnn, "lstm_step", np.ones((1, 3)), np.zeros((1, 2)), c_prev, np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8)
    )
    check_close(c, np.array([[1.0, -2.0]]), "c_t", **F64, show_values=True)
    check_close(h, 0.5 * np.tanh(np.array([[1.0, -2.0]])), "h_t", **F64, show_values=True)


@pytest.mark.exercise("lstm_forward", points=1, needs_core=True)
def test_lstm_forward_shapes(rnn):
    # property: shapes (B, T, H), (B, H), (B, H)
    hs, (h, c) = call(rnn, "lstm_forward", np.ones((2, 4, 3)), np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((3, 20)),
                                  np.zeros((5, 20)), np.zeros(20))  # fmt: skip
    check_shape(hs, (2, 4, 5), "hs")
    check_shape(h, (2, 5), "h_last")
    check_shape(c, (2, 5), "c_last")


@pytest.mark.exercise("lstm_forward", points=1)
def test_lstm_forward_by_hand(rnn):
    # oracle: zero weights and b_g = 1 make every step i = f = o = 1/2, g = tanh(1):
    # c_t = c_{t-1} / 2 + tanh(1) / 2, h_t = tanh(c_t) / 2; the second row's step 2 is padding
    b = np.array([0.0, 0.0, 1.0, 0.0])
    c0 = np.array([[4.0], [-2.0]])
    mask = np.array([[True, True], [True, False]])
    hs, (h, c) = call(rnn, "lstm_forward", np.ones((2, 2, 1)), np.zeros((2, 1)), c0, np.zeros((1, 4)),
                      np.zeros((1, 4)), b, mask=mask)  # fmt: skip
    g = np.tanh(1.0)
    c1 = c0[:, 0] / 2 + g / 2
    c2 = c1 / 2 + g / 2
    check_close(c, np.array([[c2[0]], [c1[1]]]), "c_last", **F64, show_values=True)
    check_close(h, np.tanh(np.array([[c2[0]], [c1[1]]])) / 2, "h_last", **F64, show_values=True)
    check_close(hs[:, 0, 0], np.tanh(c1) / 2, "hs at step 1", **F64, show_values=True)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_names_a_bad_W_x(rnn):
    # contract: a ValueError names the argument; here W_x is 3-D (not (D, 4H)) while h0 and c0 are
    # right, so the message names W_x (read H from W_x only after checking it)
    with pytest.raises(ValueError, match="W_x"):
        call(rnn, "lstm_forward", np.ones((2, 4, 3)), np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((3, 20, 2)),
             np.zeros((5, 20)), np.zeros(20))  # fmt: skip


@pytest.mark.exercise("sample_next_token", points=1)
def test_sample_next_token_greedy(rnn):
    # oracle: temperature 0 picks the largest logit
    token = call(rnn, "sample_next_token", np.array([0.1, 3.0, -1.0, 2.9]), temperature=0)
    check_equal(token, 1, "sample_next_token(..., temperature=0)")


@pytest.mark.exercise("sample_next_token", points=1, needs_core=True)
def test_sample_next_token_same_seed_same_token(rnn):
    # property: the seed fixes the draw
    logits = np.zeros(50)
    tokens = [call(rnn, "sample_next_token", logits, seed=7) for _ in range(3)]
    check_equal(tokens[1], tokens[0], "a second draw with the same seed")
    check_equal(tokens[2], tokens[0], "a third draw with the same seed")


@pytest.mark.exercise("sample_next_token", points=1, needs_core=True)
def test_sample_next_token_top_k_keeps_ties(rnn):
    # contract (the course's top-k rule): every logit equal to the k-th largest is kept; ids 0 and 3
    # tie as the 2nd largest, so top_k=2 keeps {0, 1, 3} (oracle: logits >= np.sort(logits)[-2])
    logits = np.array([2.0, 5.0, 1.0, 2.0, 0.0])
    got = {call(rnn, "sample_next_token", logits, 50.0, top_k=2, seed=s) for s in range(60)}
    check_equal(sorted(got), [0, 1, 3], "the ids drawn with top_k=2 at temperature 50 (ties at the 2nd value kept)")


@pytest.mark.exercise("rnn_generate", points=1)
def test_rnn_generate_follows_the_strongest_link(rnn):
    # oracle: with E = I, W_x = I, W_h = 0, W_out = I the model always repeats its last token
    V = 4
    params = dict(E=np.eye(V), W_x=np.eye(V), W_h=np.zeros((V, V)), b=np.zeros(V), W_out=np.eye(V), b_out=np.zeros(V))
    check_equal(call(rnn, "rnn_generate", [0, 2], 3, params), [2, 2, 2], "rnn_generate([0, 2], 3, ...)")


@pytest.mark.exercise("encoder_decoder_greedy", points=1)
def test_encoder_decoder_stops_at_max_len(rnn):
    # oracle: a decoder that always prefers token 1 (never EOS = 0) produces max_len ones
    V, H = 3, 2
    enc = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H), b=np.zeros(H))
    dec = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H), b=np.zeros(H), W_out=np.zeros((H, V)),
               b_out=np.array([0.0, 1.0, 0.5]))  # fmt: skip
    out = call(rnn, "encoder_decoder_greedy", [1, 2], enc, dec, bos_id=2, eos_id=0, max_len=4)
    check_equal(out, [1, 1, 1, 1], "output ids")


# --- bonus: byte-level BPE ------------------------------------------------------------------


# any Unicode scalar value (code points without the surrogates, which UTF-8 cannot encode)
CODE_POINTS = st.integers(0, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF).map(chr)


@pytest.mark.exercise("train_bpe", points=1)
def test_train_bpe_by_hand(rnn):
    # oracle: worked out by hand. Bytes of "aaaaabcbcbc": (a,a) occurs 4 times (overlaps count),
    # (b,c) 3 times -> merge 256 = (97, 97): [256, 256, 97, 98, 99, 98, 99, 98, 99]; then
    # 257 = (98, 99) (3 times): [256, 256, 97, 257, 257, 257]; then 258 = (257, 257) (twice)
    merges = call(rnn, "train_bpe", "aaaaabcbcbc", 3)
    check_equal([tuple(m) for m in merges], [(97, 97), (98, 99), (257, 257)], "train_bpe('aaaaabcbcbc', 3)")


@pytest.mark.exercise("bpe_encode", points=1)
def test_bpe_encode_by_hand(rnn):
    # oracle: by hand: "aaa" -> bytes [97, 97, 97]; the merge (97, 97) -> 256 applies left to right
    check_equal(call(rnn, "bpe_encode", "aaa", [(97, 97)]), [256, 97], "bpe_encode('aaa', [(97, 97)])")


@pytest.mark.exercise("bpe_decode", points=1)
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(text=st.lists(st.one_of(st.sampled_from("ねこがをパン。\n漢aé🙂"), CODE_POINTS), max_size=20).map("".join))
def test_bpe_round_trip_any_text(rnn, text):
    # property: bpe_decode(bpe_encode(t)) == t for any text (hypothesis draws any code point but
    # the surrogates, and often the kana of the merges), with the merges learnt from Japanese text
    # (they cut kana into byte pieces)
    merges = call(rnn, "train_bpe", "ねこがパンをたべる。いぬがみずをのむ。" * 3, 12)
    ids = call(rnn, "bpe_encode", text, merges)
    check_equal(call(rnn, "bpe_decode", ids, merges), text, "bpe_decode(bpe_encode(text))")


@pytest.mark.exercise("lstm_step", points=1)
def test_lstm_step_gate_order_is_i_f_g_o(rnn):
    # oracle: the gates written out with PyTorch's order i, f, g, o — b = [0, 0 | 0, 0 | 1, 1 | -1, -1]
    # (H = 2, zero weights): i = f = 1/2, g = tanh(1), o = sigmoid(-1); c = c_prev / 2 + tanh(1) / 2
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    b = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0, -1.0])
    c_prev = np.array([[2.0, -4.0]])
    h, c = call(rnn, "lstm_step", np.ones((1, 3)), np.zeros((1, 2)), c_prev, np.zeros((3, 8)), np.zeros((2, 8)), b)
    c_expected = 0.5 * c_prev + 0.5 * np.tanh(1.0)
    check_close(c, c_expected, "c_t (gates in the order i, f, g, o)", **F64, show_values=True)
    check_close(h, sigmoid(-1.0) * np.tanh(c_expected), "h_t = o * tanh(c_t)", **F64, show_values=True)


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_max_len_keeps_the_first_tokens(rnn):
    # oracle: written out by hand — max_len = 2 cuts [5, 6, 7] to its first two tokens
    ids, mask = call(rnn, "pad_sequences", [[5, 6, 7], [8]], pad_id=0, max_len=2)
    check_equal(ids, np.array([[5, 6], [8, 0]]), "ids with max_len=2")
    check_equal(mask, np.array([[True, True], [True, False]]), "mask with max_len=2")


@pytest.mark.exercise("encoder_decoder_greedy", points=1, needs_core=True)
def test_encoder_decoder_stops_before_eos(rnn):
    # oracle: a decoder that always prefers EOS = 0 stops at once: EOS itself is not part of the output
    V, H = 3, 2
    enc = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H), b=np.zeros(H))
    dec = dict(E=np.ones((V, H)), W_x=np.eye(H), W_h=np.eye(H), b=np.zeros(H), W_out=np.zeros((H, V)),
               b_out=np.array([1.0, 0.0, 0.5]))  # fmt: skip
    out = call(rnn, "encoder_decoder_greedy", [1, 2], enc, dec, bos_id=2, eos_id=0, max_len=4)
    check_equal(out, [], "output ids (EOS first: nothing before it)")


@pytest.mark.exercise("stacked_rnn_forward", points=1)
def test_stacked_rnn_second_layer_reads_the_first_layers_states(rnn):
    # oracle: two layers written out by hand (H = D = 1, no recurrence): layer 0 gives tanh(0.5 x_t),
    # layer 1 reads those states, not x: tanh(2 tanh(0.5 x_t))
    x = np.array([[[1.0], [2.0]]])
    layer0 = (np.array([[0.5]]), np.array([[0.0]]), np.array([0.0]))
    layer1 = (np.array([[2.0]]), np.array([[0.0]]), np.array([0.0]))
    hs, h_last = call(rnn, "stacked_rnn_forward", x, np.zeros((2, 1, 1)), [layer0, layer1])
    h0 = np.tanh(0.5 * x)
    check_close(hs, np.tanh(2 * h0), "hs (layer 1 reads layer 0's states)", **F64, show_values=True)
    check_close(h_last, np.array([[[np.tanh(1.0)]], [[np.tanh(2 * np.tanh(1.0))]]]), "h_last (L, B, H)", **F64,
                show_values=True)  # fmt: skip


@pytest.mark.exercise("bidirectional_rnn_forward", points=1)
def test_bidirectional_backward_starts_at_the_last_real_token(rnn):
    # oracle: by hand (H = D = 1, W_x = W_h = 1, b = 0). Step 2 is padding (x = 5 there), so the
    # backward RNN reads x_1 = 1 only: out[0, 0, H:] = h_n[1] = tanh(1), never tanh(1 + tanh(5))
    x = np.array([[[1.0], [5.0]]])
    mask = np.array([[True, False]])
    one = (np.array([[1.0]]), np.array([[1.0]]), np.array([0.0]))
    out, h_n = call(rnn, "bidirectional_rnn_forward", x, np.zeros((2, 1, 1)), one, one, mask=mask)
    check_close(out[0, :, 1], np.array([np.tanh(1.0), 0.0]),
                "backward half out[..., H:] with padding (does the backward RNN read the padded steps?)", **F64,
                show_values=True)  # fmt: skip
    check_close(h_n[1, 0], np.array([np.tanh(1.0)]), "h_n[1] (backward state after the first real token)", **F64,
                show_values=True)  # fmt: skip


@pytest.mark.exercise("train_bpe", points=1)
def test_train_bpe_ties_go_to_the_smallest_pair(rnn):
    # oracle: by hand. Bytes of "abcabc": (a,b) and (b,c) both occur twice, (c,a) once; the tie goes
    # to the smallest (left id, right id): (97, 98) before (98, 99)
    merges = call(rnn, "train_bpe", "abcabc", 1)
    check_equal([tuple(m) for m in merges], [(97, 98)], "train_bpe('abcabc', 1) (ties → the smallest pair)")


@pytest.mark.exercise("rnn_forward", points=1)
def test_rnn_forward_keeps_float32(rnn):
    # oracle: the loop h_t = tanh(x_t W_x + h_{t-1} W_h + b) in float64 on the same seeded input;
    # float32 in gives hs and h_last in float32
    rng = np.random.default_rng(0)
    x, h0 = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5))
    W_x, W_h, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)
    hs, h_last = call(rnn, "rnn_forward", *[a.astype(np.float32) for a in (x, h0, W_x, W_h, b)])
    check_dtype(hs, np.float32, "hs for float32 inputs (how is hs allocated?)")
    check_dtype(h_last, np.float32, "h_last for float32 inputs")
    h, expected = h0, []
    for t in range(3):
        h = np.tanh(x[:, t] @ W_x + h @ W_h + b)
        expected.append(h)
    check_close(hs, np.stack(expected, axis=1), "hs in float32", atol=1e-5, rtol=1e-4)


@pytest.mark.exercise("lstm_step", points=1)
def test_lstm_step_keeps_float32(rnn):
    # oracle: the LSTM equations (gates i, f, g, o) in float64 on the same seeded input; float32 in
    # gives h_t and c_t in float32
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    rng = np.random.default_rng(0)
    x, h_prev, c_prev, W_x, W_h, b = [rng.normal(size=s) for s in [(2, 3), (2, 4), (2, 4), (3, 16), (4, 16), (16,)]]
    h, c = call(rnn, "lstm_step", *[a.astype(np.float32) for a in (x, h_prev, c_prev, W_x, W_h, b)])
    check_dtype(h, np.float32, "h_t for float32 inputs")
    check_dtype(c, np.float32, "c_t for float32 inputs (is the cell state computed in float64?)")
    z_i, z_f, z_g, z_o = np.split(x @ W_x + h_prev @ W_h + b, 4, axis=-1)
    c_expected = sigmoid(z_f) * c_prev + sigmoid(z_i) * np.tanh(z_g)
    check_close(c, c_expected, "c_t in float32", atol=1e-5, rtol=1e-4)
    check_close(h, sigmoid(z_o) * np.tanh(c_expected), "h_t in float32", atol=1e-5, rtol=1e-4)


@pytest.mark.exercise("rnn_generate", points=1)
def test_rnn_generate_reads_the_whole_prompt(rnn):
    # oracle: by hand, with E = W_x = W_out = I, W_h = 2 I, b = 0: after the prompt [1, 2] the state is
    # h = tanh(e_2 + 2 tanh(e_1)) = [0, tanh(2 tanh 1), tanh 1] = [0, 0.91, 0.76], so the next token is 1
    # (a model that read only the last prompt token would say 2)
    V = 3
    params = dict(E=np.eye(V), W_x=np.eye(V), W_h=2 * np.eye(V), b=np.zeros(V), W_out=np.eye(V), b_out=np.zeros(V))
    check_equal(call(rnn, "rnn_generate", [1, 2], 1, params), [1],
                "rnn_generate([1, 2], 1, ...) (does the state start from the whole prompt?)")  # fmt: skip
