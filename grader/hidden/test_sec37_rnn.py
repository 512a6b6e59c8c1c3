"""Hidden tests for §37 回帰型ニューラルネットワーク (never shipped to students).

Oracles: torch.nn modules with weights mapped from the course's (in, out) layout
(``weight_ih == W_x.T``, ``weight_hh == W_h.T``, ``bias_ih == b``, ``bias_hh == 0``), run on
``pack_padded_sequence(..., enforce_sorted=False)`` for padded batches; plain loops where torch
has no built-in; chi-square tests for the sampler.
"""

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from grader.calls import call, call_each, call_exercise
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
    v = call(rnn, "image_to_vector", image)
    check_shape(v, (105,), "image_to_vector of an (H, W, C) image")
    assert np.issubdtype(v.dtype, np.floating), "image_to_vector should return floats"
    check_close(v, image.reshape(-1) / 255.0, "image_to_vector of a colour image", rtol=1e-6, atol=1e-7)
    check_unchanged(before, image, "image")
    grey = rng.integers(0, 256, size=(6, 4), dtype=np.uint8)
    grey[0, 0], grey[-1, -1] = 0, 255
    check_close(
        call(rnn, "image_to_vector", grey),
        grey.reshape(-1) / 255.0,
        "image_to_vector of a grey image",
        rtol=1e-6,
        atol=1e-7,
    )


