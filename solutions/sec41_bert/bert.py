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

Given (not exercises): ``layer_norm`` and ``transformer_block``, the post-LN block of §40 with the
same parameters and conventions as your §40 ``transformer_block`` (built here from PyTorch's own
pieces, so that this section does not depend on your §40 file). ``bert_embeddings``,
``bert_encoder`` and ``classify`` put BERT together from them.
"""

import numpy as np
import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


# --- given: the §40 pieces BERT is built from (not exercises) ------------------------------


def layer_norm(x, p, eps=1e-5):
    """LayerNorm over the last dimension (given — you wrote it in §40).

    Args:
        x: ``(..., d)``.
        p: ``{"gamma": (d,), "beta": (d,)}``.
        eps: added to the biased variance inside the square root.

    Returns:
        ``(..., d)`` in ``x``'s dtype.
    """
    return F.layer_norm(x, x.shape[-1:], p["gamma"], p["beta"], eps)


def transformer_block(x, params, n_heads, mask=None):
    """The post-LN Transformer block of §40 (given — you wrote it as ``transformer_block``).

    ``x = layer_norm(x + attn(x)); x = layer_norm(x + ffn(x))`` with
    ``attn`` = multi-head self-attention (``W_q, b_q, ..., W_o, b_o``, weights ``(in, out)``) and
    ``ffn(x) = relu(x @ W1 + b1) @ W2 + b2``. A query whose keys are all masked gets attention
    output 0 before ``W_o`` (never NaN), as in §40.

    Args:
        x: ``(B, T, d)``.
        params: ``{"attn": {"W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o"},
            "ln1": {"gamma", "beta"}, "ffn": {"W1", "b1", "W2", "b2"}, "ln2": {"gamma", "beta"}}``.
        n_heads: number of heads ``h`` (divides ``d``).
        mask: optional bool, broadcastable to ``(B, h, T, T)``; True = may attend (e.g. a
            ``padding_mask`` ``(B, 1, 1, T)``).

    Returns:
        ``(B, T, d)`` in ``x``'s dtype.
    """
    a, f = params["attn"], params["ffn"]
    B, T, d = x.shape
    heads = lambda t: t.reshape(B, T, n_heads, d // n_heads).transpose(1, 2)  # noqa: E731  (B, h, T, d_h)
    q, k, v = (heads(x @ a[f"W_{n}"] + a[f"b_{n}"]) for n in "qkv")
    if mask is None:
        mask = torch.ones(1, 1, 1, 1, dtype=torch.bool)
    mask = torch.as_tensor(mask).expand(B, n_heads, T, T)
    anything = mask.any(dim=-1, keepdim=True)  # (B, h, T, 1): queries with at least one key
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~anything)
    out = torch.where(anything, out, torch.zeros_like(out))  # (B, h, T, d_h)
    attn = out.transpose(1, 2).reshape(B, T, d) @ a["W_o"] + a["b_o"]  # (B, T, d)
    x = layer_norm(x + attn, params["ln1"])
    ffn = torch.relu(x @ f["W1"] + f["b1"]) @ f["W2"] + f["b2"]
    return layer_norm(x + ffn, params["ln2"])


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
    """文ペアの入力 (sentence pair input): [CLS] a [SEP] b [SEP] とセグメント ID を作る。

    BERT's input for one sentence pair: ``[CLS] a [SEP] b [SEP]`` with segment ids.

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
    ### BEGIN SOLUTION
    a = _id_list(tokens_a, "tokens_a")
    ids = [cls_id, *a, sep_id]
    segments = [0] * len(ids)
    if tokens_b is not None:
        b = _id_list(tokens_b, "tokens_b")
        ids += [*b, sep_id]
        segments += [1] * (len(b) + 1)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(segments, dtype=torch.long)
    ### END SOLUTION


