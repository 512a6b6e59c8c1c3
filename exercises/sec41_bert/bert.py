"""§41 BERT — the inputs and the two pre-training tasks of BERT, in PyTorch.

Names used throughout:

    ids          token ids, int64                                        (B, T) or (T,)
    [CLS]        the first token; its final vector summarises the pair (cls_id)
    [SEP]        ends each segment (sep_id)
    [MASK]       replaces a token the model must guess (mask_id)
    segment_ids  0 for the first sentence (with [CLS] and its [SEP]), 1 for the second
    labels       the original id at a masked position, -100 ("ignore") everywhere else
    MLM          masked language modelling: guess the masked tokens
    NSP          next sentence prediction: is sentence b the one that follows a?

Conventions (see the course contract): weights are laid out (in, out) and applied as ``x @ W + b``;
boolean masks mean True = real token / may attend; randomness comes only from the ``seed``
argument (a ``torch.Generator`` or ``np.random.default_rng`` seeded with it), so the same call
gives the same result everywhere; inputs are never modified; bad arguments raise ``ValueError``
naming the argument.

Rule of this section: ``mlm_loss`` teaches the masked mean of the cross-entropy, so it must NOT
call ``torch.nn.functional.cross_entropy`` / ``nll_loss`` or ``torch.nn.CrossEntropyLoss`` /
``NLLLoss`` (which would do the ignoring and averaging for you); ``torch.log_softmax`` is fine.
``nsp_logits`` writes its two affine maps by hand (no ``torch.nn.Linear``). The grader checks
this: an exercise that calls its shortcut scores 0 even when its numbers are right.
"""

import numpy as np
import torch

IGNORE_INDEX = -100


def _id_list(tokens, name):
    """A sequence of token ids (list, tuple, 1-D tensor or array) as a list of Python ints."""
    if isinstance(tokens, (torch.Tensor, np.ndarray)):
        if tokens.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {tuple(tokens.shape)}")
        tokens = tokens.tolist()
    if not isinstance(tokens, (list, tuple)):
        raise ValueError(f"{name} must be a list of ints, got {type(tokens).__name__}")
    out = []
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise ValueError(f"{name} must hold ints, got an element {t!r}")
        out.append(int(t))
    return out


def build_pair_input(tokens_a, tokens_b, cls_id, sep_id):
    """BERT's input for one sentence pair: ``[CLS] a [SEP] b [SEP]`` with segment ids.

    Args:
        tokens_a: ids of the first sentence (list of ints or 1-D tensor; may be empty).
        tokens_b: ids of the second sentence, or ``None`` for a single sentence (an empty ``b`` is
            still a pair: ``[CLS] a [SEP] [SEP]``).
        cls_id, sep_id: ids of ``[CLS]`` and ``[SEP]``.

    Returns:
        ``(ids, segment_ids)``: two 1-D int64 tensors of the same length.
        With ``b``: ``ids = [CLS] a [SEP] b [SEP]``, ``segment_ids = 0`` for ``[CLS] a [SEP]``
        and ``1`` for ``b [SEP]`` (the final ``[SEP]`` belongs to segment 1).
        Without ``b``: ``ids = [CLS] a [SEP]``, all segment ids 0.

    Raises:
        ValueError: ``tokens_a`` / ``tokens_b`` is not a flat sequence of ints (names it).

    Figure: chatgpt-book-ch6-41-1-bert-finetuning-flow.png
    Hint: build Python lists and convert once with ``torch.tensor(..., dtype=torch.long)``.
    """
    raise NotImplementedError("build_pair_input: your code here (see the docstring)")


def padding_mask(ids, pad_id):
    """Attention mask that hides padding: True at real tokens, shaped to broadcast over heads and queries.

    Args:
        ids: int tensor ``(B, T)``.
        pad_id: the id used for padding.

    Returns:
        bool tensor ``(B, 1, 1, T)``: ``mask[b, 0, 0, t] = ids[b, t] != pad_id``. It broadcasts to the
        attention scores ``(B, h, Tq, T)``: every head and every query ignores the padded KEYS.

    Raises:
        ValueError: ``ids`` is not 2-D (names ``ids``).

    Figure: chatgpt-book-ch6-41-1-bert-finetuning-flow.png
    Hint: a comparison gives the bool ``(B, T)``; insert the two axes with ``[:, None, None, :]``.
    """
    ids = torch.as_tensor(ids)
    raise NotImplementedError("padding_mask: your code here (see the docstring)")


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    """BERT's masking for masked language modelling (MLM).

    Every position whose id is not special is selected independently with probability
    ``mask_prob``. A selected position is replaced by ``mask_id`` with probability 0.8, by a random
    id with probability 0.1 (drawn uniformly from ``0 .. vocab_size-1`` minus ``special_ids``; it
    may by chance equal the original id) and left unchanged with probability 0.1. Special ids are
    never selected, and never drawn as random replacements. (List ``mask_id`` among the specials,
    together with ``[CLS]``, ``[SEP]`` and ``[PAD]``.)

    Args:
        ids: int tensor of any shape, e.g. ``(B, T)``, not empty.
        mask_id: id of ``[MASK]``.
        vocab_size: size of the vocabulary; ids are ``0 .. vocab_size-1``.
        special_ids: iterable of special ids.
        mask_prob: selection probability, in ``[0, 1]``.
        seed: int; the same seed gives the same result (a ``torch.Generator`` seeded with it).

    Returns:
        ``(inputs, labels)``, both int64 tensors of ``ids``'s shape: ``inputs`` is the corrupted
        copy the model reads; ``labels`` holds the original id at selected positions and -100
        everywhere else. ``ids`` itself is unchanged.

    Raises:
        ValueError: ``ids`` empty or not integer (names ``ids``); ``mask_prob`` outside ``[0, 1]``;
            ``vocab_size`` leaves no non-special id to draw (names ``vocab_size``).

    Figure: chatgpt-book-ch6-41-2-bert-masked-lm.png
    Hint: draw one uniform number per position to select, another to choose among 80 / 10 / 10;
    ``torch.isin`` finds special positions; index a tensor of the allowed ids with ``torch.randint``.
    """
    ids = torch.as_tensor(ids)
    raise NotImplementedError("mask_tokens: your code here (see the docstring)")