@pytest.mark.exercise("image_to_vector", points=1, needs_core=True)
def test_image_to_vector_bad_input(rnn):
    # contract: wrong rank or a non-uint8 image -> ValueError naming `image`
    with pytest.raises(ValueError, match="image"):
        call(rnn, "image_to_vector", np.zeros((2, 2, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="image"):
        call(rnn, "image_to_vector", np.zeros((4,), dtype=np.uint8))
    with pytest.raises(ValueError, match="image"):
        call(rnn, "image_to_vector", np.zeros((4, 4), dtype=np.float64))


@pytest.mark.exercise("image_to_vector", points=1, needs_core=True)
def test_image_to_vector_returns_float64(rnn, seed):
    # contract: the vector is float64 (not float32), 0 -> 0.0 and 255 -> 1.0 exactly
    rng = rng_for(seed, 25)
    image = rng.integers(0, 256, size=(3, 4, 2), dtype=np.uint8)
    image[0, 0, 0], image[-1, -1, -1] = 0, 255
    v = call(rnn, "image_to_vector", image)
    check_dtype(v, np.float64, "image_to_vector(image)")
    check_close(v, image.reshape(-1) / 255.0, "image_to_vector in float64", **F64)


# --- image_to_patches -----------------------------------------------------------------------


@pytest.mark.parametrize("shape,p", [((6, 4, 3), 2), ((9, 6, 1), 3), ((8, 8, 2), 4), ((5, 5, 3), 1)])
@pytest.mark.exercise("image_to_patches", points=0.5)
def test_image_to_patches_loop(rnn, seed, shape, p):
    # oracle: a plain loop over the patch grid, row-major; dtype kept
    rng = rng_for(seed, 3)
    image = rng.integers(0, 256, size=shape).astype(np.uint8)
    H, W, C = shape
    expected = np.array([image[r : r + p, c : c + p].reshape(-1) for r in range(0, H, p) for c in range(0, W, p)])
    # the contract keeps the image's dtype (uint8 here), so the int64 rule of `call` does not apply
    patches = call_exercise(rnn, "image_to_patches", (image, p), check_dtypes=False)
    check_shape(patches, (H // p * W // p, p * p * C), "patches")
    check_equal(patches, expected, "patches compared with a loop over the patch grid")
    check_dtype(patches, np.uint8, "patches of a uint8 image")


@pytest.mark.exercise("image_to_patches", points=1, needs_core=True)
def test_image_to_patches_bad_input(rnn):
    # contract: a side not divisible by the patch, or a non-positive patch -> ValueError naming `patch`
    with pytest.raises(ValueError, match="patch"):
        call(rnn, "image_to_patches", np.zeros((6, 5, 3)), 2)
    with pytest.raises(ValueError, match="patch"):
        call(rnn, "image_to_patches", np.zeros((5, 6, 3)), 2)
    with pytest.raises(ValueError, match="patch"):
        call(rnn, "image_to_patches", np.zeros((4, 4, 3)), 0)
    with pytest.raises(ValueError, match="image"):
        call(rnn, "image_to_patches", np.zeros((4, 4)), 2)


@pytest.mark.exercise("image_to_patches", points=1)
def test_image_to_patches_keeps_float32(rnn, seed):
    # oracle: the loop over the patch grid on a float32 image; float32 in, float32 out
    rng = rng_for(seed, 26)
    image = rand(rng, (6, 9, 2), np.float32)
    expected = np.array([image[r : r + 3, c : c + 3].reshape(-1) for r in range(0, 6, 3) for c in range(0, 9, 3)])
    patches = call(rnn, "image_to_patches", image, 3)
    check_dtype(patches, np.float32, "patches of a float32 image")
    check_equal(patches, expected, "patches of a float32 image compared with a loop")


@pytest.mark.exercise("image_to_patches", points=0.5, needs_core=True)
def test_image_to_patches_patch_must_be_a_positive_int(rnn):
    # contract: a negative or a non-integer patch -> ValueError naming `patch`
    image = np.zeros((4, 4, 1))
    with pytest.raises(ValueError, match="patch"):
        call(rnn, "image_to_patches", image, -2)
    with pytest.raises(ValueError, match="patch"):
        call(rnn, "image_to_patches", image, 2.0)


@pytest.mark.exercise("image_to_patches", points=0.5, needs_core=True)
def test_image_to_patches_patch_is_an_int(rnn):
    # contract: a bool or a float patch -> ValueError naming `patch` (True is not the int 1);
    # a NumPy integer is an int (oracle: the same patches as with the Python int)
    image = np.arange(16.0).reshape(4, 4, 1)
    for bad in (True, 2.5):
        with pytest.raises(ValueError, match="patch"):
            call(rnn, "image_to_patches", image, bad)
    expected = call(rnn, "image_to_patches", image, 2)
    check_equal(call(rnn, "image_to_patches", image, np.int64(2)), expected, "patches with patch=np.int64(2)")


# --- pad_sequences --------------------------------------------------------------------------


@pytest.mark.exercise("pad_sequences", points=2)
def test_pad_sequences_matches_torch(rnn, seed):
    # oracle: nn.utils.call(rnn, "pad_sequence", batch_first=True, padding_value=pad_id)
    rng = rng_for(seed, 4)
    seqs = [rng.integers(1, 50, size=n).tolist() for n in rng.integers(1, 9, size=6)]
    pad_id = int(rng.integers(50, 60))
    expected = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=pad_id).numpy()
    lengths = np.array([len(s) for s in seqs])
    ids, mask = call(rnn, "pad_sequences", seqs, pad_id=pad_id)
    check_dtype(ids, np.int64, "ids")
    check_dtype(mask, np.bool_, "mask")
    check_equal(ids, expected, "ids compared with torch pad_sequence")
    check_equal(mask, np.arange(expected.shape[1])[None] < lengths[:, None], "mask (True at real tokens)")


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_max_len(rnn, seed):
    # oracle: truncate to the first max_len tokens, or pad beyond the longest; an empty sequence is all padding
    rng = rng_for(seed, 5)
    seqs = [rng.integers(1, 9, size=n).tolist() for n in (5, 2, 0)]
    ids, mask = call(rnn, "pad_sequences", seqs, max_len=3)
    check_equal(ids, np.array([seqs[0][:3], seqs[1] + [0], [0, 0, 0]]), "ids with max_len=3")
    check_equal(mask.sum(axis=1), np.array([3, 2, 0]), "number of real tokens per row with max_len=3")
    ids, mask = call(rnn, "pad_sequences", seqs, max_len=7)
    check_shape(ids, (3, 7), "ids with max_len=7")
    check_equal(mask.sum(axis=1), np.array([5, 2, 0]), "number of real tokens per row with max_len=7")


@pytest.mark.exercise("pad_sequences", points=1, needs_core=True)
def test_pad_sequences_bad_input(rnn):
    # contract: empty batch -> ValueError naming `seqs`; max_len < 1 -> naming `max_len`
    with pytest.raises(ValueError, match="seqs"):
        call(rnn, "pad_sequences", [])
    with pytest.raises(ValueError, match="max_len"):
        call(rnn, "pad_sequences", [[1, 2]], max_len=0)


@pytest.mark.exercise("pad_sequences", points=1)
def test_pad_sequences_accepts_arrays(rnn, seed):
    # oracle: torch pad_sequence; sequences given as 1-D int32 arrays still give int64 ids
    rng = rng_for(seed, 27)
    seqs = [rng.integers(0, 30, size=n).astype(np.int32) for n in (3, 6, 1)]
    expected = pad_sequence([torch.from_numpy(s.astype(np.int64)) for s in seqs], batch_first=True, padding_value=-1)
    ids, mask = call(rnn, "pad_sequences", seqs, pad_id=-1)
    check_dtype(ids, np.int64, "ids of int32 sequences")
    check_equal(ids, expected.numpy(), "ids compared with torch pad_sequence (pad_id=-1)")
    check_equal(mask, np.arange(6)[None] < np.array([3, 6, 1])[:, None], "mask")


@pytest.mark.exercise("pad_sequences", points=0.5, needs_core=True)
def test_pad_sequences_all_empty(rnn):
    # contract: T is the longest length, here 0: ids and mask of shape (B, 0)
    ids, mask = call(rnn, "pad_sequences", [[], []])
    check_shape(ids, (2, 0), "ids of two empty sequences")
    check_shape(mask, (2, 0), "mask of two empty sequences")
    check_dtype(ids, np.int64, "ids")
    check_dtype(mask, np.bool_, "mask")


@pytest.mark.exercise("pad_sequences", points=0.5, needs_core=True)
def test_pad_sequences_rejects_non_int_sequences(rnn):
    # contract: a sequence that is not a flat list of ints -> ValueError naming `seqs`; max_len
    # that is not an int >= 1 -> naming `max_len`
    with pytest.raises(ValueError, match="seqs"):
        call(rnn, "pad_sequences", [[1, 2], [1.5, 2.0]])
    with pytest.raises(ValueError, match="seqs"):
        call(rnn, "pad_sequences", [[[1, 2], [3, 4]]])
    with pytest.raises(ValueError, match="max_len"):
        call(rnn, "pad_sequences", [[1, 2]], max_len=-3)


@pytest.mark.exercise("pad_sequences", points=0.5, needs_core=True)
def test_pad_sequences_boundaries(rnn):
    # contract: max_len = 1 is allowed (the first token of each row); a ragged nested sequence is not
    # a flat list of ints -> ValueError naming `seqs`
    ids, mask = call(rnn, "pad_sequences", [[4, 5, 6], [], [7]], max_len=1)
    check_equal(ids, np.array([[4], [0], [7]]), "ids with max_len=1")
    check_equal(mask, np.array([[True], [False], [True]]), "mask with max_len=1")
    with pytest.raises(ValueError, match="seqs"):
        call(rnn, "pad_sequences", [[1, [2, 3]]])


@pytest.mark.exercise("pad_sequences", points=0.5, needs_core=True)
def test_pad_sequences_max_len_is_an_int(rnn):
    # contract: max_len = 2.5 or True -> ValueError naming `max_len` (True is not the int 1);
    # a NumPy integer is an int (oracle: the same batch as with the Python int)
    seqs = [[5, 6, 7], [8]]
    for bad in (2.5, True):
        with pytest.raises(ValueError, match="max_len"):
            call(rnn, "pad_sequences", seqs, max_len=bad)
    ids, mask = call(rnn, "pad_sequences", seqs, max_len=2)
    ids_np, mask_np = call(rnn, "pad_sequences", seqs, max_len=np.int64(2))
    check_equal(ids_np, ids, "ids with max_len=np.int64(2)")
    check_equal(mask_np, mask, "mask with max_len=np.int64(2)")


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
    out = call(rnn, "rnn_step", x, h, W_x, W_h, b)
    check_dtype(out, dtype, "h_t")
    check_close(out, expected, "rnn_step compared with nn.RNNCell", **TOL[np.dtype(dtype)])


@pytest.mark.exercise("rnn_step", points=0.5, needs_core=True)
def test_rnn_step_bad_shapes(rnn):
    # contract: wrong rank or sizes -> ValueError naming the argument
    W_x, W_h, b = np.zeros((3, 2)), np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="x_t"):
        call(rnn, "rnn_step", np.zeros(3), np.zeros((1, 2)), W_x, W_h, b)
    with pytest.raises(ValueError, match="W_h"):
        call(rnn, "rnn_step", np.zeros((1, 3)), np.zeros((1, 2)), W_x, np.zeros((3, 2)), b)


@pytest.mark.exercise("rnn_step", points=0.5, needs_core=True)
def test_rnn_step_bad_state_and_bias(rnn):
    # contract: h_prev, b or W_x of sizes that do not fit -> ValueError naming the argument
    x, W_x, W_h = np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((4, 4))
    with pytest.raises(ValueError, match="h_prev"):
        call(rnn, "rnn_step", x, np.zeros((2, 3)), W_x, W_h, np.zeros(4))
    with pytest.raises(ValueError, match=r"\bb\b"):
        call(rnn, "rnn_step", x, np.zeros((2, 4)), W_x, W_h, np.zeros(3))
    with pytest.raises(ValueError, match="W_x"):
        call(rnn, "rnn_step", x, np.zeros((2, 4)), np.zeros((2, 4)), W_h, np.zeros(4))


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
    hs, h_last = call(rnn, "rnn_forward", x, h0, W_x, W_h, b, mask=mask)
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
    hs, h_last = call(rnn, "rnn_forward", x, h0, W_x, W_h, b)
    check_dtype(hs, np.float32, "hs")
    check_close(hs, out, "hs compared with nn.RNN (float32)", **TOL[np.dtype(np.float32)])
    check_close(h_last, h_n[0], "h_last compared with nn.RNN (float32)", **TOL[np.dtype(np.float32)])


@pytest.mark.exercise("rnn_forward", points=1, needs_core=True)
def test_rnn_forward_bad_input(rnn):
    # contract: mask of the wrong shape, an empty batch, wrong rank -> ValueError naming the argument
    W_x, W_h, b = np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="mask"):
        call(rnn, "rnn_forward", np.zeros((2, 4, 2)), np.zeros((2, 3)), W_x, W_h, b, mask=np.ones((4, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "rnn_forward", np.zeros((0, 4, 2)), np.zeros((0, 3)), W_x, W_h, b)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "rnn_forward", np.zeros((4, 2)), np.zeros((4, 3)), W_x, W_h, b)


@pytest.mark.exercise("rnn_forward", points=1)
def test_rnn_forward_h0_none_is_zeros(rnn, seed):
    # oracle: nn.RNN started from zeros (h0=None means a zero initial state)
    rng = rng_for(seed, 28)
    B, T, D, H = 3, 4, 2, 5
    W_x, W_h, b = rnn_weights(rng, D, H)
    x = rand(rng, (B, T, D))
    module = nn.RNN(D, H, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x))
    hs, h_last = call(rnn, "rnn_forward", x, None, W_x, W_h, b)
    check_close(hs, out, "hs with h0=None compared with nn.RNN from zeros", **F64)
    check_close(h_last, h_n[0], "h_last with h0=None compared with nn.RNN from zeros", **F64)


@pytest.mark.exercise("rnn_forward", points=1, needs_core=True)
def test_rnn_forward_sequence_without_real_tokens(rnn, seed):
    # contract: a row with no real token keeps h0 as h_last and has hs = 0; the other rows are
    # unaffected (oracle: the same call on the other rows alone)
    rng = rng_for(seed, 29)
    B, T, D, H = 3, 4, 2, 3
    W_x, W_h, b = rnn_weights(rng, D, H)
    x, h0 = rand(rng, (B, T, D)), rand(rng, (B, H), scale=0.5)
    mask = np.ones((B, T), dtype=bool)
    mask[1] = False
    hs, h_last = call(rnn, "rnn_forward", x, h0, W_x, W_h, b, mask=mask)
    check_close(h_last[1], h0[1], "h_last of a sequence without real tokens (should be h0)", **F64)
    check_close(hs[1], np.zeros((T, H)), "hs of a sequence without real tokens", **F64)
    module = nn.RNN(D, H, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x[[0, 2]]), torch.from_numpy(h0[None, [0, 2]]))
    check_close(hs[[0, 2]], out, "hs of the other rows compared with nn.RNN", **F64)
    check_close(h_last[[0, 2]], h_n[0], "h_last of the other rows compared with nn.RNN", **F64)


