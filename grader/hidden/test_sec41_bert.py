"""Hidden tests for §41 BERT: random inputs, the F.cross_entropy(ignore_index=-100) oracle, the
nn.Linear pooler oracle and statistics of mask_tokens (on 512x128 tokens) and make_nsp_pairs.
Never shipped to students.

Every exercise is called through ``grader.calls.call`` (inputs unchanged, int64 / input-dtype
results, no global random state). Tests marked ``needs_core=True`` (validation, edge cases,
properties, determinism) count only once the exercise's core tests pass.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.calls import call, call_exercise, call_with_grad
from grader.checks import CheckFailure, check_close, check_dtype, check_equal, check_finite, check_shape, check_tensor

TOL = {torch.float64: dict(rtol=1e-7, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}
PAD, CLS, SEP, MASK, UNK = 0, 1, 2, 3, 4
SPECIALS = [PAD, CLS, SEP, MASK, UNK]


def gen(seed, k):
    return torch.Generator().manual_seed(seed + k)


def expect_value_error(target, name, args, kwargs=None, *, what, names):
    """The call must raise ValueError whose message names the argument ``names``."""
    try:
        call_exercise(target, name, args, kwargs, check_dtypes=False)  # it raises: no result to check
    except ValueError as e:
        if names not in str(e):
            raise CheckFailure(f"{what}: the ValueError's message should name `{names}`") from None
        return
    except (NotImplementedError, CheckFailure):
        raise
    except Exception as e:  # noqa: BLE001
        raise CheckFailure(f"{what} should raise ValueError, got {type(e).__name__}") from None
    raise CheckFailure(f"{what} should raise ValueError, but returned normally")


def chi_square(counts, expected):
    return float(((counts - expected) ** 2 / expected).sum())


# --- build_pair_input ---------------------------------------------------------------------


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_random_pair(bert, seed):
    # oracle: the contract's layout built from Python lists (special ids far from 0..k-1)
    rng = np.random.default_rng(seed + 1)
    a = rng.integers(5, 100, size=7).tolist()
    b = rng.integers(5, 100, size=4).tolist()
    ids, segments = call(bert, "build_pair_input", a, b, cls_id=101, sep_id=102)
    check_tensor(ids, "ids")
    check_dtype(ids, torch.int64, "ids")
    check_dtype(segments, torch.int64, "segment_ids")
    check_equal(ids, torch.tensor([101, *a, 102, *b, 102]), "ids")
    check_equal(segments, torch.tensor([0] * 9 + [1] * 5), "segment_ids (the last [SEP] belongs to segment 1)")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_accepts_tensors(bert, seed):
    # oracle: the same layout from 1-D int64 tensors as from lists
    g = gen(seed, 2)
    a, b = torch.randint(5, 50, (3,), generator=g), torch.randint(5, 50, (5,), generator=g)
    ids, segments = call(bert, "build_pair_input", a, b, cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, *a.tolist(), SEP, *b.tolist(), SEP]), "ids from tensor inputs")
    check_equal(segments, torch.tensor([0] * 5 + [1] * 6), "segment_ids from tensor inputs")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_single_sentence_random(bert, seed):
    # oracle: [CLS] a [SEP], segment 0 everywhere
    a = np.random.default_rng(seed + 2).integers(5, 100, size=5).tolist()
    ids, segments = call(bert, "build_pair_input", a, None, cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, *a, SEP]), "ids of a single sentence")
    check_equal(segments, torch.zeros(7, dtype=torch.int64), "segment_ids of a single sentence")


@pytest.mark.exercise("build_pair_input", points=1, needs_core=True)
def test_build_pair_input_empty_first_sentence(bert, seed):
    # contract: tokens_a may be empty -> [CLS] [SEP] b [SEP]
    b = np.random.default_rng(seed + 3).integers(5, 100, size=3).tolist()
    ids, segments = call(bert, "build_pair_input", [], b, cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, SEP, *b, SEP]), "ids for an empty first sentence")
    check_equal(segments, torch.tensor([0, 0, 1, 1, 1, 1]), "segment_ids for an empty first sentence")


@pytest.mark.exercise("build_pair_input", points=1, needs_core=True)
def test_build_pair_input_empty_second_sentence_is_still_a_pair(bert, seed):
    # contract: tokens_b = [] is a pair with an empty b (not None): [CLS] a [SEP] [SEP]
    a = np.random.default_rng(seed + 4).integers(5, 100, size=3).tolist()
    ids, segments = call(bert, "build_pair_input", a, [], cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, *a, SEP, SEP]), "ids for an empty (not None) second sentence")
    check_equal(segments, torch.tensor([0, 0, 0, 0, 0, 1]), "segment_ids for an empty second sentence")


@pytest.mark.exercise("build_pair_input", points=1, needs_core=True)
def test_build_pair_input_rejects_nested_lists(bert):
    # contract: tokens_a / tokens_b must be flat sequences of ids (the message names the argument)
    expect_value_error(bert, "build_pair_input", ([[1, 2], [3]], None), dict(cls_id=CLS, sep_id=SEP),
                       what="build_pair_input with a nested tokens_a", names="tokens_a")  # fmt: skip
    expect_value_error(bert, "build_pair_input", ([1.5, 2], None), dict(cls_id=CLS, sep_id=SEP),
                       what="build_pair_input with a float id in tokens_a", names="tokens_a")  # fmt: skip
    expect_value_error(bert, "build_pair_input", ([5], [[6], [7]]), dict(cls_id=CLS, sep_id=SEP),
                       what="build_pair_input with a nested tokens_b", names="tokens_b")  # fmt: skip


# --- padding_mask -------------------------------------------------------------------------


@pytest.mark.exercise("padding_mask", points=1)
def test_padding_mask_random(bert, seed):
    # oracle: ids != pad_id, with two inserted axes (B, 1, 1, T)
    g = gen(seed, 3)
    ids = torch.randint(5, 50, (4, 9), generator=g)
    for row, length in enumerate([9, 3, 6, 1]):
        ids[row, length:] = 7  # pad id 7 this time
    mask = call(bert, "padding_mask", ids, 7)
    check_tensor(mask, "padding_mask(ids, pad_id)")
    check_dtype(mask, torch.bool, "padding_mask(ids, pad_id)")
    check_shape(mask, (4, 1, 1, 9), "padding_mask(ids, pad_id)")
    check_equal(mask, (ids != 7)[:, None, None, :], "padding_mask(ids, pad_id)")


@pytest.mark.exercise("padding_mask", points=1, needs_core=True)
def test_padding_mask_broadcasts_over_heads_and_queries(bert):
    # property: expanded to the scores (B, h, Tq, T), every query of every head sees the real keys only
    ids = torch.tensor([[5, 6, PAD], [5, PAD, PAD]])
    mask = call(bert, "padding_mask", ids, PAD)
    full = torch.broadcast_to(mask, (2, 3, 3, 3))
    check_equal(full[:, 2, 1], torch.tensor([[True, True, False], [True, False, False]]), "mask of head 2, query 1")


@pytest.mark.exercise("padding_mask", points=1, needs_core=True)
def test_padding_mask_rejects_other_ranks(bert):
    # contract: ids must be (B, T): 1-D and 3-D ids raise ValueError naming ids
    expect_value_error(bert, "padding_mask", (torch.tensor([5, 6, PAD]), PAD), what="padding_mask of 1-D ids",
                       names="ids")  # fmt: skip
    expect_value_error(bert, "padding_mask", (torch.ones(2, 3, 4, dtype=torch.long), PAD),
                       what="padding_mask of 3-D ids", names="ids")  # fmt: skip


# --- mask_tokens --------------------------------------------------------------------------


def corpus(seed, k, B=512, T=128, vocab=1000):
    """B x T ids: [CLS] at 0, a [SEP] in the middle and at the end of the real part, [PAD] after;
    ids in [5, vocab)."""
    g = gen(seed, k)
    ids = torch.randint(5, vocab, (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    ids[:, 0] = CLS
    ids[:, T // 4] = SEP
    for row, n in enumerate(lengths.tolist()):
        ids[row, n - 1] = SEP
        ids[row, n:] = PAD
    return ids


def masking_stats(ids, inputs, labels, specials=SPECIALS, mask_id=MASK):
    normal = ~torch.isin(ids, torch.tensor(specials))
    selected = labels != -100
    n_sel = int(selected.sum())
    to_mask = selected & (inputs == mask_id)
    unchanged = selected & (inputs == ids)
    random = selected & ~to_mask & ~unchanged
    return {
        "selected": n_sel / int(normal.sum()),
        "mask": int(to_mask.sum()) / max(n_sel, 1),
        "random": int(random.sum()) / max(n_sel, 1),
        "unchanged": int(unchanged.sum()) / max(n_sel, 1),
    }


@pytest.mark.exercise("mask_tokens", points=2)
def test_mask_tokens_selects_15_percent(bert, seed):
    # property: on 512x128 tokens about 15 % of the non-special positions are selected (±1 %)
    ids = corpus(seed, 4)
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed)
    check_tensor(labels, "labels")
    check_dtype(labels, torch.int64, "labels")
    check_dtype(inputs, torch.int64, "inputs")
    check_shape(inputs, ids.shape, "inputs")
    check_shape(labels, ids.shape, "labels")
    share = masking_stats(ids, inputs, labels)["selected"]
    assert abs(share - 0.15) < 0.01, f"{share:.1%} of the non-special tokens were selected, expected about 15 %"


@pytest.mark.exercise("mask_tokens", points=2)
def test_mask_tokens_80_10_10(bert, seed):
    # property: of the selected positions 80 % [MASK], 10 % random id, 10 % unchanged (each ±2 %)
    ids = corpus(seed, 5)
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed + 1)
    stats = masking_stats(ids, inputs, labels)
    for kind, want in (("mask", 0.8), ("random", 0.1), ("unchanged", 0.1)):
        assert abs(stats[kind] - want) < 0.02, (
            f"{stats[kind]:.1%} of the selected positions are '{kind}', expected {want:.0%} ± 2 %"
        )


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_labels_and_untouched_positions(bert, seed):
    # contract: labels = original id at selected positions, -100 elsewhere; unselected inputs unchanged;
    # special positions never selected
    ids = corpus(seed, 6, B=64, T=32)
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, mask_prob=0.3, seed=seed)
    selected = labels != -100
    assert selected.any(), "no position was selected with mask_prob = 0.3"
    check_equal(labels[selected], ids[selected], "labels at the selected positions")
    check_equal(inputs[~selected], ids[~selected], "inputs at the positions that were not selected")
    special = torch.isin(ids, torch.tensor(SPECIALS))
    assert not selected[special].any(), "a special token ([CLS], [SEP], [PAD], ...) was selected for masking"


@pytest.mark.exercise("mask_tokens", points=2)
def test_mask_tokens_never_draws_special_ids(bert, seed):
    # contract: random replacements are drawn from the vocabulary minus the special ids
    # (small vocabulary so that a draw from all ids would hit a special one often)
    ids = torch.randint(5, 12, (256, 64), generator=gen(seed, 7))
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 12, SPECIALS, mask_prob=0.5, seed=seed)
    replaced = (labels != -100) & (inputs != MASK) & (inputs != ids)
    assert replaced.any(), "no position was replaced by a random id"
    drawn = inputs[replaced]
    assert not torch.isin(drawn, torch.tensor(SPECIALS)).any(), "a random replacement drew a special id"
    assert int(drawn.min()) >= 0 and int(drawn.max()) < 12, "a random replacement lies outside the vocabulary"


# special ids scattered through the vocabulary (not 0..k-1); id 0 is an ordinary token here
SCATTERED = [1, 4, 6, 7]  # mask id 4
SCATTERED_ALLOWED = [0, 2, 3, 5]
SCATTERED_VOCAB = 8


def scattered_corpus(seed, k, shape=(512, 128)):
    """ids drawn uniformly from the non-special ids 0, 2, 3, 5 of a vocabulary of 8."""
    allowed = torch.tensor(SCATTERED_ALLOWED)
    return allowed[torch.randint(len(SCATTERED_ALLOWED), shape, generator=gen(seed, k))]


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_never_draws_scattered_special_ids(bert, seed):
    # contract: the random ids avoid the special ids wherever they lie in the vocabulary
    ids = scattered_corpus(seed, 30, (128, 64))
    inputs, labels = call(bert, "mask_tokens", ids, 4, SCATTERED_VOCAB, SCATTERED, mask_prob=1.0, seed=seed)
    random = (labels != -100) & (inputs != 4) & (inputs != ids)
    assert random.any(), "no position was replaced by a random id"
    assert not torch.isin(inputs[random], torch.tensor(SCATTERED)).any(), (
        "a random replacement drew a special id (the special ids are not always the first ids of the vocabulary)"
    )
    assert torch.isin(inputs[random], torch.tensor(SCATTERED_ALLOWED)).all(), "a random id lies outside the vocabulary"


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_random_ids_are_uniform(bert, seed):
    # property: random replacements are uniform over the non-special ids (chi-square, 3 dof, p = 1e-4);
    # originals are uniform too, so the draws that differ from the original stay uniform
    ids = scattered_corpus(seed, 8)
    inputs, labels = call(bert, "mask_tokens", ids, 4, SCATTERED_VOCAB, SCATTERED, mask_prob=0.5, seed=seed + 2)
    replaced = (labels != -100) & (inputs != 4) & (inputs != ids)
    counts = torch.bincount(inputs[replaced], minlength=SCATTERED_VOCAB)[SCATTERED_ALLOWED].double()
    assert counts.sum() > 1000, "too few random replacements"
    chi2 = chi_square(counts, counts.sum() / len(SCATTERED_ALLOWED))
    assert chi2 < 21.11, "the random replacement ids are not uniform over the non-special vocabulary"


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_random_id_may_equal_the_original(bert, seed):
    # contract: the random id is drawn from all non-special ids, so with 4 of them it equals the
    # original a quarter of the time: 10 % + 10 % / 4 = 12.5 % of the selected positions read their
    # original id and 7.5 % another id (redrawing until it differs gives 10 % / 10 %); ±0.6 % is
    # more than 4 standard deviations on 65536 selected positions
    ids = scattered_corpus(seed, 31)
    inputs, labels = call(bert, "mask_tokens", ids, 4, SCATTERED_VOCAB, SCATTERED, mask_prob=1.0, seed=seed + 5)
    stats = masking_stats(ids, inputs, labels, SCATTERED, mask_id=4)
    assert abs(stats["unchanged"] - 0.125) < 0.006, (
        f"{stats['unchanged']:.2%} of the selected positions keep their id, expected 12.5 % (10 % unchanged plus "
        "the random draws that hit the original id: draw from every non-special id)"
    )
    assert abs(stats["random"] - 0.075) < 0.006, (
        f"{stats['random']:.2%} of the selected positions got another id, expected 7.5 %"
    )


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
@pytest.mark.parametrize("shape", [(300,), (6, 5, 40)], ids=["1-D", "3-D"])
def test_mask_tokens_accepts_ids_of_any_shape(bert, seed, shape):
    # contract: ids of any shape; with mask_prob = 1 every position is selected and labelled
    ids = torch.randint(5, 50, shape, generator=gen(seed, 32))
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 50, SPECIALS, mask_prob=1.0, seed=seed)
    check_shape(inputs, shape, "inputs")
    check_shape(labels, shape, "labels")
    check_equal(labels, ids, "labels with mask_prob = 1 (every position selected)")


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_mask_prob_limits(bert, seed):
    # contract: mask_prob = 0 selects nothing, mask_prob = 1 every non-special position
    ids = corpus(seed, 33, B=64, T=64)
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, mask_prob=0.0, seed=seed)
    check_equal(labels, torch.full_like(ids, -100), "labels with mask_prob = 0")
    check_equal(inputs, ids, "inputs with mask_prob = 0")
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, mask_prob=1.0, seed=seed)
    normal = ~torch.isin(ids, torch.tensor(SPECIALS))
    check_equal(labels, torch.where(normal, ids, -100), "labels with mask_prob = 1")


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_returns_int64_for_int32_ids(bert, seed):
    # contract: inputs and labels are int64 whatever the integer dtype of ids
    ids = corpus(seed, 34, B=16, T=32).to(torch.int32)
    inputs, labels = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, mask_prob=0.5, seed=seed)
    check_dtype(inputs, torch.int64, "inputs for int32 ids")
    check_dtype(labels, torch.int64, "labels for int32 ids")
    selected = labels != -100
    check_equal(labels[selected], ids.long()[selected], "labels for int32 ids")


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_special_ids_any_iterable(bert, seed):
    # contract: special_ids is any iterable of ids: a tuple, a 1-D tensor and an unsorted list with a
    # repeated id give what the sorted list gives (a set cannot cross the grading sandbox)
    ids = corpus(seed, 35, B=16, T=32)
    expected = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed)
    kinds = {"tuple": tuple(SPECIALS), "tensor": torch.tensor(SPECIALS), "unsorted list": [3, 0, 4, 1, 2, 0]}
    for kind, special_ids in kinds.items():
        got = call(bert, "mask_tokens", ids, MASK, 1000, special_ids, seed=seed)
        check_equal(got[0], expected[0], f"inputs with special_ids as a {kind}")
        check_equal(got[1], expected[1], f"labels with special_ids as a {kind}")


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_is_seeded(bert, seed):
    # contract: the same seed gives the same result, another seed a different one
    ids = corpus(seed, 9, B=32, T=32)
    a = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed)
    b = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed)
    c = call(bert, "mask_tokens", ids, MASK, 1000, SPECIALS, seed=seed + 1)
    check_equal(a[0], b[0], "inputs of two calls with the same seed")
    check_equal(a[1], b[1], "labels of two calls with the same seed")
    assert not torch.equal(a[1], c[1]), "two different seeds selected exactly the same positions"


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_rejects_bad_mask_prob(bert):
    # contract: mask_prob outside [0, 1] -> ValueError naming mask_prob
    for p in (-0.1, 1.5):
        expect_value_error(bert, "mask_tokens", (torch.tensor([[5, 6]]), MASK, 10, SPECIALS), dict(mask_prob=p),
                           what=f"mask_tokens with mask_prob = {p}", names="mask_prob")  # fmt: skip


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_rejects_bad_ids(bert):
    # contract: empty or non-integer ids -> ValueError naming ids
    for what, ids in (("empty ids", torch.zeros(0, 4, dtype=torch.long)), ("float ids", torch.ones(2, 3))):
        expect_value_error(bert, "mask_tokens", (ids, MASK, 10, SPECIALS), what=f"mask_tokens with {what}",
                           names="ids")  # fmt: skip


@pytest.mark.exercise("mask_tokens", points=1, needs_core=True)
def test_mask_tokens_rejects_vocabulary_of_special_ids_only(bert):
    # contract: a vocabulary without a non-special id to draw -> ValueError naming vocab_size
    expect_value_error(bert, "mask_tokens", (torch.tensor([[1, 2]]), MASK, 5, SPECIALS),
                       what="mask_tokens when every id of the vocabulary is special", names="vocab_size")  # fmt: skip


# --- mlm_loss -----------------------------------------------------------------------------


def random_labels(g, shape, V, keep=0.4):
    labels = torch.randint(0, V, shape, generator=g)
    labels[torch.rand(shape, generator=g) > keep] = -100
    labels.view(-1)[0] = 4  # at least one labelled position
    return labels


@pytest.mark.exercise("mlm_loss", points=1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mlm_loss_matches_cross_entropy(bert, seed, dtype):
    # oracle: F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    g = gen(seed, 10 + (dtype == torch.float32))
    B, T, V = 3, 7, 11
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 3).to(dtype)
    labels = random_labels(g, (B, T), V)
    loss = call(bert, "mlm_loss", logits, labels)
    check_tensor(loss, "mlm_loss(logits, labels)")
    check_shape(loss, (), "mlm_loss(logits, labels)")
    check_dtype(loss, dtype, "mlm_loss(logits, labels)")
    expected = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    check_close(loss, expected, "mlm_loss", **TOL[dtype])


@pytest.mark.exercise("mlm_loss", points=1)
def test_mlm_loss_gradient_matches_cross_entropy(bert, seed):
    # oracle: the gradient of F.cross_entropy(ignore_index=-100) w.r.t. the logits (autograd, float64)
    g = gen(seed, 14)
    logits = torch.randn(2, 6, 9, generator=g, dtype=torch.float64)
    labels = random_labels(g, (2, 6), 9)
    _, (grad,) = call_with_grad(bert, "mlm_loss", (logits, labels), wrt=[logits])
    assert grad is not None, "mlm_loss is not differentiable w.r.t. the logits"
    ref = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(ref.reshape(-1, 9), labels.reshape(-1), ignore_index=-100).backward()
    check_close(grad, ref.grad, "the gradient of mlm_loss w.r.t. the logits", **TOL[torch.float64])


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
@pytest.mark.parametrize("shape", [(), (13,), (2, 3, 4)], ids=["(V,)", "(N, V)", "(B, S, T, V)"])
def test_mlm_loss_for_other_ranks(bert, seed, shape):
    # oracle: F.cross_entropy on the flattened positions, for logits (V,) with a 0-d label, (N, V)
    # and (B, S, T, V)
    g = gen(seed, 15)
    V = 7
    logits = torch.randn(*shape, V, generator=g, dtype=torch.float64) * 2
    labels = random_labels(g, shape, V)
    expected = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    check_close(call(bert, "mlm_loss", logits, labels), expected, f"mlm_loss for logits of rank {len(shape) + 1}",
                **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
@pytest.mark.parametrize("dtype, scale", [(torch.float64, 1e3), (torch.float32, 1e2)], ids=["float64", "float32"])
def test_mlm_loss_is_stable_for_large_logits(bert, seed, dtype, scale):
    # oracle: F.cross_entropy on logits of size 1e3 (float64) / 1e2 (float32): a naive exp overflows
    g = gen(seed, 12)
    logits = (torch.randn(2, 5, 6, generator=g, dtype=torch.float64) * scale).to(dtype)
    labels = torch.randint(0, 6, (2, 5), generator=g)
    labels[1] = -100
    loss = call(bert, "mlm_loss", logits, labels)
    check_finite(loss, "mlm_loss of large logits")
    expected = F.cross_entropy(logits.reshape(-1, 6), labels.reshape(-1), ignore_index=-100)
    check_close(loss, expected, "mlm_loss of large logits", **TOL[dtype])


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_with_one_labelled_position(bert, seed):
    # oracle: with a single labelled position the mean is that position's -log_softmax (divide by 1)
    g = gen(seed, 17)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64) * 2
    labels = torch.full((3, 4), -100)
    labels[1, 2] = 5
    expected = -torch.log_softmax(logits[1, 2], dim=-1)[5]
    check_close(call(bert, "mlm_loss", logits, labels), expected, "mlm_loss with one labelled position",
                **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_without_labels_is_zero_random(bert, seed):
    # contract: no labelled position -> 0.0, finite (F.cross_entropy would give NaN here)
    logits = torch.randn(4, 6, 9, generator=gen(seed, 13), dtype=torch.float64)
    loss = call(bert, "mlm_loss", logits, torch.full((4, 6), -100))
    check_finite(loss, "mlm_loss with every label -100")
    check_close(loss, torch.tensor(0.0, dtype=torch.float64), "mlm_loss with every label -100", rtol=0, atol=0)


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_without_labels_stays_in_the_graph(bert, seed):
    # contract: with no labelled position the 0.0 is still part of the autograd graph (gradient 0)
    logits = torch.randn(3, 4, 5, generator=gen(seed, 16), dtype=torch.float64)
    _, (grad,) = call_with_grad(bert, "mlm_loss", (logits, torch.full((3, 4), -100)), wrt=[logits])
    assert grad is not None, "with every label -100 the loss is not connected to the logits (loss.backward() fails)"
    check_close(grad, torch.zeros_like(logits), "the gradient when no position is labelled", rtol=0, atol=0)


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_rejects_labels_out_of_range(bert):
    # contract: a label that is neither -100 nor in 0 .. V-1 -> ValueError naming labels (V and -1 alike)
    for bad in (5, -1, -7):
        expect_value_error(bert, "mlm_loss", (torch.zeros(1, 2, 5), torch.tensor([[bad, -100]])),
                           what=f"mlm_loss with a label {bad} for V = 5", names="labels")  # fmt: skip


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_rejects_bad_labels(bert):
    # contract: labels of the wrong shape or not integer -> ValueError naming labels
    cases = {"labels of shape (2, 3) for logits (2, 2, 5)": torch.zeros(2, 3, dtype=torch.long),
             "float labels": torch.zeros(2, 2)}  # fmt: skip
    for what, labels in cases.items():
        expect_value_error(bert, "mlm_loss", (torch.zeros(2, 2, 5), labels), what=f"mlm_loss with {what}",
                           names="labels")  # fmt: skip


# --- make_nsp_pairs -----------------------------------------------------------------------


def make_documents(seed, k, n_docs=300, sizes=None):
    """Documents of 1..8 sentences (or of the given sizes); sentence j of document i starts with the
    unique id i*1000 + j."""
    rng = np.random.default_rng(seed + k)
    docs = []
    for i in range(n_docs):
        n = int(rng.integers(1, 9)) if sizes is None else sizes[i]
        docs.append([[i * 1000 + j, *rng.integers(1, 50, size=int(rng.integers(0, 4))).tolist()] for j in range(n)])
    return docs


def locate(sentence):
    """(document, sentence index) from a sentence's unique first id."""
    return divmod(int(sentence[0]), 1000)


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_pairs_structure(bert, seed):
    # contract: one pair per adjacent sentence pair, in document order; is_next is a bool;
    # b is one of the corpus's sentences, unchanged
    docs = make_documents(seed, 14, n_docs=40)
    pairs = call(bert, "make_nsp_pairs", docs, seed=seed)
    expected_a = [s for d in docs for s in d[:-1]]
    assert len(pairs) == len(expected_a), f"expected {len(expected_a)} pairs, got {len(pairs)}"
    assert [list(a) for a, _, _ in pairs] == expected_a, "the sentences a are not the adjacent pairs in order"
    for _, b, is_next in pairs:
        assert type(is_next) is bool, f"is_next should be a bool, got {type(is_next).__name__}"
        i, j = locate(b)
        assert list(b) == docs[i][j], "a sentence b is not one of the input sentences"


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_positives_are_the_next_sentence(bert, seed):
    # contract: is_next=True <=> b is the sentence right after a
    docs = make_documents(seed, 15, n_docs=60)
    pairs = call(bert, "make_nsp_pairs", docs, seed=seed)
    assert any(f for _, _, f in pairs), "no positive pair"
    for a, b, is_next in pairs:
        (ia, ja), (ib, jb) = locate(a), locate(b)
        if is_next:
            assert (ib, jb) == (ia, ja + 1), "a pair with is_next=True does not hold the next sentence"


