"""Public tests for §41 BERT (exercises/sec41_bert/bert.py).

Small, readable checks on hand-made inputs; the hidden suite adds random inputs, the
F.cross_entropy oracle and statistics of the masking and of the NSP pairs on many tokens.
Run: `pytest tests/test_sec41_bert.py`.
"""

import math

import pytest
import torch

from grader.calls import call
from grader.checks import check_close, check_dtype, check_equal, check_shape, check_tensor

CLS, SEP, PAD, MASK = 1, 2, 0, 3


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_for_a_pair(bert):
    # oracle: [CLS] a [SEP] b [SEP] with segments 0 0 0 0 | 1 1, written out
    ids, segments = call(bert, "build_pair_input", [5, 6], [7], cls_id=CLS, sep_id=SEP)
    check_tensor(ids, "ids")
    check_dtype(ids, torch.int64, "ids")
    check_equal(ids, torch.tensor([CLS, 5, 6, SEP, 7, SEP]), "ids of [CLS] 5 6 [SEP] 7 [SEP]")
    check_equal(segments, torch.tensor([0, 0, 0, 0, 1, 1]), "segment_ids of [CLS] 5 6 [SEP] 7 [SEP]")


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_single_sentence(bert):
    # oracle: without b the input is [CLS] a [SEP], all in segment 0
    ids, segments = call(bert, "build_pair_input", [5, 6], None, cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, 5, 6, SEP]), "ids of [CLS] 5 6 [SEP]")
    check_equal(segments, torch.tensor([0, 0, 0, 0]), "segment_ids of a single sentence")


@pytest.mark.exercise("padding_mask", points=1)
def test_padding_mask_marks_real_tokens(bert):
    # oracle: True where the id is not the pad id, shaped (B, 1, 1, T)
    ids = torch.tensor([[CLS, 5, SEP, PAD], [CLS, 5, 6, SEP]])
    mask = call(bert, "padding_mask", ids, PAD)
    check_shape(mask, (2, 1, 1, 4), "padding_mask(ids)")
    check_dtype(mask, torch.bool, "padding_mask(ids)")
    check_equal(mask[:, 0, 0], torch.tensor([[True, True, True, False], [True, True, True, True]]), "padding_mask")


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_with_probability_one_selects_every_normal_token(bert):
    # oracle: mask_prob=1 selects every non-special position; labels keep their original ids
    ids = torch.tensor([[CLS, 10, 11, 12, SEP, PAD]])
    inputs, labels = call(
        bert, "mask_tokens", ids, MASK, vocab_size=20, special_ids=[PAD, CLS, SEP, MASK], mask_prob=1.0
    )
    check_shape(labels, (1, 6), "labels")
    check_equal(labels, torch.tensor([[-100, 10, 11, 12, -100, -100]]), "labels with mask_prob=1")
    check_equal(inputs[0, [0, 4, 5]], torch.tensor([CLS, SEP, PAD]), "inputs at the special tokens")


@pytest.mark.exercise("mlm_loss", points=1)
def test_mlm_loss_of_uniform_logits_is_log_v(bert):
    # oracle: with equal logits every id has probability 1/V, so the cross-entropy is log V
    logits = torch.zeros(1, 3, 8, dtype=torch.float64)
    labels = torch.tensor([[-100, 4, 7]])
    loss = call(bert, "mlm_loss", logits, labels)
    check_close(loss, torch.tensor(math.log(8.0), dtype=torch.float64), "mlm_loss", rtol=1e-7, atol=1e-12,
                show_values=True)  # fmt: skip


@pytest.mark.exercise("mlm_loss", points=1, needs_core=True)
def test_mlm_loss_without_labels_is_zero(bert):
    # contract: no labelled position -> 0.0 (not NaN)
    loss = call(bert, "mlm_loss", torch.zeros(2, 3, 5), torch.full((2, 3), -100))
    check_close(loss, torch.tensor(0.0), "mlm_loss with every label -100", rtol=0, atol=0, show_values=True)


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_make_nsp_pairs_structure(bert):
    # oracle: one pair per adjacent sentence pair, in order; a positive pair holds the true next sentence
    docs = [[[1], [2], [3]], [[10], [11]]]
    pairs = call(bert, "make_nsp_pairs", docs, seed=0)
    assert len(pairs) == 3, f"expected 3 pairs (2 from the first document, 1 from the second), got {len(pairs)}"
    assert [list(a) for a, _, _ in pairs] == [[1], [2], [10]], "the sentences a should be [1], [2], [10] in order"
    for a, b, is_next in pairs:
        if is_next:
            assert list(b) == [a[0] + 1], f"a positive pair with a = {a} should have b = [{a[0] + 1}], got {b}"


@pytest.mark.exercise("nsp_logits", points=1)
def test_nsp_logits_by_hand(bert):
    # oracle: with W_pool = 0 and b_pool = 0 the pooled vector is tanh(0) = 0, so the logits are b_cls
    hidden = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0))
    b_cls = torch.tensor([0.25, -0.5])
    logits = call(bert, "nsp_logits", hidden, torch.zeros(5, 5), torch.zeros(5), torch.ones(5, 2), b_cls)
    check_shape(logits, (3, 2), "nsp_logits")
    check_close(logits, b_cls.expand(3, 2), "nsp_logits when the pooler outputs 0", rtol=0, atol=1e-7, show_values=True)


@pytest.mark.exercise("nsp_logits", points=1)
def test_nsp_logits_pool_the_cls_token(bert):
    # oracle: with W_pool = I and b_pool = 0 the pooled vector is tanh(hidden[:, 0]); the other
    # tokens differ from [CLS] and must not matter
    hidden = torch.tensor([[[0.5, -1.0], [3.0, 3.0]], [[2.0, 0.0], [-3.0, 1.0]]], dtype=torch.float64)
    W_cls = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=torch.float64)
    b_cls = torch.tensor([0.1, -0.2], dtype=torch.float64)
    logits = call(bert, "nsp_logits", hidden, torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64),
                  W_cls, b_cls)  # fmt: skip
    expected = torch.tanh(hidden[:, 0]) @ W_cls + b_cls
    check_close(logits, expected, "nsp_logits = tanh(hidden[:, 0] @ W_pool + b_pool) @ W_cls + b_cls", rtol=1e-7,
                atol=1e-12, show_values=True)  # fmt: skip