@pytest.mark.exercise("rnn_forward", points=0.5, needs_core=True)
def test_rnn_forward_single_step_and_single_sequence(rnn, seed):
    # oracle: nn.RNN on a batch of one sequence of one step (B = T = 1 are allowed)
    rng = rng_for(seed, 43)
    W_x, W_h, b = rnn_weights(rng, 3, 2)
    x, h0 = rand(rng, (1, 1, 3)), rand(rng, (1, 2))
    module = nn.RNN(3, 2, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0[None]))
    hs, h_last = call(rnn, "rnn_forward", x, h0, W_x, W_h, b)
    check_close(hs, out, "hs of one sequence of one step compared with nn.RNN", **F64)
    check_close(h_last, h_n[0], "h_last of one sequence of one step compared with nn.RNN", **F64)


@pytest.mark.exercise("rnn_forward", points=0.5, needs_core=True)
def test_rnn_forward_no_steps_and_bad_h0(rnn):
    # contract: x without steps (T = 0) -> ValueError naming `x`; h0 not (B, H) -> naming `h0`
    W_x, W_h, b = np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "rnn_forward", np.zeros((2, 0, 2)), np.zeros((2, 3)), W_x, W_h, b)
    with pytest.raises(ValueError, match="h0"):
        call(rnn, "rnn_forward", np.zeros((2, 4, 2)), np.zeros((2, 2)), W_x, W_h, b)


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
    hs, h_last = call(rnn, "stacked_rnn_forward", x, h0, layers, mask=mask)
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
    hs, h_last = call(rnn, "stacked_rnn_forward", x, h0, layers)
    check_close(hs, out, "hs compared with nn.RNN(num_layers=2), D == H, float32", **TOL[np.dtype(np.float32)])
    check_close(h_last, h_n, "h_last compared with nn.RNN(num_layers=2), float32", **TOL[np.dtype(np.float32)])


@pytest.mark.exercise("stacked_rnn_forward", points=0.5, needs_core=True)
def test_stacked_rnn_layers_must_match_h0(rnn, seed):
    # contract: len(layers) != h0.shape[0] or no layers -> ValueError naming `layers`
    rng = rng_for(seed, 10)
    layer = rnn_weights(rng, 2, 2)
    with pytest.raises(ValueError, match="layers"):
        call(rnn, "stacked_rnn_forward", np.zeros((1, 3, 2)), np.zeros((2, 1, 2)), [layer])
    with pytest.raises(ValueError, match="layers"):
        call(rnn, "stacked_rnn_forward", np.zeros((1, 3, 2)), np.zeros((0, 1, 2)), [])


@pytest.mark.exercise("stacked_rnn_forward", points=0.5, needs_core=True)
def test_stacked_rnn_more_layers_than_h0_and_bad_h0(rnn, seed):
    # contract: more layers than h0.shape[0] -> ValueError naming `layers`; h0 not 3-D -> naming `h0`
    rng = rng_for(seed, 30)
    layers = [rnn_weights(rng, 2, 2) for _ in range(3)]
    with pytest.raises(ValueError, match="layers"):
        call(rnn, "stacked_rnn_forward", np.zeros((1, 3, 2)), np.zeros((2, 1, 2)), layers)
    with pytest.raises(ValueError, match="h0"):
        call(rnn, "stacked_rnn_forward", np.zeros((1, 3, 2)), np.zeros((1, 2)), layers[:1])


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
    got, got_h = call(rnn, "bidirectional_rnn_forward", x, h0, fwd, bwd, mask=mask)
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
    got, got_h = call(rnn, "bidirectional_rnn_forward", x, h0, fwd, bwd)
    check_close(got, out, "out compared with nn.RNN(bidirectional=True)", **F64)
    check_close(got_h, h_n, "h_n compared with nn.RNN(bidirectional=True)", **F64)


@pytest.mark.exercise("bidirectional_rnn_forward", points=0.5, needs_core=True)
def test_bidirectional_bad_h0(rnn, seed):
    # contract: h0 that is not (2, B, H) -> ValueError naming `h0`
    rng = rng_for(seed, 13)
    fwd, bwd = rnn_weights(rng, 3, 2), rnn_weights(rng, 3, 2)
    with pytest.raises(ValueError, match="h0"):
        call(rnn, "bidirectional_rnn_forward", np.zeros((1, 4, 3)), np.zeros((1, 2)), fwd, bwd)


@pytest.mark.exercise("bidirectional_rnn_forward", points=1)
def test_bidirectional_float32(rnn, seed):
    # oracle: nn.RNN(bidirectional=True) in float32 on a packed batch; float32 in, float32 out
    rng = rng_for(seed, 31)
    B, T, D, H = 3, 5, 2, 3
    fwd = tuple(w.astype(np.float32) for w in rnn_weights(rng, D, H))
    bwd = tuple(w.astype(np.float32) for w in rnn_weights(rng, D, H))
    x, h0 = rand(rng, (B, T, D), np.float32), rand(rng, (2, B, H), np.float32, 0.5)
    mask, lengths = random_mask(rng, B, T)
    module = nn.RNN(D, H, batch_first=True, bidirectional=True)
    set_layer(module, "_l0", *fwd)
    set_layer(module, "_l0_reverse", *bwd)
    out, h_n = run_packed(module, x, lengths, h0)
    got, got_h = call(rnn, "bidirectional_rnn_forward", x, h0, fwd, bwd, mask=mask)
    check_close(got, out, "out compared with nn.RNN(bidirectional=True), float32", **TOL[np.dtype(np.float32)])
    check_close(got_h, h_n, "h_n compared with nn.RNN(bidirectional=True), float32", **TOL[np.dtype(np.float32)])


@pytest.mark.exercise("bidirectional_rnn_forward", points=0.5, needs_core=True)
def test_bidirectional_sequence_without_real_tokens(rnn, seed):
    # contract: a row with no real token: out is 0 and h_n keeps both initial states
    rng = rng_for(seed, 32)
    fwd, bwd, x, h0, _ = _bidirectional_case(rng, 2, 3, 2, 2)
    mask = np.array([[True, True, False], [False, False, False]])
    out, h_n = call(rnn, "bidirectional_rnn_forward", x, h0, fwd, bwd, mask=mask)
    check_close(out[1], np.zeros((3, 4)), "out of a sequence without real tokens", **F64)
    check_close(h_n[:, 1], h0[:, 1], "h_n of a sequence without real tokens (should be h0)", **F64)


@pytest.mark.exercise("bidirectional_rnn_forward", points=0.5, needs_core=True)
def test_bidirectional_bad_mask(rnn, seed):
    # contract: a mask that is not (B, T) -> ValueError naming `mask` (as rnn_forward)
    rng = rng_for(seed, 33)
    fwd, bwd, x, h0, _ = _bidirectional_case(rng, 2, 3, 2, 2)
    with pytest.raises(ValueError, match="mask"):
        call(rnn, "bidirectional_rnn_forward", x, h0, fwd, bwd, mask=np.ones((3, 2), dtype=bool))


@pytest.mark.exercise("bidirectional_rnn_forward", points=0.5, needs_core=True)
def test_bidirectional_bad_h0_directions_and_x(rnn, seed):
    # contract: a 3-D h0 whose first axis is not 2 -> ValueError naming `h0`; x not 3-D -> naming `x`
    rng = rng_for(seed, 44)
    fwd, bwd = rnn_weights(rng, 3, 2), rnn_weights(rng, 3, 2)
    with pytest.raises(ValueError, match="h0"):
        call(rnn, "bidirectional_rnn_forward", np.zeros((1, 4, 3)), np.zeros((3, 1, 2)), fwd, bwd)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "bidirectional_rnn_forward", np.zeros((4, 3)), np.zeros((2, 1, 2)), fwd, bwd)


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
    h_t, c_t = call(rnn, "lstm_step", x, h, c, W_x, W_h, b)
    check_dtype(h_t, dtype, "h_t")
    check_close(h_t, h_exp, "h_t compared with nn.LSTMCell", **TOL[np.dtype(dtype)])
    check_close(c_t, c_exp, "c_t compared with nn.LSTMCell", **TOL[np.dtype(dtype)])


@pytest.mark.exercise("lstm_step", points=1, needs_core=True)
def test_lstm_step_saturates_without_overflow(rnn):
    # property: gates saturate to 0/1 for |z| = 1000, results stay finite (no overflow in exp)
    H = 2
    b = np.concatenate([np.full(H, 1000.0), np.full(H, -1000.0), np.full(H, 1000.0), np.full(H, 1000.0)])
    h, c = call(rnn, "lstm_step", np.zeros((1, 1)), np.zeros((1, H)), np.full((1, H), 5.0), np.zeros((1, 4 * H)),
                         np.zeros((H, 4 * H)), b)  # fmt: skip
    check_finite(h, "h_t")
    # i = 1, f = 0, g = 1, o = 1: c = 1, h = tanh(1)
    check_close(c, np.ones((1, H)), "c_t with saturated gates", **F64)
    check_close(h, np.full((1, H), np.tanh(1.0)), "h_t with saturated gates", **F64)