def padding_mask(ids, pad_id):
    """パディングマスク (padding mask): パディングを隠すマスク (mask) を作る。

    Attention mask that hides padding: True at real tokens, shaped to broadcast over heads and queries.

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
    ### BEGIN SOLUTION
    if ids.ndim != 2:
        raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
    return (ids != pad_id)[:, None, None, :]  # (B, 1, 1, T)
    ### END SOLUTION


def mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    """トークンのマスク (masking): マスク言語モデル (MLM) のためにトークンを隠す。

    BERT's masking for masked language modelling (MLM).

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
    ### BEGIN SOLUTION
    if ids.numel() == 0 or ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(f"ids must be a non-empty integer tensor, got {ids.dtype} {tuple(ids.shape)}")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob!r}")
    ids = ids.to(torch.long)
    special = torch.tensor(sorted({int(s) for s in special_ids}), dtype=torch.long)
    allowed = torch.arange(vocab_size, dtype=torch.long)
    allowed = allowed[~torch.isin(allowed, special)]  # ids a random replacement may take
    if allowed.numel() == 0:
        raise ValueError(f"vocab_size = {vocab_size} leaves no non-special id to draw")
    g = torch.Generator().manual_seed(int(seed))
    selected = (torch.rand(ids.shape, generator=g) < mask_prob) & ~torch.isin(ids, special)
    choice = torch.rand(ids.shape, generator=g)  # 80 / 10 / 10 among the selected
    to_mask = selected & (choice < 0.8)
    to_random = selected & (choice >= 0.8) & (choice < 0.9)
    random_ids = allowed[torch.randint(allowed.numel(), ids.shape, generator=g)]
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, random_ids, inputs)
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))
    return inputs, labels
    ### END SOLUTION


def mlm_loss(logits, labels):
    """MLM の損失 (masked language model loss): ラベルのある位置の交差エントロピーの平均。

    Masked-language-model loss: mean cross-entropy over the positions with a label.

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
    ### BEGIN SOLUTION
    if logits.ndim < 1 or tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"labels must have shape {tuple(logits.shape[:-1])}, got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    V = logits.shape[-1]
    labelled = labels != IGNORE_INDEX  # (...)
    if ((labels[labelled] < 0) | (labels[labelled] >= V)).any():
        raise ValueError(f"labels must be -100 or in 0 .. {V - 1}")
    log_probs = torch.log_softmax(logits, dim=-1)  # (..., V)
    target = torch.where(labelled, labels, torch.zeros_like(labels)).long()
    nll = -log_probs.gather(-1, target[..., None])[..., 0]  # (...)
    total = torch.where(labelled, nll, torch.zeros_like(nll)).sum()  # unlabelled positions add 0
    return total / labelled.sum().clamp(min=1)  # no labelled position: 0 / 1 = 0
    ### END SOLUTION


def make_nsp_pairs(documents, seed=0):
    """NSP の文ペア (next sentence prediction): 次文予測のための文のペアを作る。

    Sentence pairs for next sentence prediction (NSP).

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
    ### BEGIN SOLUTION
    if not isinstance(documents, (list, tuple)) or len(documents) < 2:
        raise ValueError("documents must be a list of at least 2 documents")
    if any(not isinstance(doc, (list, tuple)) or len(doc) == 0 for doc in documents):
        raise ValueError("documents must hold non-empty lists of sentences")
    rng = np.random.default_rng(seed)
    pairs = []
    for i, doc in enumerate(documents):
        for j in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[j], doc[j + 1], True))
            else:
                other = int(rng.integers(len(documents) - 1))
                other += other >= i  # skip the current document
                sentences = documents[other]
                pairs.append((doc[j], sentences[int(rng.integers(len(sentences)))], False))
    return pairs
    ### END SOLUTION


