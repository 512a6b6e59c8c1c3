"""Hidden tests for §41 BERT: random inputs, the F.cross_entropy(ignore_index=-100) oracle, the
nn.Linear pooler oracle and statistics of mask_tokens (on 512x128 tokens) and make_nsp_pairs.
Never shipped to students.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
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

TOL = {torch.float64: dict(rtol=1e-7, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}
PAD, CLS, SEP, MASK, UNK = 0, 1, 2, 3, 4
SPECIALS = [PAD, CLS, SEP, MASK, UNK]


def gen(seed, k):
    return torch.Generator().manual_seed(seed + k)


# --- build_pair_input ---------------------------------------------------------------------


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_random_pair(bert, seed):
    # oracle: the contract's layout built from Python lists
    rng = np.random.default_rng(seed + 1)
    a = rng.integers(5, 100, size=7).tolist()
    b = rng.integers(5, 100, size=4).tolist()
    ids, segments = bert.build_pair_input(a, b, cls_id=101, sep_id=102)
    check_tensor(ids, "ids")
    check_dtype(ids, torch.int64, "ids")
    check_dtype(segments, torch.int64, "segment_ids")
    check_equal(ids, torch.tensor([101, *a, 102, *b, 102]), "ids")
    check_equal(segments, torch.tensor([0] * 9 + [1] * 5), "segment_ids (the last [SEP] belongs to segment 1)")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_accepts_tensors(bert):
    # contract: 1-D LongTensors in, the same layout out
    ids, segments = bert.build_pair_input(torch.tensor([7, 8]), torch.tensor([9, 10, 11]), cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, 7, 8, SEP, 9, 10, 11, SEP]), "ids from tensor inputs")
    check_equal(segments, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), "segment_ids from tensor inputs")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_single_sentence_random(bert, seed):
    # oracle: [CLS] a [SEP], segment 0 everywhere
    a = np.random.default_rng(seed + 2).integers(5, 100, size=5).tolist()
    ids, segments = bert.build_pair_input(a, None, cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, *a, SEP]), "ids of a single sentence")
    check_equal(segments, torch.zeros(7, dtype=torch.int64), "segment_ids of a single sentence")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_rejects_nested_lists(bert):
    # contract: tokens must be a flat sequence of ids
    with pytest.raises(ValueError):
        bert.build_pair_input([[1, 2], [3]], None, cls_id=CLS, sep_id=SEP)


# --- padding_mask -------------------------------------------------------------------------


@pytest.mark.exercise("padding_mask", points=1)
def test_padding_mask_random(bert, seed):
    # oracle: ids != pad_id, with two inserted axes (B, 1, 1, T)
    g = gen(seed, 3)
    ids = torch.randint(5, 50, (4, 9), generator=g)
    for row, length in enumerate([9, 3, 6, 1]):
        ids[row, length:] = 7  # pad id 7 this time
    mask = bert.padding_mask(ids, 7)
    check_tensor(mask, "padding_mask(ids, pad_id)")
    check_dtype(mask, torch.bool, "padding_mask(ids, pad_id)")
    check_shape(mask, (4, 1, 1, 9), "padding_mask(ids, pad_id)")
    check_equal(mask, (ids != 7)[:, None, None, :], "padding_mask(ids, pad_id)")


@pytest.mark.exercise("padding_mask", points=1)
def test_padding_mask_broadcasts_over_heads_and_queries(bert):
    # property: expanded to the scores (B, h, Tq, T), every query of every head sees the real keys only
    ids = torch.tensor([[5, 6, PAD], [5, PAD, PAD]])
    mask = bert.padding_mask(ids, PAD)
    full = torch.broadcast_to(mask, (2, 3, 3, 3))
    check_equal(full[:, 2, 1], torch.tensor([[True, True, False], [True, False, False]]), "mask of head 2, query 1")


@pytest.mark.exercise("padding_mask", points=1)
def test_padding_mask_rejects_1d(bert):
    # contract: ids must be (B, T)
    with pytest.raises(ValueError):
        bert.padding_mask(torch.tensor([5, 6, PAD]), PAD)


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


def masking_stats(ids, inputs, labels):
    normal = ~torch.isin(ids, torch.tensor(SPECIALS))
    selected = labels != -100
    n_sel = int(selected.sum())
    to_mask = selected & (inputs == MASK)
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
    inputs, labels = bert.mask_tokens(ids, MASK, 1000, SPECIALS, seed=seed)
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
    inputs, labels = bert.mask_tokens(ids, MASK, 1000, SPECIALS, seed=seed + 1)
    stats = masking_stats(ids, inputs, labels)
    for kind, want in (("mask", 0.8), ("random", 0.1), ("unchanged", 0.1)):
        assert abs(stats[kind] - want) < 0.02, (
            f"{stats[kind]:.1%} of the selected positions are '{kind}', expected {want:.0%} ± 2 %"
        )


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_labels_and_untouched_positions(bert, seed):
    # contract: labels = original id at selected positions, -100 elsewhere; unselected inputs unchanged;
    # special positions never selected
    ids = corpus(seed, 6, B=64, T=32)
    before = ids.clone()
    inputs, labels = bert.mask_tokens(ids, MASK, 1000, SPECIALS, mask_prob=0.3, seed=seed)
    selected = labels != -100
    check_unchanged(before, ids, "ids")
    check_equal(labels[selected], ids[selected], "labels at the selected positions")
    check_equal(inputs[~selected], ids[~selected], "inputs at the positions that were not selected")
    special = torch.isin(ids, torch.tensor(SPECIALS))
    assert not selected[special].any(), "a special token ([CLS], [SEP], [PAD], ...) was selected for masking"


@pytest.mark.exercise("mask_tokens", points=2)
def test_mask_tokens_never_draws_special_ids(bert, seed):
    # contract: random replacements are drawn from the vocabulary minus the special ids
    # (small vocabulary so that a draw from all ids would hit a special one often)
    ids = torch.randint(5, 12, (256, 64), generator=gen(seed, 7))
    inputs, labels = bert.mask_tokens(ids, MASK, 12, SPECIALS, mask_prob=0.5, seed=seed)
    replaced = (labels != -100) & (inputs != MASK) & (inputs != ids)
    assert replaced.any(), "no position was replaced by a random id"
    drawn = inputs[replaced]
    assert not torch.isin(drawn, torch.tensor(SPECIALS)).any(), "a random replacement drew a special id"
    assert int(drawn.min()) >= 0 and int(drawn.max()) < 12, "a random replacement lies outside the vocabulary"


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_random_ids_are_uniform(bert, seed):
    # property: random replacements are uniform over the non-special ids (chi-square, 7 dof, p = 0.001)
    # (originals are uniform too, so the draws that differ from the original stay uniform)
    ids = torch.randint(5, 13, (512, 128), generator=gen(seed, 8))
    inputs, labels = bert.mask_tokens(ids, MASK, 13, SPECIALS, mask_prob=0.5, seed=seed + 2)
    replaced = (labels != -100) & (inputs != MASK) & (inputs != ids)
    counts = torch.bincount(inputs[replaced], minlength=13)[5:13].double()
    expected = counts.sum() / 8
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert counts.sum() > 1000, "too few random replacements"
    assert chi2 < 24.32, "the random replacement ids are not uniform over the non-special vocabulary"


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_is_seeded(bert, seed):
    # contract: the same seed gives the same result, another seed a different one
    ids = corpus(seed, 9, B=32, T=32)
    a = bert.mask_tokens(ids, MASK, 1000, SPECIALS, seed=seed)
    b = bert.mask_tokens(ids, MASK, 1000, SPECIALS, seed=seed)
    c = bert.mask_tokens(ids, MASK, 1000, SPECIALS, seed=seed + 1)
    check_equal(a[0], b[0], "inputs of two calls with the same seed")
    check_equal(a[1], b[1], "labels of two calls with the same seed")
    assert not torch.equal(a[1], c[1]), "two different seeds selected exactly the same positions"


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_rejects_bad_mask_prob(bert):
    # contract: mask_prob outside [0, 1] -> ValueError
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError):
            bert.mask_tokens(torch.tensor([[5, 6]]), MASK, 10, SPECIALS, mask_prob=p)


# --- mlm_loss -----------------------------------------------------------------------------


@pytest.mark.exercise("mlm_loss", points=1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mlm_loss_matches_cross_entropy(bert, seed, dtype):
    # oracle: F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    g = gen(seed, 10 + (dtype == torch.float32))
    B, T, V = 3, 7, 11
    logits = (torch.randn(B, T, V, generator=g, dtype=torch.float64) * 3).to(dtype)
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[torch.rand(B, T, generator=g) < 0.6] = -100
    labels[0, 0] = 4  # at least one labelled position
    before = logits.clone()
    loss = bert.mlm_loss(logits, labels)
    check_tensor(loss, "mlm_loss(logits, labels)")
    check_shape(loss, (), "mlm_loss(logits, labels)")
    check_dtype(loss, dtype, "mlm_loss(logits, labels)")
    expected = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    check_close(loss, expected, "mlm_loss", **TOL[dtype])
    check_unchanged(before, logits, "logits")


@pytest.mark.exercise("mlm_loss", points=1)
def test_mlm_loss_is_stable_for_large_logits(bert, seed):
    # oracle: F.cross_entropy on logits around 1000 (a naive exp overflows)
    g = gen(seed, 12)
    logits = torch.randn(2, 5, 6, generator=g, dtype=torch.float64) + 1000.0
    labels = torch.randint(0, 6, (2, 5), generator=g)
    labels[1] = -100
    loss = bert.mlm_loss(logits, labels)
    check_finite(loss, "mlm_loss of large logits")
    expected = F.cross_entropy(logits.reshape(-1, 6), labels.reshape(-1), ignore_index=-100)
    check_close(loss, expected, "mlm_loss of large logits", **TOL[torch.float64])


@pytest.mark.exercise("mlm_loss", points=1)
def test_mlm_loss_without_labels_is_zero_random(bert, seed):
    # contract: no labelled position -> 0.0, finite (F.cross_entropy would give NaN here)
    logits = torch.randn(4, 6, 9, generator=gen(seed, 13), dtype=torch.float64)
    loss = bert.mlm_loss(logits, torch.full((4, 6), -100))
    check_finite(loss, "mlm_loss with every label -100")
    check_close(loss, torch.tensor(0.0, dtype=torch.float64), "mlm_loss with every label -100", rtol=0, atol=0)


@pytest.mark.exercise("mlm_loss", points=1)
def test_mlm_loss_rejects_labels_out_of_range(bert):
    # contract: a label that is neither -100 nor in 0 .. V-1 -> ValueError
    with pytest.raises(ValueError):
        bert.mlm_loss(torch.zeros(1, 2, 5), torch.tensor([[5, -100]]))


# --- make_nsp_pairs -----------------------------------------------------------------------


def make_documents(seed, k, n_docs=300):
    """Documents of 1..8 sentences; sentence j of document i starts with the unique id i*100 + j."""
    rng = np.random.default_rng(seed + k)
    docs = []
    for i in range(n_docs):
        n = int(rng.integers(1, 9))
        docs.append([[i * 100 + j, *rng.integers(1, 50, size=int(rng.integers(0, 4))).tolist()] for j in range(n)])
    return docs


def locate(sentence):
    """(document, sentence index) from a sentence's unique first id."""
    return divmod(int(sentence[0]), 100)


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_pairs_structure(bert, seed):
    # contract: one pair per adjacent sentence pair, in document order; is_next is a bool;
    # b is one of the corpus's sentences, unchanged
    docs = make_documents(seed, 14, n_docs=40)
    pairs = bert.make_nsp_pairs(docs, seed=seed)
    expected_a = [s for d in docs for s in d[:-1]]
    assert len(pairs) == len(expected_a), f"expected {len(expected_a)} pairs, got {len(pairs)}"
    assert [list(a) for a, _, _ in pairs] == expected_a, "the sentences a are not the adjacent pairs in order"
    for _, b, is_next in pairs:
        assert type(is_next) is bool, f"is_next should be a bool, got {type(is_next).__name__}"
        i, j = locate(b)
        assert list(b) == docs[i][j], "a sentence b is not one of the input sentences"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_positives_are_the_next_sentence(bert, seed):
    # contract: is_next=True <=> b is the sentence right after a
    docs = make_documents(seed, 15, n_docs=60)
    for a, b, is_next in bert.make_nsp_pairs(docs, seed=seed):
        (ia, ja), (ib, jb) = locate(a), locate(b)
        if is_next:
            assert (ib, jb) == (ia, ja + 1), "a pair with is_next=True does not hold the next sentence"