@pytest.mark.exercise("lstm_step", points=0.5, needs_core=True)
def test_lstm_step_bad_shapes(rnn):
    # contract: wrong sizes -> ValueError naming the argument
    with pytest.raises(ValueError, match="W_h"):
        call(rnn, "lstm_step", np.zeros((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((3, 8)), np.zeros((2, 2)),
                      np.zeros(8))  # fmt: skip
    with pytest.raises(ValueError, match="c_prev"):
        call(rnn, "lstm_step", np.zeros((1, 3)), np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((3, 8)), np.zeros((2, 8)),
                      np.zeros(8))  # fmt: skip


@pytest.mark.exercise("lstm_step", points=0.5, needs_core=True)
def test_lstm_step_bad_weights_and_state(rnn):
    # contract: W_x not (D, 4H), b not (4H,), h_prev not (B, H) -> ValueError naming the argument
    x, h, c, W_h = np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 8))
    with pytest.raises(ValueError, match="W_x"):
        call(rnn, "lstm_step", x, h, c, np.zeros((3, 7)), W_h, np.zeros(8))
    with pytest.raises(ValueError, match="W_x"):
        call(rnn, "lstm_step", x, h, c, np.zeros((4, 8)), W_h, np.zeros(8))
    with pytest.raises(ValueError, match=r"\bb\b"):
        call(rnn, "lstm_step", x, h, c, np.zeros((3, 8)), W_h, np.zeros(4))
    with pytest.raises(ValueError, match="h_prev"):
        call(rnn, "lstm_step", x, np.zeros((2, 3)), c, np.zeros((3, 8)), W_h, np.zeros(8))


@pytest.mark.exercise("lstm_step", points=0.5, needs_core=True)
def test_lstm_step_bad_x_t(rnn):
    # contract: x_t that is not (B, D) -> ValueError naming `x_t`
    with pytest.raises(ValueError, match="x_t"):
        call(rnn, "lstm_step", np.zeros(3), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((3, 8)), np.zeros((2, 8)),
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
    hs, (h_last, c_last) = call(rnn, "lstm_forward", x, h0, c0, W_x, W_h, b, mask=mask)
    check_close(hs, out, "hs compared with nn.LSTM on a packed batch", **F64)
    check_close(h_last, h_n[0], "h_last compared with nn.LSTM", **F64)
    check_close(c_last, c_n[0], "c_last compared with nn.LSTM", **F64)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_bad_mask(rnn):
    # contract: mask of the wrong shape -> ValueError naming `mask`
    with pytest.raises(ValueError, match="mask"):
        call(rnn, "lstm_forward", np.zeros((2, 3, 1)), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((1, 8)), np.zeros((2, 8)),
                         np.zeros(8), mask=np.ones((2, 4), dtype=bool))  # fmt: skip


@pytest.mark.exercise("lstm_forward", points=1)
def test_lstm_forward_float32_zero_states(rnn, seed):
    # oracle: nn.LSTM in float32 from zero states (h0 = c0 = None); float32 in, float32 out
    rng = rng_for(seed, 34)
    B, T, D, H = 3, 4, 2, 3
    W_x, W_h, b = rnn_weights(rng, D, H, np.float32, gates=4)
    x = rand(rng, (B, T, D), np.float32)
    module = nn.LSTM(D, H, batch_first=True)
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, (h_n, c_n) = module(torch.from_numpy(x))
    hs, (h_last, c_last) = call(rnn, "lstm_forward", x, None, None, W_x, W_h, b)
    tol = TOL[np.dtype(np.float32)]
    check_close(hs, out, "hs compared with nn.LSTM from zero states, float32", **tol)
    check_close(h_last, h_n[0], "h_last compared with nn.LSTM, float32", **tol)
    check_close(c_last, c_n[0], "c_last compared with nn.LSTM, float32", **tol)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_sequence_without_real_tokens(rnn, seed):
    # contract: a row with no real token keeps (h0, c0) and has hs = 0
    rng = rng_for(seed, 35)
    W_x, W_h, b = rnn_weights(rng, 2, 3, gates=4)
    x, h0, c0 = rand(rng, (2, 3, 2)), rand(rng, (2, 3)), rand(rng, (2, 3))
    mask = np.array([[True, True, True], [False, False, False]])
    hs, (h_last, c_last) = call(rnn, "lstm_forward", x, h0, c0, W_x, W_h, b, mask=mask)
    check_close(hs[1], np.zeros((3, 3)), "hs of a sequence without real tokens", **F64)
    check_close(h_last[1], h0[1], "h_last of a sequence without real tokens (should be h0)", **F64)
    check_close(c_last[1], c0[1], "c_last of a sequence without real tokens (should be c0)", **F64)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_bad_x_and_c0(rnn):
    # contract: x not 3-D or without steps -> ValueError naming `x`; c0 not (B, H) -> naming `c0`
    W_x, W_h, b = np.zeros((1, 8)), np.zeros((2, 8)), np.zeros(8)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "lstm_forward", np.zeros((2, 1)), np.zeros((2, 2)), np.zeros((2, 2)), W_x, W_h, b)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "lstm_forward", np.zeros((2, 0, 1)), np.zeros((2, 2)), np.zeros((2, 2)), W_x, W_h, b)
    with pytest.raises(ValueError, match="c0"):
        call(rnn, "lstm_forward", np.zeros((2, 3, 1)), np.zeros((2, 2)), np.zeros((2, 3)), W_x, W_h, b)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_empty_batch_and_bad_h0(rnn):
    # contract: an empty batch -> ValueError naming `x`; h0 not (B, H) -> naming `h0`
    W_x, W_h, b = np.zeros((1, 8)), np.zeros((2, 8)), np.zeros(8)
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, "lstm_forward", np.zeros((0, 3, 1)), np.zeros((0, 2)), np.zeros((0, 2)), W_x, W_h, b)
    with pytest.raises(ValueError, match="h0"):
        call(rnn, "lstm_forward", np.zeros((2, 3, 1)), np.zeros((2, 3)), np.zeros((2, 2)), W_x, W_h, b)


@pytest.mark.exercise("lstm_forward", points=0.5, needs_core=True)
def test_lstm_forward_single_sequence(rnn, seed):
    # oracle: nn.LSTM on a batch of one sequence (B = 1 is allowed)
    rng = rng_for(seed, 45)
    W_x, W_h, b = rnn_weights(rng, 2, 3, gates=4)
    x, h0, c0 = rand(rng, (1, 4, 2)), rand(rng, (1, 3)), rand(rng, (1, 3))
    module = nn.LSTM(2, 3, batch_first=True).double()
    set_layer(module, "_l0", W_x, W_h, b)
    with torch.no_grad():
        out, (h_n, c_n) = module(torch.from_numpy(x), (torch.from_numpy(h0[None]), torch.from_numpy(c0[None])))
    hs, (h_last, c_last) = call(rnn, "lstm_forward", x, h0, c0, W_x, W_h, b)
    check_close(hs, out, "hs of one sequence compared with nn.LSTM", **F64)
    check_close(h_last, h_n[0], "h_last of one sequence compared with nn.LSTM", **F64)
    check_close(c_last, c_n[0], "c_last of one sequence compared with nn.LSTM", **F64)


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
    """n draws with the seeds base, base + 1, ...: the first few through `call` (unmodified logits,
    no global random state, ...), the rest in one round trip (`call_each`), since they only add to
    the counts."""
    out = call_each(rnn, "sample_next_token", [((logits,), {"seed": base + k, **kwargs}) for k in range(n)])
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


@pytest.mark.exercise("sample_next_token", points=1, needs_core=True)
def test_top_k_is_never_violated(rnn, seed):
    # property: with top_k = 2 only the two largest logits are ever drawn, even at a high temperature
    rng = rng_for(seed, 16)
    all_logits = [rng.standard_normal(12) for _ in range(200)]
    tokens = call_each(rnn, "sample_next_token", [((z,), dict(temperature=5.0, top_k=2, seed=seed + k))
                                                  for k, z in enumerate(all_logits)])  # fmt: skip
    for logits, token in zip(all_logits, tokens):
        assert int(token) in set(np.argsort(-logits)[:2].tolist()), "a token outside the top_k largest was sampled"