def nsp_logits(hidden, W_pool, b_pool, W_cls, b_cls):
    """NSP ヘッド (NSP head): [CLS] ベクトルをプールし IsNext / NotNext に分類する。

    The NSP head: pool the ``[CLS]`` vector, then classify IsNext / NotNext.

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
    ### BEGIN SOLUTION
    if hidden.ndim != 3 or hidden.shape[1] == 0:
        raise ValueError(f"hidden must have shape (B, T, d) with T >= 1, got {tuple(hidden.shape)}")
    d = hidden.shape[-1]
    for name, p, want in (
        ("W_pool", W_pool, (d, d)),
        ("b_pool", b_pool, (d,)),
        ("W_cls", W_cls, (d, 2)),
        ("b_cls", b_cls, (2,)),
    ):
        if tuple(p.shape) != want:
            raise ValueError(f"{name} must have shape {want}, got {tuple(p.shape)}")
    pooled = torch.tanh(hidden[:, 0] @ W_pool + b_pool)  # (B, d)
    return pooled @ W_cls + b_cls  # (B, 2)
    ### END SOLUTION


# --- BERT: input, encoder, fine-tuning head ---------------------------------------------------


def bert_embeddings(ids, segment_ids, params):
    """BERT の埋め込み (embedding): トークン・セグメント・位置の埋め込みの和を層正規化する。

    BERT's input vectors: token + segment + position embedding, then LayerNorm.

    ``e[b, t] = layer_norm(tok[ids[b, t]] + seg[segment_ids[b, t]] + pos[t])``. The token embedding
    says WHICH token, the segment embedding WHICH sentence (0 = first, 1 = second), the position
    embedding WHERE (BERT learns ``pos``; it is not §40's sinusoidal encoding).

    Args:
        ids: int tensor ``(B, T)``, ids in ``0 .. V-1``.
        segment_ids: int tensor ``(B, T)`` of 0 and 1 (from ``build_pair_input``).
        params: ``{"tok": (V, d), "seg": (2, d), "pos": (T_max, d), "ln": {"gamma": (d,), "beta": (d,)}}``.

    Returns:
        ``(B, T, d)`` in the embeddings' dtype.

    Raises:
        ValueError: ``ids`` not 2-D, not integer, with an id outside ``0 .. V-1`` or longer than
            ``T_max`` (names ``ids``); ``segment_ids`` not shaped like ``ids`` or holding a value other
            than 0 and 1 (names ``segment_ids``).

    Figure: chatgpt-book-ch6-41-3-next-sentence-prediction.png
    Hint: indexing a ``(V, d)`` table with a ``(B, T)`` tensor of ids gives ``(B, T, d)``; ``pos[:T]``
    ``(T, d)`` broadcasts over the batch; the given ``layer_norm`` does the rest.
    """
    ids, segment_ids = torch.as_tensor(ids), torch.as_tensor(segment_ids)
    ### BEGIN SOLUTION
    tok, seg, pos = (torch.as_tensor(params[k]) for k in ("tok", "seg", "pos"))
    if ids.ndim != 2 or ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(f"ids must be an integer tensor (B, T), got {ids.dtype} {tuple(ids.shape)}")
    B, T = ids.shape
    if T > pos.shape[0]:
        raise ValueError(f"ids has T = {T} positions, more than the {pos.shape[0]} rows of params['pos']")
    if ids.numel() and (ids.min() < 0 or ids.max() >= tok.shape[0]):
        raise ValueError(f"ids must lie in 0 .. {tok.shape[0] - 1}")
    if tuple(segment_ids.shape) != (B, T) or segment_ids.is_floating_point():
        raise ValueError(
            f"segment_ids must be an integer tensor shaped like ids {(B, T)}, got {tuple(segment_ids.shape)}"
        )
    if ((segment_ids != 0) & (segment_ids != 1)).any():
        raise ValueError("segment_ids must hold only 0 and 1")
    e = tok[ids] + seg[segment_ids.long()] + pos[:T]  # (B, T, d)
    return layer_norm(e, params["ln"])
    ### END SOLUTION


def bert_encoder(ids, segment_ids, params, n_heads, pad_id):
    """BERT のエンコーダ (encoder): 埋め込みの後、パディングを無視するブロックを積み重ねる。

    BERT's encoder: the embeddings, then a stack of §40 post-LN blocks that ignore padding.

    ``x = bert_embeddings(ids, segment_ids, params)``, then for each ``block`` of ``params["blocks"]``
    ``x = transformer_block(x, block, n_heads, mask=padding_mask(ids, pad_id))``. The mask hides the
    padded KEYS from every query, so padded positions never change the outputs at real positions
    (the outputs AT padded positions are computed too, but mean nothing).

    Args:
        ids: int tensor ``(B, T)``, padded with ``pad_id``.
        segment_ids: int tensor ``(B, T)`` of 0 and 1.
        params: the ``bert_embeddings`` entries plus ``"blocks"``: a list of §40 block parameters
            (``{"attn", "ln1", "ffn", "ln2"}``), applied in order (an empty list: embeddings only).
        n_heads: number of attention heads (divides ``d``).
        pad_id: the id used for padding.

    Returns:
        ``(B, T, d)``: one vector per token; ``[:, 0]`` is the ``[CLS]`` vector ``classify`` reads.

    Raises:
        ValueError: as ``bert_embeddings``; ``n_heads`` not an int dividing ``d`` (a bool or a float is
            not; names ``n_heads``); ``params`` not a dict, or ``params["blocks"]`` missing or not a
            list (names ``params`` and ``blocks``).

    Figure: chatgpt-book-ch6-41-1-bert-finetuning-flow.png
    Hint: build the mask once with your ``padding_mask``; a ``for`` loop over the blocks.
    """
    ids = torch.as_tensor(ids)
    ### BEGIN SOLUTION
    blocks = params.get("blocks") if isinstance(params, dict) else None
    if not isinstance(blocks, (list, tuple)):
        raise ValueError("params must hold a list of block parameters under 'blocks'")
    d = torch.as_tensor(params["tok"]).shape[-1]
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or d % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of d = {d}, got {n_heads!r}")
    x = bert_embeddings(ids, segment_ids, params)  # (B, T, d)
    mask = padding_mask(ids, pad_id)  # (B, 1, 1, T)
    for block in blocks:
        x = transformer_block(x, block, n_heads, mask=mask)
    return x
    ### END SOLUTION


def classify(hidden, W, b):
    """分類ヘッド (classification head): 最後の [CLS] ベクトルに線形分類器を適用する (ファインチューニング)。

    The fine-tuning head: a linear classifier on the final ``[CLS]`` vector.

    ``logits = hidden[:, 0] @ W + b``. Fine-tuning trains this head (and usually the encoder too)
    on a labelled task; the other positions are not read.

    Args:
        hidden: ``(B, T, d)`` from ``bert_encoder``; position 0 is ``[CLS]``.
        W: ``(d, C)``; b: ``(C,)``, for ``C`` classes.

    Returns:
        ``(B, C)`` logits in ``hidden``'s dtype.

    Raises:
        ValueError: ``hidden`` not 3-D or with ``T = 0`` (names ``hidden``); ``W`` or ``b`` of the
            wrong shape (names it).

    Figure: chatgpt-book-ch6-41-1-bert-finetuning-flow.png
    Hint: one line, like the second half of ``nsp_logits`` without the pooler.
    """
    hidden, W, b = torch.as_tensor(hidden), torch.as_tensor(W), torch.as_tensor(b)
    ### BEGIN SOLUTION
    if hidden.ndim != 3 or hidden.shape[1] == 0:
        raise ValueError(f"hidden must have shape (B, T, d) with T >= 1, got {tuple(hidden.shape)}")
    if W.ndim != 2 or W.shape[0] != hidden.shape[-1]:
        raise ValueError(f"W must have shape (d, C) with d = {hidden.shape[-1]}, got {tuple(W.shape)}")
    if tuple(b.shape) != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},), got {tuple(b.shape)}")
    return hidden[:, 0] @ W + b  # (B, C)
    ### END SOLUTION