@pytest.mark.exercise("make_nsp_pairs", points=2)
def test_nsp_negatives_come_from_another_document(bert, seed):
    # contract: a negative pair's b comes from a DIFFERENT document than a
    docs = make_documents(seed, 16)
    negatives = [(a, b) for a, b, is_next in bert.make_nsp_pairs(docs, seed=seed) if not is_next]
    assert negatives, "no negative pairs"
    same = sum(locate(a)[0] == locate(b)[0] for a, b in negatives)
    assert same == 0, f"{same} of {len(negatives)} negative pairs take b from the same document as a"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_half_of_the_pairs_are_positive(bert, seed):
    # property: with ~1000 pairs the share of positives is 50 % ± 6 % (about 4 standard deviations)
    docs = make_documents(seed, 17)
    pairs = bert.make_nsp_pairs(docs, seed=seed + 3)
    share = sum(is_next for _, _, is_next in pairs) / len(pairs)
    assert abs(share - 0.5) < 0.06, f"{share:.1%} of the pairs are positive, expected about 50 %"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_negatives_are_spread_over_documents(bert, seed):
    # property: negatives draw b from many different documents (not always a neighbour), and
    # one-sentence documents can supply b too
    docs = make_documents(seed, 18)
    negatives = [b for _, b, is_next in bert.make_nsp_pairs(docs, seed=seed) if not is_next]
    sources = {locate(b)[0] for b in negatives}
    assert len(sources) > len(docs) // 3, f"negatives come from only {len(sources)} of {len(docs)} documents"
    single = {i for i, d in enumerate(docs) if len(d) == 1}
    assert sources & single, "no negative took b from a document of one sentence"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_pairs_are_seeded(bert, seed):
    # contract: the same seed gives the same pairs, another seed different ones
    docs = make_documents(seed, 19, n_docs=50)
    flags = [[f for _, _, f in bert.make_nsp_pairs(docs, seed=s)] for s in (seed, seed, seed + 1)]
    assert flags[0] == flags[1], "two calls with the same seed gave different pairs"
    assert flags[0] != flags[2], "two different seeds gave exactly the same pairs"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_nsp_rejects_a_single_document(bert):
    # contract: at least 2 documents (negatives need another document)
    with pytest.raises(ValueError):
        bert.make_nsp_pairs([[[1], [2], [3]]])