@pytest.mark.exercise("sample_next_token", points=1)
def test_temperature_zero_is_argmax(rnn, seed):
    # oracle: np.argmax (lowest index on ties), whatever the seed and top_k
    rng = rng_for(seed, 17)
    for k in range(20):
        logits = rng.standard_normal(9)
        check_equal(
            call(rnn, "sample_next_token", logits, temperature=0, seed=k), int(np.argmax(logits)), "greedy token"
        )
    tied = np.array([0.0, 2.0, 1.0, 2.0])
    check_equal(call(rnn, "sample_next_token", tied, temperature=0.0, seed=3), 1, "greedy token with a tie")


@pytest.mark.exercise("sample_next_token", points=1, needs_core=True)
def test_sample_next_token_bad_input(rnn):
    # contract: ValueError naming the argument
    with pytest.raises(ValueError, match="logits"):
        call(rnn, "sample_next_token", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="temperature"):
        call(rnn, "sample_next_token", np.zeros(3), temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        call(rnn, "sample_next_token", np.zeros(3), top_k=0)


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_sample_next_token_returns_a_python_int(rnn, seed):
    # contract: a Python int (not np.int64), greedy and sampled alike
    logits = rng_for(seed, 36).standard_normal(6)
    for temperature in (0.0, 1.0):
        token = call(rnn, "sample_next_token", logits, temperature, seed=seed)
        assert type(token) is int, (
            f"sample_next_token(temperature={temperature}) should return a Python int, got {type(token).__name__} "
            "(wrap the id in int(...))"
        )


@pytest.mark.parametrize("dtype,offset", [(np.float64, 1e3), (np.float32, 1e2)])
@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_sampling_large_logits(rnn, seed, dtype, offset):
    # oracle: torch.softmax of the same logits in float64 (shift-invariant); chi-square with df = 2;
    # logits of 1e3 (float64) or 1e2 (float32) must not overflow
    logits = (np.log(np.array([0.5, 0.3, 0.2])) + offset).astype(dtype)
    n = 300  # expected counts >= 60; an overflow fails at once (NaN probabilities), not statistically
    samples = draws(rnn, logits, n, seed * 7919 + 400_000)
    stat = chi_square(samples, softmax_oracle(logits.astype(np.float64), 1.0))
    assert stat < CHI2_CRIT[2], (
        f"with logits around {offset:g} ({np.dtype(dtype).name}) the token frequencies do not follow "
        f"softmax(logits) (chi-square {stat:.1f}); subtract the largest logit before exp"
    )


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_tiny_temperature_is_argmax(rnn, seed):
    # oracle: np.argmax; logits 0.5 apart at temperature 1e-4 differ by 5000 after scaling, so the
    # largest has probability 1 to double precision (and a naive exp overflows)
    rng = rng_for(seed, 37)
    for k in range(20):
        logits = rng.permutation(np.linspace(-2.0, 2.0, 9))
        token = call(rnn, "sample_next_token", logits, 1e-4, seed=seed + k)
        check_equal(token, int(np.argmax(logits)), "the token drawn at temperature 1e-4")


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_top_k_keeps_every_tie_at_the_boundary(rnn, seed):
    # contract (the course's one top-k rule, as §42's filter_logits): every logit equal to the
    # k-th largest is kept. Oracle: logits >= np.sort(logits)[-k]. Here ids 0 and 3 tie as the
    # 2nd largest, so top_k = 2 keeps {0, 1, 3}; at temperature 50 the three are about equally
    # likely and 100 draws miss one with probability < 1e-17. Cutting the ties to exactly k
    # (the lower index first) never draws id 3.
    logits = np.array([2.0, 5.0, 1.0, 2.0, 0.0])
    kept = set(np.flatnonzero(logits >= np.sort(logits)[-2]).tolist())
    got = set(
        call_each(rnn, "sample_next_token", [((logits, 50.0), dict(top_k=2, seed=seed * 7919 + k)) for k in range(100)])
    )
    assert got <= kept, "top_k=2 drew a token below the 2nd largest logit"
    assert got == kept, (
        "top_k=2 should keep every logit equal to the 2nd largest: ids 0 and 3 tie there, both can be drawn "
        "(keep z >= the k-th largest value, do not cut the ties by index)"
    )


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_top_k_keeps_every_tied_maximum(rnn, seed):
    # contract: three tied maxima at 1, 2, 3 and top_k = 2: the 2nd largest value is 3.0, so all
    # three are kept (oracle: logits >= np.sort(logits)[-2]) and all are drawn at temperature 50
    logits = np.array([1.0, 3.0, 3.0, 3.0, 0.0])
    got = set(
        call_each(rnn, "sample_next_token", [((logits, 50.0), dict(top_k=2, seed=seed * 7919 + k)) for k in range(100)])
    )
    assert got == {1, 2, 3}, "top_k=2 with three tied maxima should keep all three (ties at the k-th value survive)"


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_top_k_at_least_v_keeps_all(rnn, seed):
    # property: top_k >= V is the same as no top_k (same seed, same token)
    rng = rng_for(seed, 38)
    for k in range(20):
        logits = rng.standard_normal(5)
        a = call(rnn, "sample_next_token", logits, 1.0, top_k=8, seed=seed + k)
        b = call(rnn, "sample_next_token", logits, 1.0, seed=seed + k)
        check_equal(a, b, "the token drawn with top_k > V compared with top_k=None")


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_minus_infinity_logits_are_never_drawn(rnn, seed):
    # contract: -inf logits are allowed and have probability 0
    logits = np.array([0.5, -np.inf, 1.0, -np.inf, 0.0])
    got = set(call_each(rnn, "sample_next_token", [((logits, 1.0), dict(seed=seed * 7919 + k)) for k in range(100)]))
    assert not got & {1, 3}, "a token with logit -inf was sampled"
    assert got == {0, 2, 4}, "every token with a finite logit should be drawn sometimes"


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_a_vocabulary_of_one(rnn, seed):
    # contract: V = 1 is allowed: the only id is 0, greedy or sampled
    for temperature in (0.0, 1.0):
        check_equal(call(rnn, "sample_next_token", np.array([0.3]), temperature, seed=seed), 0, "the token of V = 1")


@pytest.mark.exercise("sample_next_token", points=0.5, needs_core=True)
def test_sample_next_token_top_k_is_an_int(rnn, seed):
    # contract: top_k = 2.5 or True -> ValueError naming `top_k` (True is not the int 1);
    # a NumPy integer is an int (oracle: the same token as with the Python int, same seed)
    logits = rng_for(seed, 47).standard_normal(6)
    for bad in (2.5, True):
        with pytest.raises(ValueError, match="top_k"):
            call(rnn, "sample_next_token", logits, 1.0, top_k=bad, seed=seed)
    for k in range(5):
        a = call(rnn, "sample_next_token", logits, 1.0, top_k=np.int64(2), seed=seed + k)
        b = call(rnn, "sample_next_token", logits, 1.0, top_k=2, seed=seed + k)
        check_equal(a, b, "the token drawn with top_k=np.int64(2) compared with top_k=2")


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
    check_equal(call(rnn, "rnn_generate", prompt, 8, params), expected, "greedy continuation")


@pytest.mark.exercise("rnn_generate", points=1, needs_core=True)
def test_rnn_generate_sampling_is_seeded(rnn, seed):
    # property: n_new ids in [0, V), the same seed gives the same ids
    rng = rng_for(seed, 19)
    params = lm_params(rng, 9, 3, 5)
    a = call(rnn, "rnn_generate", [1, 2], 10, params, temperature=1.0, seed=seed + 5)
    b = call(rnn, "rnn_generate", [1, 2], 10, params, temperature=1.0, seed=seed + 5)
    assert isinstance(a, list) and len(a) == 10, "rnn_generate should return a list of n_new ids"
    assert all(0 <= int(t) < 9 for t in a), "a generated id lies outside [0, V)"
    check_equal([int(t) for t in b], [int(t) for t in a], "a second call with the same seed")


@pytest.mark.exercise("rnn_generate", points=1, needs_core=True)
def test_rnn_generate_edge_cases(rnn, seed):
    # contract: n_new = 0 gives []; an empty prompt -> ValueError naming `prompt`
    params = lm_params(rng_for(seed, 20), 5, 2, 3)
    check_equal(call(rnn, "rnn_generate", [1], 0, params), [], "rnn_generate with n_new=0")
    with pytest.raises(ValueError, match="prompt"):
        call(rnn, "rnn_generate", [], 3, params)


def sampled_lm_loop(prompt, n_new, p, temperature, seed, sampler):
    """Plain-loop oracle of sampled generation: step i draws with sampler(logits, temperature, seed + i)."""
    h = np.zeros(p["W_h"].shape[0])
    for i in prompt:
        h = np.tanh(p["E"][i] @ p["W_x"] + h @ p["W_h"] + p["b"])
    out = []
    for step in range(n_new):
        y = int(sampler(h @ p["W_out"] + p["b_out"], temperature, seed + step))
        out.append(y)
        h = np.tanh(p["E"][y] @ p["W_x"] + h @ p["W_h"] + p["b"])
    return out


@pytest.mark.exercise("rnn_generate", points=1, needs_core=True)
def test_rnn_generate_samples_step_by_step(rnn, rnn_ref, seed):
    # oracle: a plain loop where step i draws with sample_next_token(logits, temperature, seed=seed + i),
    # the submission's own sampler or the reference's (either is right); a seed reused at every step,
    # or one generator for the whole sequence, differs
    # (needs the core: a sampler and a generator that both always answer 0 agree with each other)
    rng = rng_for(seed, 39)
    params = lm_params(rng, 9, 3, 5)
    prompt, base = [3, 1, 4], seed + 11
    got = call(rnn, "rnn_generate", prompt, 12, params, temperature=1.5, seed=base)
    # the oracle only needs the submission's draws: the sampler's own contract (global random
    # state, ...) is graded under sample_next_token, not here
    own = sampled_lm_loop(
        prompt, 12, params, 1.5, base,
        lambda z, t, s: call_exercise(rnn, "sample_next_token", (z, t), {"seed": s}, check_rng=False),
    )  # fmt: skip
    ref = sampled_lm_loop(prompt, 12, params, 1.5, base, lambda z, t, s: rnn_ref.sample_next_token(z, t, seed=s))
    assert isinstance(got, list) and [int(t) for t in got] in (own, ref), (
        "sampled rnn_generate should draw step i with sample_next_token(logits, temperature, seed=seed + i)"
    )


@pytest.mark.exercise("rnn_generate", points=0.5, needs_core=True)
def test_rnn_generate_returns_python_ints(rnn, seed):
    # contract: a list of Python ints (not np.int64), greedy and sampled alike
    params = lm_params(rng_for(seed, 40), 6, 2, 4)
    for temperature in (0.0, 1.0):
        got = call(rnn, "rnn_generate", [1], 4, params, temperature=temperature, seed=seed)
        assert isinstance(got, list) and all(type(t) is int for t in got), (
            f"rnn_generate(temperature={temperature}) should return a list of Python ints"
        )


@pytest.mark.exercise("rnn_generate", points=0.5, needs_core=True)
def test_rnn_generate_bad_prompt_and_n_new(rnn, seed):
    # contract: a prompt id outside [0, V) (also negative) -> ValueError naming `prompt`; n_new < 0 -> `n_new`
    params = lm_params(rng_for(seed, 41), 5, 2, 3)
    with pytest.raises(ValueError, match="prompt"):
        call(rnn, "rnn_generate", [1, 5], 3, params)
    with pytest.raises(ValueError, match="prompt"):
        call(rnn, "rnn_generate", [-1, 2], 3, params)
    with pytest.raises(ValueError, match="n_new"):
        call(rnn, "rnn_generate", [1, 2], -1, params)


@pytest.mark.exercise("rnn_generate", points=0.5, needs_core=True)
def test_rnn_generate_n_new_is_an_int(rnn, seed):
    # contract: n_new = 2.5 or True -> ValueError naming `n_new` (True is not the int 1);
    # a NumPy integer is an int (oracle: the same ids as with the Python int)
    params = lm_params(rng_for(seed, 48), 5, 2, 3)
    for bad in (2.5, True):
        with pytest.raises(ValueError, match="n_new"):
            call(rnn, "rnn_generate", [1, 2], bad, params)
    expected = call(rnn, "rnn_generate", [1, 2], 3, params)
    check_equal(call(rnn, "rnn_generate", [1, 2], np.int64(3), params), expected, "ids with n_new=np.int64(3)")


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
        check_equal(call(rnn, "encoder_decoder_greedy", src, enc, dec, 0, eos, 10), path[:j], f"output ids (case {k})")


@pytest.mark.exercise("encoder_decoder_greedy", points=1)
def test_encoder_decoder_max_len(rnn, seed):
    # oracle: plain loop; with an EOS the path never produces, the output has exactly max_len ids
    rng = rng_for(seed, 22)
    enc, dec = seq2seq_params(rng, 6, 7, 3, 5)
    src = [1, 4, 2]
    path = seq2seq_loop(src, enc, dec, bos=1, n=5)
    eos = next(t for t in range(7) if t not in path)  # 5 ids of 7 possible: some id never appears
    check_equal(call(rnn, "encoder_decoder_greedy", src, enc, dec, 1, eos, 5), path, "output ids when EOS never comes")


@pytest.mark.exercise("encoder_decoder_greedy", points=1, needs_core=True)
def test_encoder_decoder_bad_input(rnn, seed):
    # contract: empty src -> ValueError naming `src`; max_len < 1 -> naming `max_len`
    enc, dec = seq2seq_params(rng_for(seed, 23), 4, 4, 2, 3)
    with pytest.raises(ValueError, match="src"):
        call(rnn, "encoder_decoder_greedy", [], enc, dec, 0, 1, 5)
    with pytest.raises(ValueError, match="max_len"):
        call(rnn, "encoder_decoder_greedy", [1, 2], enc, dec, 0, 1, 0)


def tie_logits(W_out, b_out, low, high):
    """Make ids ``low < high`` tie exactly as the best logit at every step: zero columns (so their
    logits are the bias alone, exactly) and a bias above any other logit (|h| < 1)."""
    W_out, b_out = W_out.copy(), b_out.copy()
    W_out[:, [low, high]] = 0.0
    b_out[[low, high]] = 1.0 + np.abs(W_out).sum(axis=0).max() + np.abs(b_out).max()
    return W_out, b_out


@pytest.mark.exercise("encoder_decoder_greedy", points=0.5, needs_core=True)
def test_encoder_decoder_ties_go_to_the_lowest_id(rnn, seed):
    # oracle: np.argmax (the first maximum): ids 2 and 5 tie as the best logit at every step, so
    # greedy decoding writes 2 until max_len; the ids are Python ints
    rng = rng_for(seed, 42)
    enc, dec = seq2seq_params(rng, 6, 7, 3, 4)
    dec["W_out"], dec["b_out"] = tie_logits(dec["W_out"], dec["b_out"], 2, 5)
    out = call(rnn, "encoder_decoder_greedy", [1, 3], enc, dec, 0, 6, 4)
    check_equal(out, [2, 2, 2, 2], "greedy ids when two ids tie (the lower id wins)")
    assert all(type(t) is int for t in out), "encoder_decoder_greedy should return Python ints"


@pytest.mark.exercise("encoder_decoder_greedy", points=0.5, needs_core=True)
def test_encoder_decoder_max_len_one(rnn, seed):
    # oracle: plain loop; max_len = 1 is allowed and gives the first greedy id (EOS never produced)
    rng = rng_for(seed, 46)
    enc, dec = seq2seq_params(rng, 6, 7, 3, 5)
    path = seq2seq_loop([2, 0, 4], enc, dec, bos=1, n=1)
    eos = (path[0] + 1) % 7
    check_equal(call(rnn, "encoder_decoder_greedy", [2, 0, 4], enc, dec, 1, eos, 1), path, "output with max_len=1")


@pytest.mark.exercise("encoder_decoder_greedy", points=0.5, needs_core=True)
def test_encoder_decoder_max_len_is_an_int(rnn, seed):
    # contract: max_len = 2.5 or True -> ValueError naming `max_len` (True is not the int 1);
    # a NumPy integer is an int (oracle: the same ids as with the Python int)
    enc, dec = seq2seq_params(rng_for(seed, 49), 6, 7, 3, 5)
    path = seq2seq_loop([2, 0, 4], enc, dec, bos=1, n=3)
    eos = next(t for t in range(7) if t not in path)  # an EOS the path never produces
    for bad in (2.5, True):
        with pytest.raises(ValueError, match="max_len"):
            call(rnn, "encoder_decoder_greedy", [2, 0, 4], enc, dec, 1, eos, bad)
    got = call(rnn, "encoder_decoder_greedy", [2, 0, 4], enc, dec, 1, eos, np.int64(3))
    check_equal(got, path, "output ids with max_len=np.int64(3)")


# --- byte-level BPE (bonus) -----------------------------------------------------------------
#
# Oracles written independently of the reference: a brute-force pair counter (every pair counted
# by scanning every position), a merge-by-merge encoder and a recursive byte expansion.


def bpe_merge_oracle(ids, pair, new_id):
    """Replace the adjacent pair from left to right, without overlaps (the rule of the docstrings)."""
    out, i = [], 0  # "aaa" -> [aa, a]
    while i < len(ids):
        if ids[i : i + 2] == list(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


@functools.lru_cache(maxsize=16)  # several tests learn from the same text: count it once
def brute_force_bpe(text, n_merges):
    """(merges, final ids): each step counts every distinct pair at every position (overlaps
    included), takes the largest count, the smallest pair on ties, and stops when no pair repeats.
    Treat the lists returned as read-only (they are cached)."""
    ids = list(text.encode("utf-8"))
    merges = []
    for r in range(n_merges):
        pairs = sorted({(ids[i], ids[i + 1]) for i in range(len(ids) - 1)})  # ascending: ties -> first
        best, best_count = None, 1
        for p in pairs:
            count = sum(1 for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == p)
            if count > best_count:
                best, best_count = p, count
        if best is None:
            break
        merges.append(best)
        ids = bpe_merge_oracle(ids, best, 256 + r)
    return merges, ids


def bpe_bytes_oracle(token, merges):
    """The bytes of one id, expanded recursively."""
    if token < 256:
        return bytes([token])
    a, b = merges[token - 256]
    return bpe_bytes_oracle(a, merges) + bpe_bytes_oracle(b, merges)


def as_pairs(merges):
    assert isinstance(merges, list), "train_bpe should return a list of (left id, right id) pairs"
    assert all(len(m) == 2 for m in merges), "every merge should be a pair (left id, right id)"
    return [(int(a), int(b)) for a, b in merges]


def as_ids(ids, what):
    assert isinstance(ids, list), f"{what} should return a list of ints"
    return [int(t) for t in ids]


JAPANESE = "ねこがパンをたべる。いぬがみずをのむ。漢字とカタカナ、そして English も。🙂"


def mixed_texts(rnn_ref, seed, n):
    """Seeded texts mixing the course's grammar (make_char_text), kanji, ASCII and a 4-byte emoji."""
    rng = rng_for(seed, 50)
    pieces = [*rnn_ref.make_char_text(12, seed).splitlines(keepends=True), "abab", "aaaa", "漢字", "🙂", " ", "é"]
    return [
        "".join(pieces[int(i)] for i in rng.integers(0, len(pieces), size=int(rng.integers(1, 9)))) for _ in range(n)
    ]


@pytest.mark.exercise("train_bpe", points=2)
def test_train_bpe_matches_a_brute_force_counter(rnn, rnn_ref, seed):
    # oracle: brute_force_bpe (every pair counted at every position, the most frequent merged,
    # the smallest pair on ties, stop when no pair repeats) on short seeded texts
    for k, text in enumerate(mixed_texts(rnn_ref, seed, 4)):
        expected, _ = brute_force_bpe(text, 12)
        got = as_pairs(call(rnn, "train_bpe", text, 12))
        check_equal(got, expected, f"the merges learnt from a short text (case {k})")


@pytest.mark.exercise("train_bpe", points=2)
def test_train_bpe_reference_merges_on_the_course_text(rnn, rnn_ref, seed):
    # oracle: the reference and the brute-force counter on make_char_text(40, seed): 25 merges
    text = rnn_ref.make_char_text(40, seed)
    expected, _ = brute_force_bpe(text, 25)
    assert rnn_ref.train_bpe(text, 25) == expected
    got = as_pairs(call(rnn, "train_bpe", text, 25))
    check_equal(got, expected, "the 25 merges learnt from the course's Japanese text")


@pytest.mark.exercise("train_bpe", points=1, needs_core=True)
def test_train_bpe_ties_go_to_the_smallest_pair(rnn):
    # contract: "cdab" * 3 has (c,d), (d,a) and (a,b) three times each: the smallest pair,
    # (97, 98) = "ab", is merged first (oracle: brute_force_bpe)
    text = "cdab" * 3
    expected, _ = brute_force_bpe(text, 2)
    assert expected[0] == (97, 98)
    check_equal(as_pairs(call(rnn, "train_bpe", text, 2)), expected, "merges when three pairs tie (smallest first)")


@pytest.mark.exercise("train_bpe", points=1, needs_core=True)
def test_train_bpe_counts_overlapping_pairs(rnn):
    # contract: pairs are counted at every position, overlaps included: in "aaaaabcbcbc" the pair
    # (a, a) counts 4 (not 2, the occurrences that do not overlap) and beats (b, c) with 3
    # (oracle: brute_force_bpe; the merges are (97, 97), (98, 99), (257, 257))
    expected, _ = brute_force_bpe("aaaaabcbcbc", 3)
    assert expected == [(97, 97), (98, 99), (257, 257)]
    got = as_pairs(call(rnn, "train_bpe", "aaaaabcbcbc", 3))
    check_equal(got, expected, "merges of 'aaaaabcbcbc' (count overlapping pairs; merge left to right)")


@pytest.mark.exercise("train_bpe", points=1, needs_core=True)
def test_train_bpe_stops_when_no_pair_repeats(rnn):
    # contract: training stops early when no pair occurs twice: "abcdef" gives no merge, "abab"
    # one ((a, b); then (256, 256) occurs once), "" and n_merges = 0 none
    for text, n, expected in (("abcdef", 5, []), ("abab", 10, [(97, 98)]), ("", 3, []), ("aaaa", 0, [])):
        check_equal(as_pairs(call(rnn, "train_bpe", text, n)), expected, f"train_bpe({text!r}, {n})")


@pytest.mark.exercise("train_bpe", points=1, needs_core=True)
def test_train_bpe_bad_input(rnn):
    # contract: n_merges not an int >= 0 (-1, 2.5, True) -> ValueError naming `n_merges`; a text
    # that is not a str (a list of byte values) -> naming `text`
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n_merges"):
            call(rnn, "train_bpe", "abab", bad)
    with pytest.raises(ValueError, match="text"):
        call(rnn, "train_bpe", [97, 98, 97, 98], 2)


def encode_oracle(text, merges):
    ids = list(text.encode("utf-8"))
    for r, pair in enumerate(merges):
        ids = bpe_merge_oracle(ids, tuple(pair), 256 + r)
    return ids


@pytest.mark.exercise("bpe_encode", points=2)
def test_bpe_encode_applies_the_merges_in_order(rnn, rnn_ref, seed):
    # oracle: encode_oracle (the bytes, then each merge in order, left to right) with the merges
    # the brute-force counter learns from the course's text, on held-out sentences and mixed texts
    merges, final = brute_force_bpe(rnn_ref.make_char_text(30, seed), 20)
    texts = [rnn_ref.make_char_text(5, seed + 999), JAPANESE, *mixed_texts(rnn_ref, seed + 1, 3)]
    for k, text in enumerate(texts):
        got = as_ids(call(rnn, "bpe_encode", text, merges), "bpe_encode")
        check_equal(got, encode_oracle(text, merges), f"the ids of a text (case {k})")
    got = as_ids(call(rnn, "bpe_encode", rnn_ref.make_char_text(30, seed), merges), "bpe_encode")
    check_equal(got, final, "the training text encoded with its own merges (the sequence training ended with)")


@pytest.mark.exercise("bpe_encode", points=1, needs_core=True)
def test_bpe_encode_left_to_right_and_in_order(rnn):
    # contract: "aaa" with [(97, 97)] -> [256, 97] (left to right, no overlaps); with the merges
    # [(98, 99), (97, 98)] "abc" becomes [97, 256]: (b, c) is merged first, so (a, b) never occurs
    check_equal(as_ids(call(rnn, "bpe_encode", "aaa", [(97, 97)]), "bpe_encode"), [256, 97], "bpe_encode('aaa')")
    got = as_ids(call(rnn, "bpe_encode", "abc", [(98, 99), (97, 98)]), "bpe_encode")
    check_equal(got, [97, 256], "bpe_encode('abc') with the merges (b, c) then (a, b)")
    check_equal(as_ids(call(rnn, "bpe_encode", "", [(97, 97)]), "bpe_encode"), [], "bpe_encode('')")


@pytest.mark.exercise("bpe_encode", points=1, needs_core=True)
def test_bpe_encode_bad_input(rnn):
    # contract: a merge using an id not yet defined (300 in merge 0), or not a pair -> ValueError
    # naming `merges`; a text that is not a str -> naming `text`
    with pytest.raises(ValueError, match="merges"):
        call(rnn, "bpe_encode", "ab", [(97, 300)])
    with pytest.raises(ValueError, match="merges"):
        call(rnn, "bpe_encode", "ab", [(97, 98, 99)])
    with pytest.raises(ValueError, match="text"):
        call(rnn, "bpe_encode", [97, 98], [(97, 98)])


@pytest.mark.exercise("bpe_decode", points=2)
def test_bpe_decode_inverts_encoding(rnn, rnn_ref, seed):
    # oracle: the text itself; the ids come from encode_oracle with merges the brute-force
    # counter learns from the course's text: Japanese (3-byte kana), kanji, ASCII, an emoji, ""
    merges, _ = brute_force_bpe(rnn_ref.make_char_text(30, seed), 20)
    texts = [rnn_ref.make_char_text(5, seed + 999), JAPANESE, "", *mixed_texts(rnn_ref, seed + 2, 4)]
    for k, text in enumerate(texts):
        got = call(rnn, "bpe_decode", encode_oracle(text, merges), merges)
        assert isinstance(got, str), "bpe_decode should return a str"
        check_equal(got, text, f"the decoded text (case {k})")


@pytest.mark.exercise("bpe_decode", points=1, needs_core=True)
def test_bpe_decode_expands_every_id(rnn, seed):
    # oracle: bpe_bytes_oracle (recursive expansion) on ids that are whole characters: each id of
    # the merges is decoded alone and in a random sequence
    merges = [(227, 129), (256, 140), (227, 130), (258, 146), (257, 259)]  # が, を, then がを
    singles = {256 + r: bpe_bytes_oracle(256 + r, merges) for r in range(len(merges))}
    for token, data in singles.items():
        if token == 256 or token == 258:
            continue  # 2 bytes of a 3-byte character: not whole on their own
        check_equal(call(rnn, "bpe_decode", [token], merges), data.decode("utf-8"), f"bpe_decode([{token}])")
    ids = [int(t) for t in rng_for(seed, 51).choice([97, 257, 259, 260, 10], size=12)]
    expected = b"".join(bpe_bytes_oracle(t, merges) for t in ids).decode("utf-8")
    check_equal(call(rnn, "bpe_decode", ids, merges), expected, "bpe_decode of a sequence of ids")


@pytest.mark.exercise("bpe_decode", points=1, needs_core=True)
def test_bpe_decode_is_strict(rnn):
    # contract: bytes that are not whole UTF-8 characters (the first 2 bytes of "あ"), or an id
    # out of range -> ValueError naming `ids`; a merge with an undefined id -> naming `merges`
    merges = [(227, 129)]
    with pytest.raises(ValueError, match="ids"):
        call(rnn, "bpe_decode", [256], merges)  # 2 bytes of a 3-byte kana
    with pytest.raises(ValueError, match="ids"):
        call(rnn, "bpe_decode", [257], merges)
    with pytest.raises(ValueError, match="merges"):
        call(rnn, "bpe_decode", [97], [(97, 256)])


# --- contract details the mutation testing showed untested --------------------------------


@pytest.mark.exercise("pad_sequences", points=0.5, needs_core=True)
def test_pad_sequences_gives_int64_for_a_numpy_pad_id(rnn):
    # contract: integer outputs are int64, whatever integer type pad_id has (here np.int32)
    ids, _ = call(rnn, "pad_sequences", [[1, 2, 3], [4]], pad_id=np.int32(7))
    check_dtype(ids, np.int64, "ids for pad_id = np.int32(7)")
    check_equal(ids, np.array([[1, 2, 3], [4, 7, 7]]), "ids for pad_id = np.int32(7)")


def expect_ragged_batch_rejected(rnn, seed, fn, gates):
    __tracebackhide__ = True
    W_x, W_h, b = rnn_weights(rng_for(seed, 41), 3, 4, gates=gates)
    ragged = [np.zeros((2, 3)).tolist(), np.zeros((1, 3)).tolist()]
    states = [None] * (2 if fn == "lstm_forward" else 1)  # h0 (and c0): zeros
    with pytest.raises(ValueError, match=r"\bx\b"):
        call(rnn, fn, ragged, *states, W_x, W_h, b)


@pytest.mark.exercise("rnn_forward", points=0.25, needs_core=True)
def test_rnn_forward_rejects_a_ragged_batch(rnn, seed):
    # contract (docstring): x must be a rectangular (B, T, D) array -> ValueError naming x
    expect_ragged_batch_rejected(rnn, seed, "rnn_forward", gates=1)


@pytest.mark.exercise("lstm_forward", points=0.25, needs_core=True)
def test_lstm_forward_rejects_a_ragged_batch(rnn, seed):
    # contract (docstring): x must be a rectangular (B, T, D) array -> ValueError naming x
    expect_ragged_batch_rejected(rnn, seed, "lstm_forward", gates=4)


def expect_bad_W_x_named(rnn, seed, fn, gates):
    __tracebackhide__ = True
    B, T, D, H = 2, 3, 4, 5
    g = rng_for(seed, 42)
    x = g.standard_normal((B, T, D))
    _, W_h, b = rnn_weights(g, D, H, gates=gates)
    states = [np.zeros((B, H))] * (2 if fn == "lstm_forward" else 1)  # h0 (and c0) of the right shape
    bad = [(np.zeros((D, gates * H, 2)), "a 3-D W_x"), (np.zeros((D + 1, gates * H)), "a W_x with D + 1 rows")]
    if gates == 4:  # an LSTM's W_x has 4H columns: 4H - 2 is no shape of W_x at all (H would be read as 4)
        bad.append((np.zeros((D, gates * H - 2)), "a W_x whose columns are not a multiple of 4"))
    for W_x, what in bad:
        with pytest.raises(ValueError, match="W_x") as raised:
            call(rnn, fn, x, *states, W_x, W_h, b)
        assert "h0" not in str(raised.value), f"{fn} blamed h0 for {what}: check W_x before reading H from it"


@pytest.mark.exercise("rnn_forward", points=0.25, needs_core=True)
def test_rnn_forward_names_a_bad_W_x(rnn, seed):
    # contract (a ValueError names the argument): a W_x that is not (D, H), with a right h0 -> names W_x
    expect_bad_W_x_named(rnn, seed, "rnn_forward", gates=1)


@pytest.mark.exercise("lstm_forward", points=0.25, needs_core=True)
def test_lstm_forward_names_a_bad_W_x(rnn, seed):
    # contract (a ValueError names the argument): a W_x that is not (D, 4H), with right h0 and c0 -> names W_x
    expect_bad_W_x_named(rnn, seed, "lstm_forward", gates=4)


@pytest.mark.exercise("sample_next_token", points=0.25, needs_core=True)
def test_sample_next_token_top_k_of_one_is_the_argmax(rnn, seed):
    # oracle: np.argmax; top_k = 1 is allowed and keeps only the largest logit, at any temperature
    logits = rng_for(seed, 48).standard_normal(7)
    for k in range(5):
        token = call(rnn, "sample_next_token", logits, 2.0, top_k=1, seed=seed + k)
        check_equal(token, int(np.argmax(logits)), "the token drawn with top_k = 1")


@pytest.mark.exercise("bpe_encode", points=0.5, needs_core=True)
def test_bpe_handles_the_zero_byte_and_rejects_an_undefined_id(rnn):
    # oracle: the text itself and the byte 0 repeated; contract: merge r may use ids < 256 + r only,
    # so (97, 256) as the first merge names an id not defined yet -> ValueError naming merges
    text = "\x00\x00\x00\x00a"
    merges = call(rnn, "train_bpe", text, 2)
    assert [tuple(int(i) for i in m) for m in merges][0] == (0, 0), "the first merge of '\\x00' * 4 is (0, 0)"
    ids = call(rnn, "bpe_encode", text, merges)
    check_equal(call(rnn, "bpe_decode", ids, merges), text, "the zero byte decoded back")
    with pytest.raises(ValueError, match="merges"):
        call(rnn, "bpe_encode", "ab", [(97, 256)])


@pytest.mark.exercise("bpe_decode", points=0.5, needs_core=True)
def test_bpe_decode_rejects_ids_that_are_not_ints(rnn):
    # contract: every id is an int (not a bool or a float) in range -> ValueError naming ids
    for ids in ([True], [97.0]):
        with pytest.raises(ValueError, match="ids"):
            call(rnn, "bpe_decode", ids, [])
