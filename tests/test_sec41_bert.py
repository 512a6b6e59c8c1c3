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


# --- bert_embeddings, bert_encoder, classify ------------------------------------------------


def small_bert_params(g, V=12, T_max=8, d=4, n_blocks=1, dtype=torch.float64):
    """Random embeddings (and §40 block parameters) small enough to read."""

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=dtype) * scale

    def block():
        return {
            "attn": {
                k: r(d, d, scale=d**-0.5) if k[0] == "W" else r(d, scale=0.2)
                for k in ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")
            },  # fmt: skip
            "ln1": {"gamma": 1 + r(d, scale=0.3), "beta": r(d, scale=0.3)},
            "ffn": {
                "W1": r(d, 2 * d, scale=d**-0.5),
                "b1": r(2 * d, scale=0.2),
                "W2": r(2 * d, d, scale=(2 * d) ** -0.5),
                "b2": r(d, scale=0.2),
            },  # fmt: skip
            "ln2": {"gamma": 1 + r(d, scale=0.3), "beta": r(d, scale=0.3)},
        }

    return {
        "tok": r(V, d),
        "seg": r(2, d),
        "pos": r(T_max, d),
        "ln": {"gamma": 1 + r(d, scale=0.3), "beta": r(d, scale=0.3)},
        "blocks": [block() for _ in range(n_blocks)],
    }


@pytest.mark.exercise("bert_embeddings", points=1)
def test_bert_embeddings_by_hand(bert):
    # oracle: F.layer_norm(tok[ids] + seg[segment_ids] + pos[:T]) with the params' gamma and beta
    p = small_bert_params(torch.Generator().manual_seed(1))
    ids = torch.tensor([[CLS, 5, SEP, 7, SEP], [CLS, 6, 6, SEP, PAD]])
    segments = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])
    e = call(bert, "bert_embeddings", ids, segments, p)
    check_tensor(e, "bert_embeddings")
    check_shape(e, (2, 5, 4), "bert_embeddings(ids (2, 5), ...) with d = 4")
    x = p["tok"][ids] + p["seg"][segments] + p["pos"][:5]
    expected = torch.nn.functional.layer_norm(x, (4,), p["ln"]["gamma"], p["ln"]["beta"], 1e-5)
    check_close(e, expected, "layer_norm(tok[ids] + seg[segment_ids] + pos[:T]): did you add all three and normalise?",
                rtol=1e-7, atol=1e-10)  # fmt: skip


@pytest.mark.exercise("bert_embeddings", points=1)
def test_bert_embeddings_depend_on_position(bert):
    # oracle: the same token twice in one sequence gets two different vectors (pos[1] != pos[2])
    p = small_bert_params(torch.Generator().manual_seed(2))
    ids = torch.tensor([[CLS, 6, 6, SEP]])
    e = call(bert, "bert_embeddings", ids, torch.zeros(1, 4, dtype=torch.long), p)
    assert not torch.allclose(e[0, 1], e[0, 2]), "token 6 at positions 1 and 2 has the same vector: add pos[:T]"


@pytest.mark.exercise("bert_encoder", points=1)
def test_bert_encoder_is_blocks_over_embeddings(bert):
    # oracle: the embeddings by F.layer_norm, then the given transformer_block with the padding mask, by hand
    p = small_bert_params(torch.Generator().manual_seed(3), n_blocks=2)
    ids = torch.tensor([[CLS, 5, SEP, 7, SEP], [CLS, 6, SEP, PAD, PAD]])
    segments = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])
    out = call(bert, "bert_encoder", ids, segments, p, 2, PAD)
    check_shape(out, (2, 5, 4), "bert_encoder(ids (2, 5), ...) with d = 4")
    x = p["tok"][ids] + p["seg"][segments] + p["pos"][:5]
    x = torch.nn.functional.layer_norm(x, (4,), p["ln"]["gamma"], p["ln"]["beta"], 1e-5)  # the embeddings
    mask = (ids != PAD)[:, None, None, :]
    for block in p["blocks"]:
        x = call(bert, "transformer_block", x, block, 2, mask=mask)
    check_close(out, x, "bert_encoder = the blocks in order over the embeddings, with padding_mask(ids, pad_id)",
                rtol=1e-7, atol=1e-10)  # fmt: skip


@pytest.mark.exercise("bert_encoder", points=1, needs_core=True)
def test_bert_encoder_ignores_padding(bert):
    # property: a sequence padded with two [PAD] gives the same vectors at its real positions as alone
    p = small_bert_params(torch.Generator().manual_seed(4), n_blocks=2)
    ids = torch.tensor([[CLS, 5, 8, SEP]])
    alone = call(bert, "bert_encoder", ids, torch.zeros(1, 4, dtype=torch.long), p, 2, PAD)
    padded_ids = torch.tensor([[CLS, 5, 8, SEP, PAD, PAD]])
    padded = call(bert, "bert_encoder", padded_ids, torch.zeros(1, 6, dtype=torch.long), p, 2, PAD)
    check_close(padded[:, :4], alone, "real positions of a padded sequence: is padding_mask passed to every block?",
                rtol=1e-7, atol=1e-10)  # fmt: skip