# --- nsp_logits ---------------------------------------------------------------------------


@pytest.mark.exercise("nsp_logits", points=1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_nsp_logits_match_torch(bert, seed, dtype):
    # oracle: nn.Linear(d, d) + tanh on hidden[:, 0], then nn.Linear(d, 2) (weights = W.T)
    g = gen(seed, 20 + (dtype == torch.float32))
    B, T, d = 4, 6, 8

    def rn(*s):
        return torch.randn(*s, generator=g, dtype=torch.float64).to(dtype)

    hidden, W_pool, b_pool, W_cls, b_cls = rn(B, T, d), rn(d, d) / math.sqrt(d), rn(d), rn(d, 2), rn(2)
    pool, cls = nn.Linear(d, d, dtype=dtype), nn.Linear(d, 2, dtype=dtype)
    with torch.no_grad():
        pool.weight.copy_(W_pool.T)
        pool.bias.copy_(b_pool)
        cls.weight.copy_(W_cls.T)
        cls.bias.copy_(b_cls)
        expected = cls(torch.tanh(pool(hidden[:, 0])))
    logits = bert.nsp_logits(hidden, W_pool, b_pool, W_cls, b_cls)
    check_tensor(logits, "nsp_logits")
    check_dtype(logits, dtype, "nsp_logits")
    check_close(logits, expected, "nsp_logits", **TOL[dtype])


@pytest.mark.exercise("nsp_logits", points=1)
def test_nsp_logits_read_only_the_cls_token(bert, seed):
    # property: changing every token except [CLS] (position 0) changes nothing
    g = gen(seed, 22)
    d = 6
    hidden = torch.randn(3, 5, d, generator=g, dtype=torch.float64)
    weights = [torch.randn(*s, generator=g, dtype=torch.float64) for s in ((d, d), (d,), (d, 2), (2,))]
    other = hidden.clone()
    other[:, 1:] = torch.randn(3, 4, d, generator=g, dtype=torch.float64)
    check_close(bert.nsp_logits(other, *weights), bert.nsp_logits(hidden, *weights),
                "nsp_logits after changing the non-[CLS] tokens", **TOL[torch.float64])  # fmt: skip


@pytest.mark.exercise("nsp_logits", points=1)
def test_nsp_logits_rejects_wrong_classifier(bert):
    # contract: W_cls must be (d, 2)
    with pytest.raises(ValueError):
        bert.nsp_logits(torch.zeros(2, 3, 4), torch.zeros(4, 4), torch.zeros(4), torch.zeros(4, 3), torch.zeros(2))