@pytest.mark.exercise("make_nsp_pairs", points=2)
def test_nsp_negatives_come_from_another_document(bert, seed):
    # contract: a negative pair's b comes from a DIFFERENT document than a
    docs = make_documents(seed, 16)
    negatives = [(a, b) for a, b, is_next in call(bert, "make_nsp_pairs", docs, seed=seed) if not is_next]
    assert negatives, "no negative pairs"
    same = sum(locate(a)[0] == locate(b)[0] for a, b in negatives)
    assert same == 0, f"{same} of {len(negatives)} negative pairs take b from the same document as a"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_half_of_the_pairs_are_positive(bert, seed):
    # property: with ~1000 pairs the share of positives is 50 % ± 6 % (about 4 standard deviations)
    docs = make_documents(seed, 17)
    pairs = call(bert, "make_nsp_pairs", docs, seed=seed + 3)
    share = sum(is_next for _, _, is_next in pairs) / len(pairs)
    assert abs(share - 0.5) < 0.06, f"{share:.1%} of the pairs are positive, expected about 50 %"


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_negatives_are_spread_over_documents(bert, seed):
    # property: negatives draw b from many different documents (not always a neighbour), and
    # one-sentence documents can supply b too
    docs = make_documents(seed, 18)
    negatives = [b for _, b, is_next in call(bert, "make_nsp_pairs", docs, seed=seed) if not is_next]
    sources = {locate(b)[0] for b in negatives}
    assert len(sources) > len(docs) // 3, f"negatives come from only {len(sources)} of {len(docs)} documents"
    single = {i for i, d in enumerate(docs) if len(d) == 1}
    assert sources & single, "no negative took b from a document of one sentence"


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_negative_documents_are_uniform(bert, seed):
    # contract: each other document is equally likely, whatever its length (chi-square, 19 dof,
    # p = 1e-4): 10 documents of 2 sentences and 10 of 120; drawing a sentence of the whole corpus
    # would almost never pick the short documents
    docs = make_documents(seed, 19, n_docs=20, sizes=[2, 120] * 10)
    negatives = [(a, b) for a, b, is_next in call(bert, "make_nsp_pairs", docs, seed=seed) if not is_next]
    counts = torch.zeros(20, dtype=torch.float64)
    expected = torch.zeros(20, dtype=torch.float64)
    for a, b in negatives:
        counts[locate(b)[0]] += 1
        expected += 1 / 19
        expected[locate(a)[0]] -= 1 / 19  # every document but a's own
    assert chi_square(counts, expected) < 50.8, (
        "the documents that supply negative sentences are not uniform over the other documents "
        "(choose the document first, each equally likely, then one of its sentences)"
    )


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_negative_sentences_are_uniform_within_the_document(bert, seed):
    # contract: within the chosen document each sentence is equally likely (chi-square, 3 dof,
    # p = 1e-4; documents of 4 sentences, so taking a's position or the first sentence fails)
    docs = make_documents(seed, 20, n_docs=400, sizes=[4] * 400)
    negatives = [b for _, b, is_next in call(bert, "make_nsp_pairs", docs, seed=seed + 1) if not is_next]
    counts = torch.bincount(torch.tensor([locate(b)[1] for b in negatives]), minlength=4).double()
    assert chi_square(counts, counts.sum() / 4) < 21.11, (
        "the sentence b of a negative pair is not uniform over the sentences of the chosen document"
    )


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_pairs_are_seeded(bert, seed):
    # contract: the same seed gives the same pairs, another seed different ones
    docs = make_documents(seed, 21, n_docs=50)
    runs = [call(bert, "make_nsp_pairs", docs, seed=s) for s in (seed, seed, seed + 1)]
    flags = [[f for _, _, f in run] for run in runs]
    assert runs[0] == runs[1], "two calls with the same seed gave different pairs"
    assert flags[0] != flags[2], "two different seeds gave exactly the same pairs"