@pytest.mark.exercise("classify", points=1)
def test_classify_reads_the_cls_vector(bert):
    # oracle: hidden[:, 0] @ W + b written out; the other positions differ and must not matter
    hidden = torch.tensor([[[1.0, 2.0], [5.0, -5.0], [9.0, 9.0]], [[-1.0, 0.5], [3.0, 3.0], [0.0, 7.0]]],
                          dtype=torch.float64)  # fmt: skip
    W = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    logits = call(bert, "classify", hidden, W, b)
    check_shape(logits, (2, 3), "classify(hidden (2, 3, 2), W (2, 3), b)")
    expected = torch.tensor([[2.1, 4.2, 1.3], [-0.65, 1.2, 1.8]], dtype=torch.float64)
    check_close(logits, expected, "classify = hidden[:, 0] @ W + b (the [CLS] vector is position 0)", rtol=1e-7,
                atol=1e-12, show_values=True)  # fmt: skip


@pytest.mark.exercise("build_pair_input", points=1)
def test_build_pair_input_with_an_empty_second_sentence(bert):
    # oracle: an empty b is still a pair, [CLS] a [SEP] [SEP], the final [SEP] in segment 1, written out
    ids, segments = call(bert, "build_pair_input", [5, 6], [], cls_id=CLS, sep_id=SEP)
    check_equal(ids, torch.tensor([CLS, 5, 6, SEP, SEP]), "ids of [CLS] 5 6 [SEP] [SEP] (b = []: test `is None`)")
    check_equal(segments, torch.tensor([0, 0, 0, 0, 1]), "segment_ids of a pair with an empty b")


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_splits_80_10_10(bert):
    # oracle: the shares of the book's rule on 20000 selected tokens: 80 % [MASK], 10 % a random id
    # (among 996 allowed ids, so almost always a different one), 10 % unchanged; 0.02 is > 6 sigma
    ids = torch.randint(4, 1000, (20, 1000), generator=torch.Generator().manual_seed(0))
    inputs, _ = call(bert, "mask_tokens", ids, MASK, vocab_size=1000, special_ids=[PAD, CLS, SEP, MASK],
                     mask_prob=1.0, seed=0)  # fmt: skip
    masked = (inputs == MASK).double().mean().item()
    unchanged = (inputs == ids).double().mean().item()
    replaced = 1.0 - masked - unchanged
    shares = f"[MASK] {masked:.3f}, random {replaced:.3f}, unchanged {unchanged:.3f}"
    assert abs(masked - 0.8) < 0.02, f"shares of the selected tokens: {shares}; expected 0.8 / 0.1 / 0.1"
    assert abs(replaced - 0.1) < 0.02, f"shares of the selected tokens: {shares}; expected 0.8 / 0.1 / 0.1"
    assert abs(unchanged - 0.1) < 0.02, f"shares of the selected tokens: {shares}; expected 0.8 / 0.1 / 0.1"


@pytest.mark.exercise("mask_tokens", points=1)
def test_mask_tokens_never_draws_a_special_id(bert):
    # oracle: the allowed replacements of vocab_size = 6 minus the specials {0, 1, 2, 3} are 4 and 5,
    # so every input is [MASK], 4 or 5 (1000 selected tokens give about 100 random draws)
    ids = torch.randint(4, 6, (10, 100), generator=torch.Generator().manual_seed(0))
    inputs, _ = call(bert, "mask_tokens", ids, MASK, vocab_size=6, special_ids=[PAD, CLS, SEP, MASK],
                     mask_prob=1.0, seed=0)  # fmt: skip
    drawn = sorted(set(inputs.flatten().tolist()) - {MASK, 4, 5})
    assert not drawn, f"inputs hold the special ids {drawn}: draw random replacements from the non-special ids only"


@pytest.mark.exercise("make_nsp_pairs", points=1)
def test_make_nsp_pairs_negative_from_another_document(bert):
    # oracle: documents with disjoint ids (document i holds 10 i, 10 i + 1, ...): a negative b
    # must come from a different document than its a, i.e. b[0] // 10 != a[0] // 10
    docs = [[[10 * i + j] for j in range(6)] for i in range(4)]
    pairs = call(bert, "make_nsp_pairs", docs, seed=0)
    negatives = [(a, b) for a, b, is_next in pairs if not is_next]
    assert negatives, "20 pairs and no negative one: is_next should be False with probability 1/2"
    for a, b in negatives:
        assert b[0] // 10 != a[0] // 10, f"the negative pair a = {a}, b = {b} takes b from a's own document"
