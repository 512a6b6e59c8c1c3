"""Hidden tests for §37 回帰型ニューラルネットワーク (never shipped to students).

Oracles: torch.nn modules with weights mapped from the course's (in, out) layout
(``weight_ih == W_x.T``, ``weight_hh == W_h.T``, ``bias_ih == b``, ``bias_hh == 0``), run on
``pack_padded_sequence(..., enforce_sorted=False)`` for padded batches; plain loops where torch
has no built-in; chi-square tests for the sampler.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from grader.checks import TOL, check_close, check_dtype, check_equal, check_finite, check_shape, check_unchanged

DTYPES = [np.float64, np.float32]
F64 = TOL[np.dtype(np.float64)]


def rng_for(seed, k):
    return np.random.default_rng(seed + k)


def rand(rng, shape, dtype=np.float64, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def rnn_weights(rng, D, H, dtype=np.float64, gates=1):
    """(W_x (D, gates*H), W_h (H, gates*H), b (gates*H,)) with a scale that keeps tanh out of saturation."""
    return (
        rand(rng, (D, gates * H), dtype, 1 / math.sqrt(D)),
        rand(rng, (H, gates * H), dtype, 1 / math.sqrt(H)),
        rand(rng, (gates * H,), dtype, 0.5),
    )


def random_mask(rng, B, T):
    """Prefix mask (padding at the end) with lengths in [1, T] and at least one full-length row."""
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T
    return np.arange(T)[None, :] < lengths[:, None], lengths


def set_layer(module, suffix, W_x, W_h, b):
    """Copy one (in, out) layer into a torch RNN/LSTM module: weight_ih = W_x.T, bias_hh = 0."""
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(torch.from_numpy(np.ascontiguousarray(W_x.T)))
        getattr(module, f"weight_hh{suffix}").copy_(torch.from_numpy(np.ascontiguousarray(W_h.T)))
        getattr(module, f"bias_ih{suffix}").copy_(torch.from_numpy(b))
        getattr(module, f"bias_hh{suffix}").zero_()


def run_packed(module, x, lengths, *states):
    """Run a batch_first torch RNN/LSTM on the packed batch; outputs padded back to T with zeros."""
    T = x.shape[1]
    packed = pack_padded_sequence(torch.from_numpy(x), torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    states = tuple(torch.from_numpy(np.ascontiguousarray(s)) for s in states)
    with torch.no_grad():
        out, h_n = module(packed, states if len(states) > 1 else states[0])
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return out, h_n


def torch_dtype(dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


# --- image_to_vector ------------------------------------------------------------------------


@pytest.mark.exercise("image_to_vector", points=2)
def test_image_to_vector_colour_and_grey(rnn, seed):
    # oracle: numpy reshape(-1) / 255 of random (H, W, C) and (H, W) uint8 images; 0 -> 0.0, 255 -> 1.0
    rng = rng_for(seed, 1)
    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    before = image.copy()
    v = rnn.image_to_vector(image)
    check_shape(v, (105,), "image_to_vector of an (H, W, C) image")
    assert np.issubdtype(v.dtype, np.floating), "image_to_vector should return floats"
    check_close(v, image.reshape(-1) / 255.0, "image_to_vector of a colour image", rtol=1e-6, atol=1e-7)
    check_unchanged(before, image, "image")
    grey = rng.integers(0, 256, size=(6, 4), dtype=np.uint8)
    grey[0, 0], grey[-1, -1] = 0, 255
    check_close(
        rnn.image_to_vector(grey), grey.reshape(-1) / 255.0, "image_to_vector of a grey image", rtol=1e-6, atol=1e-7
    )


@pytest.mark.exercise("image_to_vector", points=1)
def test_image_to_vector_bad_input(rnn):
    # contract: wrong rank or a non-uint8 image -> ValueError naming `image`
    with pytest.raises(ValueError, match="image"):
        rnn.image_to_vector(np.zeros((2, 2, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="image"):
        rnn.image_to_vector(np.zeros((4,), dtype=np.uint8))
    with pytest.raises(ValueError, match="image"):
        rnn.image_to_vector(np.zeros((4, 4), dtype=np.float64))


# --- image_to_patches -----------------------------------------------------------------------


@pytest.mark.parametrize("shape,p", [((6, 4, 3), 2), ((9, 6, 1), 3), ((8, 8, 2), 4), ((5, 5, 3), 1)])
@pytest.mark.exercise("image_to_patches", points=0.5)
def test_image_to_patches_loop(rnn, seed, shape, p):
    # oracle: a plain loop over the patch grid, row-major; dtype kept
    rng = rng_for(seed, 3)
    image = rng.integers(0, 256, size=shape).astype(np.uint8)
    H, W, C = shape
    expected = np.array([image[r : r + p, c : c + p].reshape(-1) for r in range(0, H, p) for c in range(0, W, p)])
    patches = rnn.image_to_patches(image, p)
    check_shape(patches, (H // p * W // p, p * p * C), "patches")
    check_equal(patches, expected, "patches compared with a loop over the patch grid")
    check_dtype(patches, np.uint8, "patches of a uint8 image")


@pytest.mark.exercise("image_to_patches", points=1)
def test_image_to_patches_bad_input(rnn):
    # contract: a side not divisible by the patch, or a non-positive patch -> ValueError naming `patch`
    with pytest.raises(ValueError, match="patch"):
        rnn.image_to_patches(np.zeros((6, 5, 3)), 2)
    with pytest.raises(ValueError, match="patch"):
        rnn.image_to_patches(np.zeros((5, 6, 3)), 2)
    with pytest.raises(ValueError, match="patch"):
        rnn.image_to_patches(np.zeros((4, 4, 3)), 0)
    with pytest.raises(ValueError, match="image"):
        rnn.image_to_patches(np.zeros((4, 4)), 2)


# --- pad_sequences --------------------------------------------------------------------------


@pytest.mark.exercise("pad_sequences", points=2)
def test_pad_sequences_matches_torch(rnn, seed):
    # oracle: nn.utils.rnn.pad_sequence(batch_first=True, padding_value=pad_id)
    rng = rng_for(seed, 4)
    seqs = [rng.integers(1, 50, size=n).tolist() for n in rng.integers(1, 9, size=6)]
    pad_id = int(rng.integers(50, 60))
    expected = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=pad_id).numpy()
    lengths = np.array([len(s) for s in seqs])
    ids, mask = rnn.pad_sequences(seqs, pad_id=pad_id)
    check_dtype(ids, np.int64, "ids")
    check_dtype(mask, np.bool_, "mask")
    check_equal(ids, expected, "ids compared with torch pad_sequence")
    check_equal(mask, np.arange(expected.shape[1])[None] < lengths[:, None], "mask (True at real tokens)")


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_max_len(rnn, seed):
    # oracle: truncate to the first max_len tokens, or pad beyond the longest; an empty sequence is all padding
    rng = rng_for(seed, 5)
    seqs = [rng.integers(1, 9, size=n).tolist() for n in (5, 2, 0)]
    ids, mask = rnn.pad_sequences(seqs, max_len=3)
    check_equal(ids, np.array([seqs[0][:3], seqs[1] + [0], [0, 0, 0]]), "ids with max_len=3")
    check_equal(mask.sum(axis=1), np.array([3, 2, 0]), "number of real tokens per row with max_len=3")
    ids, mask = rnn.pad_sequences(seqs, max_len=7)
    check_shape(ids, (3, 7), "ids with max_len=7")
    check_equal(mask.sum(axis=1), np.array([5, 2, 0]), "number of real tokens per row with max_len=7")


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_bad_input(rnn):
    # contract: empty batch -> ValueError naming `seqs`; max_len < 1 -> naming `max_len`
    with pytest.raises(ValueError, match="seqs"):
        rnn.pad_sequences([])
    with pytest.raises(ValueError, match="max_len"):
        rnn.pad_sequences([[1, 2]], max_len=0)


# --- rnn_step -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("rnn_step", points=0.5)
def test_rnn_step_matches_rnn_cell(rnn, seed, dtype):
    # oracle: nn.RNNCell(nonlinearity="tanh") with weight_ih = W_x.T, bias_ih = b, bias_hh = 0
    rng = rng_for(seed, 6)
    B, D, H = 4, 5, 3
    W_x, W_h, b = rnn_weights(rng, D, H, dtype)
    x, h = rand(rng, (B, D), dtype), rand(rng, (B, H), dtype)
    cell = nn.RNNCell(D, H).to(torch_dtype(dtype))
    set_layer(cell, "", W_x, W_h, b)
    with torch.no_grad():
        expected = cell(torch.from_numpy(x), torch.from_numpy(h))
    out = rnn.rnn_step(x, h, W_x, W_h, b)
    check_dtype(out, dtype, "h_t")
    check_close(out, expected, "rnn_step compared with nn.RNNCell", **TOL[np.dtype(dtype)])


@pytest.mark.exercise("rnn_step", points=0.5)
def test_rnn_step_bad_shapes(rnn):
    # contract: wrong rank or sizes -> ValueError naming the argument
    W_x, W_h, b = np.zeros((3, 2)), np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="x_t"):
        rnn.rnn_step(np.zeros(3), np.zeros((1, 2)), W_x, W_h, b)
    with pytest.raises(ValueError, match="W_h"):
        rnn.rnn_step(np.zeros((1, 3)), np.zeros((1, 2)), W_x, np.zeros((3, 2)), b)


# --- rnn_forward ----------------------------------------------------------------------------


@pytest.mark.exercise("rnn_forward", points=2)
def test_rnn_forward_matches_packed_nn_rnn(rnn, seed):
    # oracle: nn.RNN(batch_first=True) on pack_padded_sequence(enforce_sorted=False)
    rng = rng_for(seed, 7)
    B, T, D, H = 5, 6, 4, 3
    W_x, W_h, b = rnn_weights(rng, D, H)
    x, h0 = rand(rng, (B, T, D)), rand(rng, (B, H), scale=0.5)
    mask, lengths = random_mask(rng, B, T)
    x[~mask] = rand(rng, (int((~mask).sum()), D), scale=10.0)  # garbage at padding must not matter
    before = x.copy()
    module = nn.RNN(D, H, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    out, h_n = run_packed(module, x, lengths, h0[None])
    hs, h_last = rnn.rnn_forward(x, h0, W_x, W_h, b, mask=mask)
    check_close(hs, out, "hs compared with nn.RNN on a packed batch (0 at padded steps)", **F64)
    check_close(h_last, h_n[0], "h_last compared with nn.RNN's h_n", **F64)
    check_unchanged(before, x, "x")


@pytest.mark.exercise("rnn_forward", points=1)
def test_rnn_forward_float32_no_mask(rnn, seed):
    # oracle: nn.RNN in float32 on an unpadded batch; float32 in, float32 out
    rng = rng_for(seed, 8)
    B, T, D, H = 3, 5, 2, 4
    W_x, W_h, b = rnn_weights(rng, D, H, np.float32)
    x, h0 = rand(rng, (B, T, D), np.float32), rand(rng, (B, H), np.float32)
    module = nn.RNN(D, H, batch_first=True)
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0[None]))
    hs, h_last = rnn.rnn_forward(x, h0, W_x, W_h, b)
    check_dtype(hs, np.float32, "hs")
    check_close(hs, out, "hs compared with nn.RNN (float32)", **TOL[np.dtype(np.float32)])
    check_close(h_last, h_n[0], "h_last compared with nn.RNN (float32)", **TOL[np.dtype(np.float32)])


@pytest.mark.exercise("rnn_forward", points=1)
def test_rnn_forward_bad_input(rnn):
    # contract: mask of the wrong shape, an empty or ragged batch, wrong rank -> ValueError naming the argument
    W_x, W_h, b = np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="mask"):
        rnn.rnn_forward(np.zeros((2, 4, 2)), np.zeros((2, 3)), W_x, W_h, b, mask=np.ones((4, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"\bx\b"):
        rnn.rnn_forward(np.zeros((0, 4, 2)), np.zeros((0, 3)), W_x, W_h, b)
    with pytest.raises(ValueError, match=r"\bx\b"):
        rnn.rnn_forward(np.zeros((4, 2)), np.zeros((4, 3)), W_x, W_h, b)
    with pytest.raises(ValueError, match=r"\bx\b"):
        rnn.rnn_forward([np.zeros((4, 2)), np.zeros((3, 2))], np.zeros((2, 3)), W_x, W_h, b)


# --- stacked_rnn_forward --------------------------------------------------------------------


@pytest.mark.exercise("stacked_rnn_forward", points=2)
def test_stacked_rnn_matches_nn_rnn_num_layers(rnn, seed):
    # oracle: nn.RNN(num_layers=3) on a packed batch
    rng = rng_for(seed, 9)
    B, T, D, H, L = 4, 5, 3, 4, 3
    layers = [rnn_weights(rng, D if l == 0 else H, H) for l in range(L)]
    x, h0 = rand(rng, (B, T, D)), rand(rng, (L, B, H), scale=0.5)
    mask, lengths = random_mask(rng, B, T)
    module = nn.RNN(D, H, num_layers=L, batch_first=True).double()
    for l, layer in enumerate(layers):
        set_layer(module, f"_l{l}", *layer)
    out, h_n = run_packed(module, x, lengths, h0)
    hs, h_last = rnn.stacked_rnn_forward(x, h0, layers, mask=mask)
    check_close(hs, out, "hs of the last layer compared with nn.RNN(num_layers=3)", **F64)
    check_close(h_last, h_n, "h_last (L, B, H) compared with nn.RNN(num_layers=3)", **F64)


@pytest.mark.exercise("stacked_rnn_forward", points=1)
def test_stacked_rnn_square_layers_float32(rnn, seed):
    # oracle: nn.RNN(num_layers=2) in float32 with D == H (so feeding x to every layer would still run)
    rng = rng_for(seed, 24)
    B, T, H, L = 3, 4, 5, 2
    layers = [rnn_weights(rng, H, H, np.float32) for _ in range(L)]
    x, h0 = rand(rng, (B, T, H), np.float32), rand(rng, (L, B, H), np.float32, 0.5)
    module = nn.RNN(H, H, num_layers=L, batch_first=True)
    for l, layer in enumerate(layers):
        set_layer(module, f"_l{l}", *layer)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0))
    hs, h_last = rnn.stacked_rnn_forward(x, h0, layers)
    check_close(hs, out, "hs compared with nn.RNN(num_layers=2), D == H, float32", **TOL[np.dtype(np.float32)])
    check_close(h_last, h_n, "h_last compared with nn.RNN(num_layers=2), float32", **TOL[np.dtype(np.float32)])


@pytest.mark.exercise("stacked_rnn_forward", points=0.5)
def test_stacked_rnn_layers_must_match_h0(rnn, seed):
    # contract: len(layers) != h0.shape[0] or no layers -> ValueError naming `layers`
    rng = rng_for(seed, 10)
    layer = rnn_weights(rng, 2, 2)
    with pytest.raises(ValueError, match="layers"):
        rnn.stacked_rnn_forward(np.zeros((1, 3, 2)), np.zeros((2, 1, 2)), [layer])
    with pytest.raises(ValueError, match="layers"):
        rnn.stacked_rnn_forward(np.zeros((1, 3, 2)), np.zeros((0, 1, 2)), [])


# --- bidirectional_rnn_forward --------------------------------------------------------------


def _bidirectional_case(rng, B, T, D, H):
    fwd, bwd = rnn_weights(rng, D, H), rnn_weights(rng, D, H)
    x, h0 = rand(rng, (B, T, D)), rand(rng, (2, B, H), scale=0.5)
    module = nn.RNN(D, H, batch_first=True, bidirectional=True).double()
    set_layer(module, "_l0", *fwd)
    set_layer(module, "_l0_reverse", *bwd)
    return fwd, bwd, x, h0, module


@pytest.mark.exercise("bidirectional_rnn_forward", points=2)
def test_bidirectional_matches_packed_nn_rnn(rnn, seed):
    # oracle: nn.RNN(bidirectional=True) on pack_padded_sequence(enforce_sorted=False): the backward
    # direction starts at each sequence's last real token
    rng = rng_for(seed, 11)
    B, T, D, H = 5, 7, 3, 4
    fwd, bwd, x, h0, module = _bidirectional_case(rng, B, T, D, H)
    mask, lengths = random_mask(rng, B, T)
    lengths[0], mask[0] = T - 3, np.arange(T) < T - 3  # at least one sequence with 3 padded steps
    out, h_n = run_packed(module, x, lengths, h0)
    got, got_h = rnn.bidirectional_rnn_forward(x, h0, fwd, bwd, mask=mask)
    check_shape(got, (B, T, 2 * H), "out")
    check_close(got[..., :H], out[..., :H], "forward half out[..., :H] compared with nn.RNN", **F64)
    check_close(got[..., H:], out[..., H:], "backward half out[..., H:] compared with nn.RNN (packed)", **F64)
    check_close(got_h, h_n, "h_n (2, B, H) compared with nn.RNN (packed)", **F64)


@pytest.mark.exercise("bidirectional_rnn_forward", points=1)
def test_bidirectional_without_mask(rnn, seed):
    # oracle: nn.RNN(bidirectional=True) on an unpadded batch
    rng = rng_for(seed, 12)
    fwd, bwd, x, h0, module = _bidirectional_case(rng, 2, 4, 3, 2)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0))
    got, got_h = rnn.bidirectional_rnn_forward(x, h0, fwd, bwd)
    check_close(got, out, "out compared with nn.RNN(bidirectional=True)", **F64)
    check_close(got_h, h_n, "h_n compared with nn.RNN(bidirectional=True)", **F64)


@pytest.mark.exercise("bidirectional_rnn_forward", points=0.5)
def test_bidirectional_bad_h0(rnn, seed):
    # contract: h0 that is not (2, B, H) -> ValueError naming `h0`
    rng = rng_for(seed, 13)
    fwd, bwd = rnn_weights(rng, 3, 2), rnn_weights(rng, 3, 2)
    with pytest.raises(ValueError, match="h0"):
        rnn.bidirectional_rnn_forward(np.zeros((1, 4, 3)), np.zeros((1, 2)), fwd, bwd)


# --- lstm_step ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.exercise("lstm_step", points=0.5)
def test_lstm_step_matches_lstm_cell(rnn, seed, dtype):
    # oracle: nn.LSTMCell (gate order i, f, g, o) with weight_ih = W_x.T, bias_ih = b, bias_hh = 0
    rng = rng_for(seed, 14)
    B, D, H = 3, 4, 5
    W_x, W_h, b = rnn_weights(rng, D, H, dtype, gates=4)
    x, h, c = rand(rng, (B, D), dtype), rand(rng, (B, H), dtype), rand(rng, (B, H), dtype)
    cell = nn.LSTMCell(D, H).to(torch_dtype(dtype))
    set_layer(cell, "", W_x, W_h, b)
    with torch.no_grad():
        h_exp, c_exp = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    h_t, c_t = rnn.lstm_step(x, h, c, W_x, W_h, b)
    check_dtype(h_t, dtype, "h_t")
    check_close(h_t, h_exp, "h_t compared with nn.LSTMCell", **TOL[np.dtype(dtype)])
    check_close(c_t, c_exp, "c_t compared with nn.LSTMCell", **TOL[np.dtype(dtype)])


@pytest.mark.exercise("lstm_step", points=1)
def test_lstm_step_saturates_without_overflow(rnn):
    # property: gates saturate to 0/1 for |z| = 1000, results stay finite (no overflow in exp)
    H = 2
    b = np.concatenate([np.full(H, 1000.0), np.full(H, -1000.0), np.full(H, 1000.0), np.full(H, 1000.0)])
    h, c = rnn.lstm_step(np.zeros((1, 1)), np.zeros((1, H)), np.full((1, H), 5.0), np.zeros((1, 4 * H)),
                         np.zeros((H, 4 * H)), b)  # fmt: skip
    check_finite(h, "h_t")
    # i = 1, f = 0, g = 1, o = 1: c = 1, h = tanh(1)
    check_close(c, np.ones((1, H)), "c_t with saturated gates", **F64)
    check_close(h, np.full((1, H), np.tanh(1.0)), "h_t with saturated gates", **F64)


@pytest.mark.exercise("lstm_step", points=0.5)
def test_lstm_step_bad_shapes(rnn):
    # contract: wrong sizes -> ValueError naming the argument
    with pytest.raises(ValueError, match="W_h"):
        rnn.lstm_step(np.zeros((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((3, 8)), np.zeros((2, 2)),
                      np.zeros(8))  # fmt: skip
    with pytest.raises(ValueError, match="c_prev"):
        rnn.lstm_step(np.zeros((1, 3)), np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((3, 8)), np.zeros((2, 8)),
                      np.zeros(8))  # fmt: skip


# --- lstm_forward ---------------------------------------------------------------------------


@pytest.mark.exercise("lstm_forward", points=2)
def test_lstm_forward_matches_packed_nn_lstm(rnn, seed):
    # oracle: nn.LSTM(batch_first=True) on pack_padded_sequence(enforce_sorted=False)
    rng = rng_for(seed, 15)
    B, T, D, H = 4, 6, 3, 5
    W_x, W_h, b = rnn_weights(rng, D, H, gates=4)
    x, h0, c0 = rand(rng, (B, T, D)), rand(rng, (B, H), scale=0.5), rand(rng, (B, H), scale=0.5)
    mask, lengths = random_mask(rng, B, T)
    module = nn.LSTM(D, H, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    out, (h_n, c_n) = run_packed(module, x, lengths, h0[None], c0[None])
    hs, (h_last, c_last) = rnn.lstm_forward(x, h0, c0, W_x, W_h, b, mask=mask)
    check_close(hs, out, "hs compared with nn.LSTM on a packed batch", **F64)
    check_close(h_last, h_n[0], "h_last compared with nn.LSTM", **F64)
    check_close(c_last, c_n[0], "c_last compared with nn.LSTM", **F64)


@pytest.mark.exercise("lstm_forward", points=0.5)
def test_lstm_forward_bad_mask(rnn):
    # contract: mask of the wrong shape -> ValueError naming `mask`
    with pytest.raises(ValueError, match="mask"):
        rnn.lstm_forward(np.zeros((2, 3, 1)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((1, 8)), np.zeros((2, 8)),
                         np.zeros(8), mask=np.ones((2, 4), dtype=bool))  # fmt: skip


# --- sample_next_token ----------------------------------------------------------------------

# Chi-square goodness of fit: n draws (one per seed; seeds seed+offset+k give independent PCG64
# streams), statistic X^2 = sum (observed - n p)^2 / (n p), df = (number of categories) - 1.
# Critical values for a false-alarm probability of about 1e-6 per test, so that a correct sampler
# passes for any grading seed. For even df the chi-square tail has a closed form:
#   df = 2: P(X^2 > x) = exp(-x/2)               -> x = 2 ln(1e6)            = 27.63
#   df = 4: P(X^2 > x) = exp(-x/2) (1 + x/2)     -> x = 33.4 gives 9.9e-7
# Every expected count n p is >= 20 (well above the usual 5), so the chi-square approximation holds.
CHI2_CRIT = {2: 27.63, 4: 33.4}
N_DRAWS = 1500


def chi_square(samples, probs):
    counts = np.bincount(samples, minlength=len(probs)).astype(np.float64)
    expected = len(samples) * probs
    return float(((counts - expected) ** 2 / expected).sum())


def draws(rnn, logits, n, base, **kwargs):
    out = [rnn.sample_next_token(logits, seed=base + k, **kwargs) for k in range(n)]
    for token in out[:3]:
        assert isinstance(token, (int, np.integer)) and not isinstance(token, bool), (
            "sample_next_token should return an int"
        )
    out = np.array(out, dtype=np.int64)
    assert ((out >= 0) & (out < len(logits))).all(), "a sampled token id lies outside [0, V)"
    return out


def softmax_oracle(logits, temperature):
    return torch.softmax(torch.tensor(logits, dtype=torch.float64) / temperature, dim=0).numpy()


@pytest.mark.exercise("sample_next_token", points=1)
def test_sampling_frequencies_temperature_1(rnn, seed):
    # oracle: torch.softmax(logits); chi-square with df = 4 (see CHI2_CRIT)
    probs = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    logits = np.log(probs) + 3.0
    samples = draws(rnn, logits, N_DRAWS, seed * 7919 + 100_000)
    stat = chi_square(samples, softmax_oracle(logits, 1.0))
    assert stat < CHI2_CRIT[4], (
        f"the token frequencies do not follow softmax(logits) (chi-square {stat:.1f} > {CHI2_CRIT[4]} over {N_DRAWS} seeds)"
    )


@pytest.mark.exercise("sample_next_token", points=1)
def test_sampling_frequencies_temperature_half(rnn, seed):
    # oracle: torch.softmax(logits / 0.5); a temperature applied after the softmax fails here
    logits = np.array([0.6, 0.3, 0.1, -0.2, -0.5])
    samples = draws(rnn, logits, N_DRAWS, seed * 7919 + 200_000, temperature=0.5)
    probs = softmax_oracle(logits, 0.5)
    assert (N_DRAWS * probs).min() >= 20, "test design: every expected count is at least 20"
    stat = chi_square(samples, probs)
    assert stat < CHI2_CRIT[4], (
        f"with temperature 0.5 the token frequencies do not follow softmax(logits / temperature) "
        f"(chi-square {stat:.1f} > {CHI2_CRIT[4]})"
    )


@pytest.mark.exercise("sample_next_token", points=1)
def test_sampling_frequencies_top_k(rnn, seed):
    # oracle: softmax over the 3 largest logits at temperature 2; chi-square with df = 2
    logits = np.array([0.3, 2.0, -1.0, 1.2, 0.1, 1.5, -0.2, 0.0])
    top = np.array([1, 5, 3])
    samples = draws(rnn, logits, N_DRAWS, seed * 7919 + 300_000, temperature=2.0, top_k=3)
    assert np.isin(samples, top).all(), "a token outside the top_k largest logits was sampled"
    probs = softmax_oracle(logits[top], 2.0)
    stat = chi_square(np.searchsorted(np.sort(top), samples), probs[np.argsort(top)])
    assert stat < CHI2_CRIT[2], (
        f"top-k sampling frequencies do not follow the renormalised softmax (chi-square {stat:.1f})"
    )


@pytest.mark.exercise("sample_next_token", points=1)
def test_top_k_is_never_violated(rnn, seed):
    # property: with top_k = 2 only the two largest logits are ever drawn, even at a high temperature
    rng = rng_for(seed, 16)
    for k in range(200):
        logits = rng.standard_normal(12)
        token = rnn.sample_next_token(logits, temperature=5.0, top_k=2, seed=seed + k)
        assert int(token) in set(np.argsort(-logits)[:2].tolist()), "a token outside the top_k largest was sampled"


@pytest.mark.exercise("sample_next_token", points=1)
def test_temperature_zero_is_argmax(rnn, seed):
    # oracle: np.argmax (lowest index on ties), whatever the seed and top_k
    rng = rng_for(seed, 17)
    for k in range(20):
        logits = rng.standard_normal(9)
        check_equal(rnn.sample_next_token(logits, temperature=0, seed=k), int(np.argmax(logits)), "greedy token")
    tied = np.array([0.0, 2.0, 1.0, 2.0])
    check_equal(rnn.sample_next_token(tied, temperature=0.0, seed=3), 1, "greedy token with a tie")


@pytest.mark.exercise("sample_next_token", points=1)
def test_sample_next_token_bad_input(rnn):
    # contract: ValueError naming the argument
    with pytest.raises(ValueError, match="logits"):
        rnn.sample_next_token(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="temperature"):
        rnn.sample_next_token(np.zeros(3), temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        rnn.sample_next_token(np.zeros(3), top_k=0)


# --- rnn_generate ---------------------------------------------------------------------------


def lm_params(rng, V, D, H):
    W_x, W_h, b = rnn_weights(rng, D, H)
    return dict(
        E=rand(rng, (V, D)), W_x=W_x, W_h=3 * W_h, b=b, W_out=rand(rng, (H, V), scale=2.0), b_out=rand(rng, (V,))
    )


def greedy_lm_loop(prompt, n_new, p):
    """Plain-loop oracle of greedy generation."""
    h = np.zeros(p["W_h"].shape[0])
    for i in prompt:
        h = np.tanh(p["E"][i] @ p["W_x"] + h @ p["W_h"] + p["b"])
    out = []
    for _ in range(n_new):
        y = int(np.argmax(h @ p["W_out"] + p["b_out"]))
        out.append(y)
        h = np.tanh(p["E"][y] @ p["W_x"] + h @ p["W_h"] + p["b"])
    return out


@pytest.mark.exercise("rnn_generate", points=2)
def test_rnn_generate_greedy_matches_loop(rnn, rnn_ref, seed):
    # oracle: a plain greedy loop, and the reference solution
    rng = rng_for(seed, 18)
    params = lm_params(rng, 11, 4, 6)
    prompt = rng.integers(0, 11, size=3).tolist()
    expected = greedy_lm_loop(prompt, 8, params)
    assert rnn_ref.rnn_generate(prompt, 8, params) == expected
    check_equal(rnn.rnn_generate(prompt, 8, params), expected, "greedy continuation")


@pytest.mark.exercise("rnn_generate", points=1)
def test_rnn_generate_sampling_is_seeded(rnn, seed):
    # property: n_new ids in [0, V), the same seed gives the same ids
    rng = rng_for(seed, 19)
    params = lm_params(rng, 9, 3, 5)
    a = rnn.rnn_generate([1, 2], 10, params, temperature=1.0, seed=seed + 5)
    b = rnn.rnn_generate([1, 2], 10, params, temperature=1.0, seed=seed + 5)
    assert isinstance(a, list) and len(a) == 10, "rnn_generate should return a list of n_new ids"
    assert all(0 <= int(t) < 9 for t in a), "a generated id lies outside [0, V)"
    check_equal([int(t) for t in b], [int(t) for t in a], "a second call with the same seed")


@pytest.mark.exercise("rnn_generate", points=1)
def test_rnn_generate_edge_cases(rnn, seed):
    # contract: n_new = 0 gives []; an empty prompt -> ValueError naming `prompt`
    params = lm_params(rng_for(seed, 20), 5, 2, 3)
    check_equal(rnn.rnn_generate([1], 0, params), [], "rnn_generate with n_new=0")
    with pytest.raises(ValueError, match="prompt"):
        rnn.rnn_generate([], 3, params)


# --- encoder_decoder_greedy -----------------------------------------------------------------


def seq2seq_params(rng, V_src, V_tgt, D, H):
    W_x, W_h, b = rnn_weights(rng, D, H)
    enc = dict(E=rand(rng, (V_src, D)), W_x=W_x, W_h=2 * W_h, b=b)
    W_x, W_h, b = rnn_weights(rng, D, H)
    dec = dict(E=rand(rng, (V_tgt, D)), W_x=W_x, W_h=2 * W_h, b=b, W_out=rand(rng, (H, V_tgt), scale=2.0),
               b_out=rand(rng, (V_tgt,)))  # fmt: skip
    return enc, dec


def seq2seq_loop(src, enc, dec, bos, n):
    """Plain-loop oracle: the first n greedy ids of the decoder, ignoring EOS."""
    h = np.zeros(enc["W_h"].shape[0])
    for i in src:
        h = np.tanh(enc["E"][i] @ enc["W_x"] + h @ enc["W_h"] + enc["b"])
    y, out = bos, []
    for _ in range(n):
        h = np.tanh(dec["E"][y] @ dec["W_x"] + h @ dec["W_h"] + dec["b"])
        y = int(np.argmax(h @ dec["W_out"] + dec["b_out"]))
        out.append(y)
    return out


@pytest.mark.exercise("encoder_decoder_greedy", points=2)
def test_encoder_decoder_stops_before_eos(rnn, seed):
    # oracle: plain loop; EOS is chosen as a token the greedy path really produces
    rng = rng_for(seed, 21)
    for k in range(3):
        enc, dec = seq2seq_params(rng, 8, 9, 4, 6)
        src = rng.integers(0, 8, size=int(rng.integers(2, 6))).tolist()
        path = seq2seq_loop(src, enc, dec, bos=0, n=10)
        j = max(i for i in range(len(path)) if path[i] not in path[:i])  # last first-occurrence
        eos = path[j]
        check_equal(rnn.encoder_decoder_greedy(src, enc, dec, 0, eos, 10), path[:j], f"output ids (case {k})")


@pytest.mark.exercise("encoder_decoder_greedy", points=1)
def test_encoder_decoder_max_len(rnn, seed):
    # oracle: plain loop; with an EOS the path never produces, the output has exactly max_len ids
    rng = rng_for(seed, 22)
    enc, dec = seq2seq_params(rng, 6, 7, 3, 5)
    src = [1, 4, 2]
    path = seq2seq_loop(src, enc, dec, bos=1, n=5)
    eos = next(t for t in range(7) if t not in path)  # 5 ids of 7 possible: some id never appears
    check_equal(rnn.encoder_decoder_greedy(src, enc, dec, 1, eos, 5), path, "output ids when EOS never comes")


@pytest.mark.exercise("encoder_decoder_greedy", points=1)
def test_encoder_decoder_bad_input(rnn, seed):
    # contract: empty src -> ValueError naming `src`; max_len < 1 -> naming `max_len`
    enc, dec = seq2seq_params(rng_for(seed, 23), 4, 4, 2, 3)
    with pytest.raises(ValueError, match="src"):
        rnn.encoder_decoder_greedy([], enc, dec, 0, 1, 5)
    with pytest.raises(ValueError, match="max_len"):
        rnn.encoder_decoder_greedy([1, 2], enc, dec, 0, 1, 0)