@pytest.mark.exercise("make_nsp_pairs", points=1, needs_core=True)
def test_nsp_rejects_bad_documents(bert):
    # contract: at least 2 documents (negatives need another document), none empty; names documents
    cases = {"a single document": [[[1], [2], [3]]], "no documents": [],
             "an empty document": [[[1], [2]], [], [[3]]]}  # fmt: skip
    for what, docs in cases.items():
        expect_value_error(bert, "make_nsp_pairs", (docs,), what=f"make_nsp_pairs with {what}", names="documents")


# --- nsp_logits ---------------------------------------------------------------------------


def nsp_weights(g, d, dtype):
    def rn(*s):
        return torch.randn(*s, generator=g, dtype=torch.float64).to(dtype)

    return rn(d, d) / math.sqrt(d), rn(d), rn(d, 2), rn(2)


@pytest.mark.exercise("nsp_logits", points=1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_nsp_logits_match_torch(bert, seed, dtype):
    # oracle: nn.Linear(d, d) + tanh on hidden[:, 0], then nn.Linear(d, 2) (weights = W.T)
    g = gen(seed, 20 + (dtype == torch.float32))
    B, T, d = 4, 6, 8
    hidden = torch.randn(B, T, d, generator=g, dtype=torch.float64).to(dtype)
    W_pool, b_pool, W_cls, b_cls = nsp_weights(g, d, dtype)
    logits = call(bert, "nsp_logits", hidden, W_pool, b_pool, W_cls, b_cls)
    pool, cls = nn.Linear(d, d, dtype=dtype), nn.Linear(d, 2, dtype=dtype)
    with torch.no_grad():
        pool.weight.copy_(W_pool.T)
        pool.bias.copy_(b_pool)
        cls.weight.copy_(W_cls.T)
        cls.bias.copy_(b_cls)
        expected = cls(torch.tanh(pool(hidden[:, 0])))
    check_tensor(logits, "nsp_logits")
    check_dtype(logits, dtype, "nsp_logits")
    check_close(logits, expected, "nsp_logits", **TOL[dtype])


@pytest.mark.exercise("nsp_logits", points=1, needs_core=True)
def test_nsp_logits_of_a_single_token(bert, seed):
    # oracle: T = 1 (only [CLS]) is allowed: tanh(hidden[:, 0] @ W_pool + b_pool) @ W_cls + b_cls
    g = gen(seed, 23)
    hidden = torch.randn(3, 1, 5, generator=g, dtype=torch.float64)
    W_pool, b_pool, W_cls, b_cls = nsp_weights(g, 5, torch.float64)
    expected = torch.tanh(hidden[:, 0] @ W_pool + b_pool) @ W_cls + b_cls
    check_close(call(bert, "nsp_logits", hidden, W_pool, b_pool, W_cls, b_cls), expected,
                "nsp_logits for sequences of one token", **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("nsp_logits", points=1, needs_core=True)
def test_nsp_logits_read_only_the_cls_token(bert, seed):
    # property: changing every token except [CLS] (position 0) changes nothing
    g = gen(seed, 22)
    d = 6
    hidden = torch.randn(3, 5, d, generator=g, dtype=torch.float64)
    weights = nsp_weights(g, d, torch.float64)
    other = hidden.clone()
    other[:, 1:] = torch.randn(3, 4, d, generator=g, dtype=torch.float64)
    check_close(call(bert, "nsp_logits", other, *weights), call(bert, "nsp_logits", hidden, *weights),
                "nsp_logits after changing the non-[CLS] tokens", **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("nsp_logits", points=1, needs_core=True)
def test_nsp_logits_rejects_bad_shapes(bert):
    # contract: hidden is (B, T, d); W_pool (d, d), b_pool (d,), W_cls (d, 2), b_cls (2,); the message
    # names the argument
    z = torch.zeros
    good = {"hidden": z(2, 3, 4), "W_pool": z(4, 4), "b_pool": z(4), "W_cls": z(4, 2), "b_cls": z(2)}
    bad = [("hidden", z(3, 4)), ("hidden", z(2, 0, 4)), ("W_pool", z(4, 3)), ("b_pool", z(3)),
           ("W_cls", z(4, 3)), ("b_cls", z(3))]  # fmt: skip
    for name, value in bad:
        args = {**good, name: value}
        expect_value_error(bert, "nsp_logits", tuple(args.values()),
                           what=f"nsp_logits with {name} of the wrong shape", names=name)  # fmt: skip


# --- bert_embeddings, bert_encoder, classify ------------------------------------------------

MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


def randn(g, *shape, dtype=torch.float64, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def block_params(g, d, d_ff, dtype):
    """§40 block parameters, scaled so that the softmax is neither uniform nor one-hot."""
    return {
        "attn": {
            k: randn(g, d, d, dtype=dtype, scale=d**-0.5) if k[0] == "W" else randn(g, d, dtype=dtype, scale=0.2)
            for k in MHA_KEYS
        },  # fmt: skip
        "ln1": {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.3), "beta": randn(g, d, dtype=dtype, scale=0.3)},
        "ffn": {
            "W1": randn(g, d, d_ff, dtype=dtype, scale=d**-0.5),
            "b1": randn(g, d_ff, dtype=dtype, scale=0.2),
            "W2": randn(g, d_ff, d, dtype=dtype, scale=d_ff**-0.5),
            "b2": randn(g, d, dtype=dtype, scale=0.2),
        },  # fmt: skip
        "ln2": {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.3), "beta": randn(g, d, dtype=dtype, scale=0.3)},
    }


def bert_params(g, V, T_max, d, n_blocks=0, d_ff=None, dtype=torch.float64):
    return {
        "tok": randn(g, V, d, dtype=dtype),
        "seg": randn(g, 2, d, dtype=dtype),
        "pos": randn(g, T_max, d, dtype=dtype),
        "ln": {"gamma": 1 + randn(g, d, dtype=dtype, scale=0.3), "beta": randn(g, d, dtype=dtype, scale=0.3)},
        "blocks": [block_params(g, d, d_ff or 2 * d, dtype) for _ in range(n_blocks)],
    }


def torch_block(p, d, h, dtype):
    """nn.TransformerEncoderLayer (post-LN, relu, dropout 0) holding the (in, out) weights of p, as in
    the §40 hidden tests; train() mode so that the fused fast path (which zeroes padded outputs) is
    not taken."""
    d_ff = p["ffn"]["W1"].shape[1]
    layer = nn.TransformerEncoderLayer(d, h, dim_feedforward=d_ff, dropout=0.0, batch_first=True, dtype=dtype)
    a = p["attn"]
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([a["W_q"].T, a["W_k"].T, a["W_v"].T]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([a["b_q"], a["b_k"], a["b_v"]]))
        layer.self_attn.out_proj.weight.copy_(a["W_o"].T)
        layer.self_attn.out_proj.bias.copy_(a["b_o"])
        for norm, key in ((layer.norm1, "ln1"), (layer.norm2, "ln2")):
            norm.weight.copy_(p[key]["gamma"])
            norm.bias.copy_(p[key]["beta"])
        layer.linear1.weight.copy_(p["ffn"]["W1"].T)
        layer.linear1.bias.copy_(p["ffn"]["b1"])
        layer.linear2.weight.copy_(p["ffn"]["W2"].T)
        layer.linear2.bias.copy_(p["ffn"]["b2"])
    return layer.train()


def reference_embeddings(ids, segments, p):
    x = p["tok"][ids] + p["seg"][segments] + p["pos"][: ids.shape[1]]
    return F.layer_norm(x, x.shape[-1:], p["ln"]["gamma"], p["ln"]["beta"], 1e-5)


def padded_batch(g, B, T, V, lengths=None):
    """ids (B, T) with [CLS] first, random tokens, random lengths, [PAD] after; segments 0 then 1."""
    if lengths is None:
        lengths = torch.randint(2, T + 1, (B,), generator=g)
        lengths[0] = T  # one full sequence
    ids = torch.randint(len(SPECIALS), V, (B, T), generator=g)
    ids[:, 0] = CLS
    real = torch.arange(T)[None, :] < lengths[:, None]
    ids = torch.where(real, ids, torch.full_like(ids, PAD))
    split = lengths // 2
    segments = ((torch.arange(T)[None, :] >= split[:, None]) & real).long()
    return ids, segments, real


@pytest.mark.exercise("bert_embeddings", points=2)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_bert_embeddings_match_reference(bert, seed, dtype):
    # oracle: F.layer_norm(tok[ids] + seg[segment_ids] + pos[:T], gamma, beta, eps=1e-5), random shapes
    g = gen(seed, 30 + (dtype == torch.float32))
    B, T, V, d = int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(2, 9, (1,), generator=g)), 40, 6
    p = bert_params(g, V, T + 3, d, dtype=dtype)
    ids, segments, _ = padded_batch(g, B, T, V)
    e = call(bert, "bert_embeddings", ids, segments, p)
    check_tensor(e, "bert_embeddings")
    check_shape(e, (B, T, d), "bert_embeddings")
    check_dtype(e, dtype, "bert_embeddings")
    check_close(e, reference_embeddings(ids, segments, p), "layer_norm(tok[ids] + seg[segment_ids] + pos[:T])",
                **TOL[dtype])  # fmt: skip


@pytest.mark.exercise("bert_embeddings", points=1)
def test_bert_embeddings_use_the_segment(bert, seed):
    # oracle: the reference on a batch where the two sequences differ only in their segment ids
    g = gen(seed, 32)
    p = bert_params(g, 30, 6, 4)
    ids = torch.tensor([[CLS, 7, 8, SEP, 9, SEP]] * 2)
    segments = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
    e = call(bert, "bert_embeddings", ids, segments, p)
    check_close(e, reference_embeddings(ids, segments, p), "embeddings of one pair with two segmentations",
                **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("bert_embeddings", points=1, needs_core=True)
def test_bert_embeddings_gradients_reach_every_table(bert, seed):
    # oracle: torch.autograd through the reference; every table (tok, seg, pos, gamma, beta) is learned
    g = gen(seed, 33)
    p = bert_params(g, 20, 7, 4)
    ids, segments, _ = padded_batch(g, 3, 5, 20)
    leaves_ = [p["tok"], p["seg"], p["pos"], p["ln"]["gamma"], p["ln"]["beta"]]
    cot = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    _, grads = call_with_grad(bert, "bert_embeddings", (ids, segments, p), wrt=leaves_, cotangent=cot)
    fresh = [t.detach().clone().requires_grad_(True) for t in leaves_]
    q = {"tok": fresh[0], "seg": fresh[1], "pos": fresh[2], "ln": {"gamma": fresh[3], "beta": fresh[4]}}
    expected = torch.autograd.grad(reference_embeddings(ids, segments, q), fresh, cot)
    for name, got, want in zip(("tok", "seg", "pos", "ln gamma", "ln beta"), grads, expected, strict=True):
        if got is None:
            raise CheckFailure(f"bert_embeddings: no gradient reaches params[{name!r}] (keep it in the graph)")
        check_close(got, want, f"gradient of bert_embeddings w.r.t. {name}", **TOL[torch.float64])


@pytest.mark.exercise("bert_embeddings", points=1, needs_core=True)
def test_bert_embeddings_reject_bad_inputs(bert):
    # contract: ValueError naming the argument: ids not 2-D or longer than T_max; segment_ids of
    # another shape or holding a 2
    p = bert_params(torch.Generator().manual_seed(0), 10, 4, 4)
    ids, segs = torch.tensor([[CLS, 5, SEP]]), torch.zeros(1, 3, dtype=torch.long)
    cases = [
        ("ids", torch.tensor([CLS, 5, SEP]), torch.zeros(3, dtype=torch.long), "ids of shape (T,)"),
        ("ids", torch.tensor([[CLS, 5, 6, 7, SEP]]), torch.zeros(1, 5, dtype=torch.long), "T longer than T_max"),
        ("segment_ids", ids, torch.zeros(1, 4, dtype=torch.long), "segment_ids of another shape"),
        ("segment_ids", ids, torch.tensor([[0, 1, 2]]), "a segment id 2"),
    ]
    for names, i, s, what in cases:
        expect_value_error(bert, "bert_embeddings", (i, s, p), what=f"bert_embeddings with {what}", names=names)
    call(bert, "bert_embeddings", ids, segs, p)  # the valid call still works


@pytest.mark.exercise("bert_encoder", points=2)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_bert_encoder_matches_torch_layers(bert, seed, dtype):
    # oracle: the reference embeddings, then nn.TransformerEncoderLayer (post-LN) per block with
    # src_key_padding_mask = (ids == pad_id)
    g = gen(seed, 40 + (dtype == torch.float32))
    B, T, V, d, h = 3, int(torch.randint(4, 9, (1,), generator=g)), 50, 8, 2
    p = bert_params(g, V, 10, d, n_blocks=2, d_ff=12, dtype=dtype)
    ids, segments, real = padded_batch(g, B, T, V)
    out = call(bert, "bert_encoder", ids, segments, p, h, PAD)
    check_tensor(out, "bert_encoder")
    check_shape(out, (B, T, d), "bert_encoder")
    check_dtype(out, dtype, "bert_encoder")
    with torch.no_grad():
        x = reference_embeddings(ids, segments, p)
        for block in p["blocks"]:
            x = torch_block(block, d, h, dtype)(x, src_key_padding_mask=~real)
    check_close(out[real], x[real], "bert_encoder at the real tokens (2 post-LN blocks with a padding mask)",
                **TOL[dtype])  # fmt: skip


@pytest.mark.exercise("bert_encoder", points=1, needs_core=True)
def test_bert_encoder_padding_never_leaks(bert, seed):
    # property: every sequence of a padded batch gives, at its real positions, what it gives alone
    g = gen(seed, 42)
    B, T, V, d, h = 4, 7, 30, 8, 4
    p = bert_params(g, V, T, d, n_blocks=2)
    ids, segments, real = padded_batch(g, B, T, V, lengths=torch.tensor([7, 3, 5, 1]))
    out = call(bert, "bert_encoder", ids, segments, p, h, PAD)
    for i, n in enumerate(real.sum(1).tolist()):
        alone = call(bert, "bert_encoder", ids[i : i + 1, :n], segments[i : i + 1, :n], p, h, PAD)
        check_close(out[i : i + 1, :n], alone, f"sequence {i} of a padded batch vs the same sequence alone",
                    **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("bert_encoder", points=1, needs_core=True)
def test_bert_encoder_without_blocks_is_the_embedding(bert, seed):
    # oracle: with params["blocks"] = [] the encoder returns the reference embeddings
    g = gen(seed, 43)
    p = bert_params(g, 25, 6, 4, n_blocks=0)
    ids, segments, _ = padded_batch(g, 2, 6, 25)
    out = call(bert, "bert_encoder", ids, segments, p, 2, PAD)
    check_close(out, reference_embeddings(ids, segments, p), "bert_encoder with no blocks", **TOL[torch.float64])


@pytest.mark.exercise("bert_encoder", points=1, needs_core=True)
def test_bert_encoder_rejects_bad_n_heads(bert):
    # contract: n_heads must divide d; the ValueError names n_heads
    p = bert_params(torch.Generator().manual_seed(0), 10, 4, 4, n_blocks=1)
    ids, segs = torch.tensor([[CLS, 5, SEP]]), torch.zeros(1, 3, dtype=torch.long)
    expect_value_error(bert, "bert_encoder", (ids, segs, p, 3, PAD), what="bert_encoder with n_heads = 3 and d = 4",
                       names="n_heads")  # fmt: skip


@pytest.mark.exercise("classify", points=2)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_classify_matches_linear(bert, seed, dtype):
    # oracle: nn.Linear(d, C) with weight W.T applied to hidden[:, 0]
    g = gen(seed, 50 + (dtype == torch.float32))
    B, T, d, C = 4, int(torch.randint(1, 6, (1,), generator=g)), 6, int(torch.randint(2, 5, (1,), generator=g))
    hidden, W, b = randn(g, B, T, d, dtype=dtype), randn(g, d, C, dtype=dtype), randn(g, C, dtype=dtype)
    logits = call(bert, "classify", hidden, W, b)
    check_tensor(logits, "classify")
    check_shape(logits, (B, C), "classify")
    check_dtype(logits, dtype, "classify")
    linear = nn.Linear(d, C, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(W.T)
        linear.bias.copy_(b)
        expected = linear(hidden[:, 0])
    check_close(logits, expected, "classify = hidden[:, 0] @ W + b", **TOL[dtype])


@pytest.mark.exercise("classify", points=1, needs_core=True)
def test_classify_reads_only_the_cls_token(bert, seed):
    # property: changing every position but 0 changes nothing; gradients reach W, b and hidden[:, 0] only
    g = gen(seed, 52)
    hidden, W, b = randn(g, 3, 4, 5), randn(g, 5, 2), randn(g, 2)
    other = hidden.clone()
    other[:, 1:] = randn(g, 3, 3, 5)
    check_close(call(bert, "classify", other, W, b), call(bert, "classify", hidden, W, b),
                "classify after changing the non-[CLS] tokens", **TOL[torch.float64])  # fmt: skip
    _, (dh,) = call_with_grad(bert, "classify", (hidden, W, b), wrt=(hidden,))
    if dh is None:
        raise CheckFailure("classify: no gradient reaches hidden (keep it in the graph)")
    check_close(dh[:, 1:], torch.zeros(3, 3, 5, dtype=torch.float64), "gradient at the non-[CLS] tokens", rtol=0,
                atol=0)  # fmt: skip


@pytest.mark.exercise("classify", points=1, needs_core=True)
def test_classify_rejects_bad_shapes(bert):
    # contract: hidden (B, T >= 1, d), W (d, C), b (C,); the message names the argument
    z = torch.zeros
    good = {"hidden": z(2, 3, 4), "W": z(4, 3), "b": z(3)}
    bad = [("hidden", z(3, 4)), ("hidden", z(2, 0, 4)), ("W", z(5, 3)), ("W", z(4)), ("b", z(2))]
    for name, value in bad:
        args = {**good, name: value}
        expect_value_error(bert, "classify", tuple(args.values()), what=f"classify with {name} of the wrong shape",
                           names=name)  # fmt: skip


# --- contract details the mutation testing showed untested --------------------------------


@pytest.mark.exercise("bert_embeddings", points=0.5, needs_core=True)
def test_bert_embeddings_reject_ids_outside_the_vocabulary(bert):
    # contract (docstring): an id below 0 or >= V, or float ids -> ValueError naming ids (not an
    # IndexError, and never a silent wrap-around for -1)
    p = bert_params(torch.Generator().manual_seed(1), 10, 4, 4)
    segs = torch.zeros(1, 3, dtype=torch.long)
    for ids, what in [(torch.tensor([[CLS, -1, SEP]]), "an id -1"), (torch.tensor([[CLS, 10, SEP]]), "an id V = 10"),
                      (torch.tensor([[1.0, 5.0, 2.0]]), "float ids")]:  # fmt: skip
        expect_value_error(bert, "bert_embeddings", (ids, segs, p), what=f"bert_embeddings with {what}", names="ids")


@pytest.mark.exercise("bert_encoder", points=0.5, needs_core=True)
def test_bert_encoder_rejects_bad_params_and_head_counts(bert):
    # contract (docstring): params not a dict or without a "blocks" list names params / blocks; n_heads
    # 0, 2.0 or True names n_heads
    p = bert_params(torch.Generator().manual_seed(2), 10, 4, 4, n_blocks=1)
    ids, segs = torch.tensor([[CLS, 5, SEP]]), torch.zeros(1, 3, dtype=torch.long)
    no_blocks = {k: v for k, v in p.items() if k != "blocks"}
    expect_value_error(bert, "bert_encoder", (ids, segs, no_blocks, 2, PAD), what="bert_encoder without params['blocks']",
                       names="blocks")  # fmt: skip
    expect_value_error(bert, "bert_encoder", (ids, segs, [p], 2, PAD), what="bert_encoder with a list as params",
                       names="params")  # fmt: skip
    for n_heads in (0, 2.0, True):
        expect_value_error(bert, "bert_encoder", (ids, segs, p, n_heads, PAD),
                           what=f"bert_encoder with n_heads = {n_heads!r}", names="n_heads")  # fmt: skip


@pytest.mark.exercise("bert_encoder", points=0.5, needs_core=True)
def test_bert_encoder_with_one_head(bert, seed):
    # oracle: nn.TransformerEncoderLayer with one head (n_heads = 1 is a valid divisor of d)
    g = gen(seed, 44)
    B, T, V, d = 2, 5, 30, 8
    p = bert_params(g, V, 10, d, n_blocks=1, d_ff=12)
    ids, segments, real = padded_batch(g, B, T, V)
    out = call(bert, "bert_encoder", ids, segments, p, 1, PAD)
    with torch.no_grad():
        x = torch_block(p["blocks"][0], d, 1, torch.float64)(
            reference_embeddings(ids, segments, p), src_key_padding_mask=~real
        )
    check_close(out[real], x[real], "bert_encoder with n_heads = 1", **TOL[torch.float64])