def mlm_loss(logits, labels):
    """Masked-language-model loss: mean cross-entropy over the positions with a label.

    ``loss = mean over {n : labels[n] != -100} of  -log softmax(logits[n])[labels[n]]``.
    Positions labelled -100 contribute nothing, neither to the sum nor to the count. With no
    labelled position at all the loss is 0.0 (not NaN) and still part of the autograd graph.

    Args:
        logits: float ``(..., V)``, e.g. ``(B, T, V)``.
        labels: int ``(...)`` (``logits.shape[:-1]``), each ``-100`` or in ``0 .. V-1``.

    Returns:
        0-d tensor in ``logits``'s dtype; ``loss.backward()`` works.

    Raises:
        ValueError: ``labels`` has the wrong shape, is not integer, or holds an id outside
            ``0 .. V-1`` other than -100 (names ``labels``).

    Do not call ``torch.nn.functional.cross_entropy`` / ``nll_loss`` or ``torch.nn.CrossEntropyLoss``
    / ``NLLLoss``: the masked mean is the exercise. ``torch.log_softmax`` is allowed.

    Figure: chatgpt-book-ch6-41-2-bert-masked-lm.png
    Hint: ``torch.log_softmax`` is stable; pick the label's entry with ``gather`` (replace -100 by 0
    first), then sum over the labelled positions and divide by their count (at least 1).
    """
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    raise NotImplementedError("mlm_loss: your code here (see the docstring)")


def make_nsp_pairs(documents, seed=0):
    """Sentence pairs for next sentence prediction (NSP).

    For every document and every adjacent pair of its sentences ``(s_j, s_{j+1})``, in order, one
    pair ``(a, b, is_next)`` with ``a = s_j``: with probability 1/2 ``b = s_{j+1}`` and
    ``is_next = True``; otherwise ``b`` is a random sentence of a random DIFFERENT document (each
    other document equally likely, then each of its sentences) and ``is_next = False``.

    Args:
        documents: list of at least 2 documents; a document is a non-empty list of sentences; a
            sentence is a list of ids. (A one-sentence document gives no pair but can supply ``b``.)
        seed: int; the same seed gives the same pairs (``np.random.default_rng(seed)``).

    Returns:
        list of ``(a, b, is_next)`` tuples — ``a`` and ``b`` are the sentence lists themselves,
        ``is_next`` a Python bool; ``sum(len(doc) - 1 for doc in documents)`` pairs.

    Raises:
        ValueError: fewer than 2 documents, or an empty document (names ``documents``).

    Figure: chatgpt-book-ch6-41-3-next-sentence-prediction.png
    Hint: draw the other document's index from ``len(documents) - 1`` choices and skip over the
    current one, so that the current document can never be chosen.
    """
    raise NotImplementedError("make_nsp_pairs: your code here (see the docstring)")


def nsp_logits(hidden, W_pool, b_pool, W_cls, b_cls):
    """The NSP head: pool the ``[CLS]`` vector, then classify IsNext / NotNext.

    ``pooled = tanh(hidden[:, 0] @ W_pool + b_pool)`` and ``logits = pooled @ W_cls + b_cls``.

    Args:
        hidden: final hidden states ``(B, T, d)``; position 0 is ``[CLS]``.
        W_pool: ``(d, d)``; b_pool: ``(d,)``; W_cls: ``(d, 2)``; b_cls: ``(2,)``.

    Returns:
        ``(B, 2)`` logits in ``hidden``'s dtype: column 0 = NotNext, column 1 = IsNext.

    Raises:
        ValueError: ``hidden`` not 3-D (names ``hidden``) or a weight of the wrong shape (names it).

    Do not use ``torch.nn.Linear`` / ``torch.nn.functional.linear``: write the two affine maps.

    Figure: chatgpt-book-ch6-41-3-next-sentence-prediction.png
    Hint: only the first token of each sequence is used; ``hidden[:, 0]`` is ``(B, d)``.
    """
    hidden, W_pool, b_pool, W_cls, b_cls = (torch.as_tensor(t) for t in (hidden, W_pool, b_pool, W_cls, b_cls))
    raise NotImplementedError("nsp_logits: your code here (see the docstring)")
