"""§38 注意機構 — attention before the Transformer: memory networks and attention in seq2seq, in NumPy.

Names from the math, used throughout:

    B      batch size
    V      vocabulary size; D width of an embedding / memory vector
    N      number of memories (sentences of a story); W words per sentence
    S      number of encoder states (source tokens); H width of an RNN state
    query  what we look for: a question vector u, or the decoder state h_t       (B, D)
    keys   what each memory is matched by (m_i, or the encoder states)         (B, N, D)
    values what each memory returns when chosen (c_i, or the encoder states)   (B, N, Dv)
    p, w   attention weights = softmax of the query-key scores, one row per query (B, N)
    ctx    context = weighted sum of the values, sum_i p_i c_i                  (B, Dv)

Conventions (see the course contract): weights are laid out (in, out) and applied as ``x @ W + b``;
boolean masks mean True = "may attend"; a query whose keys are all masked gets weights 0 and
output 0; functions return the input's floating dtype and never modify their inputs.

``softmax`` and ``rnn_step`` below are given (you write them yourself in §39 and §37).
"""

import numpy as np


def _float_dtype(x):
    """The dtype results are returned in: the input's floating dtype, float64 for anything else."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def softmax(scores, mask=None):
    """Given: stable softmax over the last axis; masked entries (False) get 0, a fully masked row is all 0."""
    scores = np.asarray(scores)
    keep = np.ones(scores.shape, dtype=bool) if mask is None else np.broadcast_to(mask, scores.shape)
    top = np.max(np.where(keep, scores, -np.inf), axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.where(keep, np.exp(np.where(keep, scores - top, 0)), 0)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1)


def rnn_step(x_t, h_prev, W_x, W_h, b):
    """Given (§37): one step of a simple RNN, ``tanh(x_t W_x + h_prev W_h + b)``."""
    return np.tanh(x_t @ W_x + h_prev @ W_h + b)


def bag_of_words(ids, E, pad_id=0):
    """Bag-of-Words (bag of words): パディングを除く単語の埋め込み (embedding) の和で文を表す。

    Bag-of-words vector of a sentence: the sum of the embeddings of its words, padding excluded.

    Args:
        ids: int array ``(..., W)`` of word ids in ``[0, V)`` (the last axis is the words of one
            sentence; any leading axes, e.g. ``(B, N, W)`` for a batch of stories).
        E: embedding matrix ``(V, D)``.
        pad_id: the padding id; its embedding is never added.

    Returns:
        ``(..., D)`` in ``E``'s float dtype (a sentence of padding only gives the zero vector).

    Raises:
        ValueError: ``ids`` is not an int array with at least 1 dimension or holds an id outside
        ``[0, V)`` (message names ``ids``); ``E`` is not 2-D (message names ``E``).

    Figure: chatgpt-book-ch6-38-1-attention-mechanism.png
    Hint: ``E[ids]`` looks up every word at once ``(..., W, D)``; zero the padded words with the
    mask ``ids != pad_id`` before summing over the word axis.
    """
    ### BEGIN SOLUTION
    ids, E = np.asarray(ids), np.asarray(E)
    if E.ndim != 2:
        raise ValueError(f"E must have shape (V, D), got {E.shape}")
    if ids.ndim < 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be an int array of shape (..., W), got shape {ids.shape} and dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= E.shape[0]):
        raise ValueError(f"ids must lie in [0, V) = [0, {E.shape[0]})")
    vectors = E[ids]  # (..., W, D)
    real = (ids != pad_id)[..., None]  # (..., W, 1)
    return np.where(real, vectors, 0).sum(axis=-2).astype(_float_dtype(E), copy=False)  # (..., D)
    ### END SOLUTION


def memory_attention(query, keys, values, mask=None):
    """メモリの読み出し (memory attention): 注意機構 (attention) でメモリから値を読み出す。

    Read from a memory by attention: ``p = softmax(keys · query)``, ``output = sum_i p_i values_i``.

    Args:
        query: ``(B, D)``.
        keys: ``(B, N, D)`` (the memories ``m_i``).
        values: ``(B, N, Dv)`` (the outputs ``c_i``).
        mask: optional bool ``(B, N)``; True = the memory may be read.

    Returns:
        ``(output (B, Dv), weights (B, N))`` in ``query``'s float dtype. The scores are the plain dot
        products (not divided by ``sqrt(D)``); each row of ``weights`` sums to 1 (or is all 0, with
        output 0, when the row's memories are all masked).

    Raises:
        ValueError: wrong ranks, an empty batch or memory, or sizes that do not fit (message names
        ``query``, ``keys`` or ``values``); ``mask`` is not ``(B, N)`` (message names ``mask``).

    Figure: chatgpt-book-ch6-38-1-attention-mechanism.png
    Hint: scores ``(B, N)`` = ``np.einsum("bnd,bd->bn", keys, query)``; then ``softmax`` (given)
    and a weighted sum over N.
    """
    ### BEGIN SOLUTION
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    if query.ndim != 2 or query.shape[0] == 0:
        raise ValueError(f"query must have shape (B, D) with B >= 1, got {query.shape}")
    B, D = query.shape
    if keys.ndim != 3 or keys.shape[0] != B or keys.shape[2] != D or keys.shape[1] == 0:
        raise ValueError(f"keys must have shape (B, N, D) = ({B}, N >= 1, {D}), got {keys.shape}")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError(f"values must have shape (B, N, Dv) = ({B}, {keys.shape[1]}, Dv), got {values.shape}")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError(f"mask must have shape (B, N) = {keys.shape[:2]}, got {np.shape(mask)}")
    scores = np.einsum("bnd,bd->bn", keys, query)  # (B, N): how well memory i matches
    weights = softmax(scores, None if mask is None else np.asarray(mask, dtype=bool))  # (B, N)
    output = np.einsum("bn,bnv->bv", weights, values)  # (B, Dv): weighted sum of values
    dtype = _float_dtype(query)
    return output.astype(dtype, copy=False), weights.astype(dtype, copy=False)
    ### END SOLUTION


def memnet_answer(story, question, params):
    """メモリネットワーク (MemN2N): 1 ホップの End-to-End メモリネットワークで物語の質問に答える。

    Answer a question about a story with a one-hop end-to-end memory network (MemN2N).

    ``m_i = bag_of_words(story_i, A) + T_A[i]`` (memory, the keys), ``c_i = bag_of_words(story_i, C)
    + T_C[i]`` (output memory, the values), ``u = bag_of_words(question, B)`` (the query);
    ``p = softmax(m · u)``, ``o = sum_i p_i c_i``, ``logits = (o + u) W_out``. Pad id 0 is never
    counted; a sentence of padding only still takes part (its memory is ``T_A[i]``).

    Args:
        story: int ``(B, N, W)``: ``N`` sentences of ``W`` word ids each.
        question: int ``(B, Wq)``.
        params: ``{"A", "B", "C"}`` embeddings ``(V, D)``, ``"W_out" (D, V)``, and optional temporal
            encodings ``"T_A"``, ``"T_C"`` ``(N, D)`` (row ``i`` is added to sentence ``i``; a missing
            key means no temporal encoding).

    Returns:
        ``(logits (B, V), p (B, N))`` in the embeddings' float dtype.

    Raises:
        ValueError: ``story`` is not 3-D (message names ``story``), ``question`` is not 2-D or its
        batch differs (names ``question``), ``T_A``/``T_C`` not ``(N, D)`` (names ``T_A``/``T_C``).

    Figure: chatgpt-book-ch6-38-1-attention-mechanism.png
    Hint: ``bag_of_words`` and ``memory_attention`` do most of the work; without ``T_A`` the
    network cannot tell an old sentence from a recent one.
    """
    ### BEGIN SOLUTION
    story, question = np.asarray(story), np.asarray(question)
    if story.ndim != 3:
        raise ValueError(f"story must have shape (B, N, W), got {story.shape}")
    if question.ndim != 2 or question.shape[0] != story.shape[0]:
        raise ValueError(f"question must have shape (B={story.shape[0]}, Wq), got {question.shape}")
    N, D = story.shape[1], np.shape(params["A"])[1]
    m = bag_of_words(story, params["A"])  # (B, N, D) memories
    c = bag_of_words(story, params["C"])  # (B, N, D) output memories
    for name, mem in (("T_A", m), ("T_C", c)):
        if params.get(name) is not None:
            T_enc = np.asarray(params[name])
            if T_enc.shape != (N, D):
                raise ValueError(f"{name} must have shape (N, D) = ({N}, {D}), got {T_enc.shape}")
            mem += T_enc  # row i marks "sentence number i"
    u = bag_of_words(question, params["B"])  # (B, D) the question
    o, p = memory_attention(u, m, c)  # (B, D), (B, N)
    logits = (o + u) @ params["W_out"]  # (B, V)
    return logits.astype(m.dtype, copy=False), p
    ### END SOLUTION


def dot_product_attention(query, keys, values, mask=None):
    """内積注意 (dot-product attention): デコーダの状態でエンコーダの状態に注意を向ける (Luong)。

    Luong (dot-product) attention of a decoder state over the encoder states.

    Args:
        query: decoder state ``(B, H)``.
        keys: encoder states ``(B, S, H)``.
        values: ``(B, S, Dv)`` (usually the encoder states again).
        mask: optional bool ``(B, S)``, True at real source tokens.

    Returns:
        ``(context (B, Dv), weights (B, S))``, scores unscaled (``keys · query``); a row whose keys are
        all masked gets weights 0 and context 0.

    Raises:
        ValueError: as ``memory_attention`` (wrong ranks, sizes, or a mask that is not ``(B, S)``).

    Figure: chatgpt-book-ch6-38-3-seq2seq-attention.png
    Hint: this is ``memory_attention`` with the decoder state as the query.
    """
    ### BEGIN SOLUTION
    return memory_attention(query, keys, values, mask=mask)
    ### END SOLUTION


def additive_attention(query, keys, values, W_q, W_k, v, mask=None):
    """加法注意 (additive attention): tanh を通したスコアでエンコーダの状態に注意を向ける (Bahdanau)。

    Bahdanau (additive) attention: ``score_s = tanh(query W_q + keys_s W_k) · v``.

    Args:
        query: ``(B, Hq)``; keys: ``(B, S, Hk)``; values: ``(B, S, Dv)``.
        W_q: ``(Hq, A)``; W_k: ``(Hk, A)``; v: ``(A,)``.
        mask: optional bool ``(B, S)``, True at real source tokens.

    Returns:
        ``(context (B, Dv), weights (B, S))`` with ``weights = softmax(score)`` over the unmasked keys.

    Raises:
        ValueError: wrong ranks or sizes (message names the argument), ``mask`` not ``(B, S)``.

    Figure: chatgpt-book-ch6-38-3-seq2seq-attention.png
    Hint: ``query @ W_q`` is ``(B, A)``; add a time axis (``[:, None, :]``) so it broadcasts over
    ``keys @ W_k`` ``(B, S, A)``.
    """
    ### BEGIN SOLUTION
    query, keys, values = np.asarray(query), np.asarray(keys), np.asarray(values)
    W_q, W_k, v = np.asarray(W_q), np.asarray(W_k), np.asarray(v)
    if query.ndim != 2 or query.shape[0] == 0:
        raise ValueError(f"query must have shape (B, Hq) with B >= 1, got {query.shape}")
    B = query.shape[0]
    if keys.ndim != 3 or keys.shape[0] != B or keys.shape[1] == 0:
        raise ValueError(f"keys must have shape (B, S, Hk) = ({B}, S >= 1, Hk), got {keys.shape}")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError(f"values must have shape (B, S, Dv) = ({B}, {keys.shape[1]}, Dv), got {values.shape}")
    if W_q.ndim != 2 or W_q.shape[0] != query.shape[1]:
        raise ValueError(f"W_q must have shape (Hq={query.shape[1]}, A), got {W_q.shape}")
    if W_k.shape != (keys.shape[2], W_q.shape[1]):
        raise ValueError(f"W_k must have shape (Hk, A) = ({keys.shape[2]}, {W_q.shape[1]}), got {W_k.shape}")
    if v.shape != (W_q.shape[1],):
        raise ValueError(f"v must have shape (A,) = ({W_q.shape[1]},), got {v.shape}")
    if mask is not None and np.shape(mask) != keys.shape[:2]:
        raise ValueError(f"mask must have shape (B, S) = {keys.shape[:2]}, got {np.shape(mask)}")
    hidden = np.tanh((query @ W_q)[:, None, :] + keys @ W_k)  # (B, S, A)
    scores = hidden @ v  # (B, S)
    weights = softmax(scores, None if mask is None else np.asarray(mask, dtype=bool))  # (B, S)
    context = np.einsum("bs,bsv->bv", weights, values)  # (B, Dv)
    dtype = _float_dtype(query)
    return context.astype(dtype, copy=False), weights.astype(dtype, copy=False)
    ### END SOLUTION


def attention_decoder_step(y_prev, h_prev, enc_states, enc_mask, params):
    """注意付きデコーダの 1 ステップ (attention decoder step): エンコーダの状態に注意しつつ 1 語進める。

    One step of an RNN decoder with (Luong) attention over the encoder states.

    ``h_t = rnn_step(E[y_prev], h_prev, W_x, W_h, b)``; ``ctx, w = dot_product_attention(h_t,
    enc_states, enc_states, enc_mask)``; ``logits = tanh([ctx ; h_t] W_c + b_c) W_out + b_out``
    (the context comes first in the concatenation).

    Args:
        y_prev: int ``(B,)`` ids of the previous output tokens.
        h_prev: decoder state ``(B, H)``.
        enc_states: ``(B, S, H)``.
        enc_mask: bool ``(B, S)`` (True at real source tokens) or None.
        params: ``{"E" (V, D), "W_x" (D, H), "W_h" (H, H), "b" (H,), "W_c" (2H, Hc), "b_c" (Hc,),
            "W_out" (Hc, V), "b_out" (V,)}``.

    Returns:
        ``(h_t (B, H), logits (B, V), w (B, S))``.

    Raises:
        ValueError: ``y_prev`` is not 1-D with ``B`` ids (message names ``y_prev``), or any error of
        ``dot_product_attention``.

    Figure: chatgpt-book-ch6-38-3-seq2seq-attention.png
    Hint: ``np.concatenate([ctx, h_t], axis=-1)`` is ``(B, 2H)``.
    """
    ### BEGIN SOLUTION
    y_prev, h_prev = np.asarray(y_prev), np.asarray(h_prev)
    if y_prev.ndim != 1 or h_prev.ndim != 2 or y_prev.shape[0] != h_prev.shape[0]:
        raise ValueError(f"y_prev must have shape (B,) with B = {h_prev.shape[:1]}, got {y_prev.shape}")
    E = np.asarray(params["E"])
    h_t = rnn_step(E[y_prev], h_prev, params["W_x"], params["W_h"], params["b"])  # (B, H)
    ctx, w = dot_product_attention(h_t, enc_states, enc_states, mask=enc_mask)  # (B, H), (B, S)
    attended = np.tanh(np.concatenate([ctx, h_t], axis=-1) @ params["W_c"] + params["b_c"])  # (B, Hc)
    logits = attended @ params["W_out"] + params["b_out"]  # (B, V)
    dtype = _float_dtype(h_prev)
    return h_t.astype(dtype, copy=False), logits.astype(dtype, copy=False), w.astype(dtype, copy=False)
    ### END SOLUTION


def attention_greedy_decode(src, params, bos_id, eos_id, max_len):
    """注意付き貪欲翻訳 (greedy decoding): 注意の重みを記録しながら 1 文を翻訳する。

    Translate one sentence greedily with an attention encoder–decoder, recording the attention.

    The encoder RNN ``params["enc"] = {"E", "W_x", "W_h", "b"}`` reads ``src`` from ``h = 0`` and keeps
    every state (``(1, S, H)``); its last state starts the decoder. From ``y = bos_id`` the decoder
    repeats ``attention_decoder_step`` with ``params["dec"]`` (no mask: every source token is real),
    ``y = argmax(logits)`` (lowest id on ties), until it produces ``eos_id`` or ``max_len`` ids.

    Args:
        src: list of ``>= 1`` source ids.
        params: ``{"enc": {...}, "dec": {...}}`` (see ``attention_decoder_step`` for ``dec``).
        bos_id, eos_id: ids of the begin/end tokens of the target vocabulary.
        max_len: most ids to generate: an int >= 1 (not a bool or a float; NumPy integers are fine).

    Returns:
        ``(ids, attention)``: ``ids`` the list of generated ids before ``eos_id`` (``eos_id`` not
        included); ``attention (len(ids), len(src))`` row ``j`` = the weights of the step that
        produced ``ids[j]``.

    Raises:
        ValueError: ``src`` is empty (message names ``src``); ``max_len`` is not an int >= 1 (names
        ``max_len``).

    Figure: chatgpt-book-ch6-39-4-attention-learning.png
    Hint: collect the attention rows in a list and ``np.array`` them at the end (shape ``(0, S)`` if
    the first token is already ``eos_id``).
    """
    ### BEGIN SOLUTION
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id, got an empty list")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    enc, dec = params["enc"], params["dec"]
    E_src = np.asarray(enc["E"])
    h = np.zeros((1, np.shape(enc["W_h"])[0]), dtype=_float_dtype(E_src))  # (1, H)
    states = []
    for i in src:  # encoder: keep every state, the decoder will look back at them
        h = rnn_step(E_src[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
        states.append(h[0])
    enc_states = np.stack(states)[None]  # (1, S, H)
    ids, rows, y = [], [], bos_id
    while len(ids) < max_len:
        h, logits, w = attention_decoder_step(np.array([y]), h, enc_states, None, dec)
        y = int(np.argmax(logits[0]))
        if y == eos_id:
            break
        ids.append(y)
        rows.append(w[0])
    attention = np.array(rows, dtype=h.dtype).reshape(len(ids), len(src))
    return ids, attention
    ### END SOLUTION


def beam_search_decode(src, params, bos_id, eos_id, max_len, beam_width, length_penalty=0.0):
    """ビームサーチ (beam search): 貪欲法の代わりにビームサーチで 1 文を翻訳する (発展課題)。

    Bonus: translate one sentence by beam search instead of greedy decoding.

    The encoder and the decoder steps are those of ``attention_greedy_decode``. A hypothesis is a
    list of emitted ids with the sum of their log-probabilities ``log softmax(logits)``. At every
    step each living hypothesis is extended by every id of the vocabulary; of all these candidates
    the ``beam_width`` with the largest sums survive (ties → the lower id sequence first, compared
    as lists). A survivor whose last id is ``eos_id`` is finished; the others live on, until none
    lives or ``max_len`` steps are done (the living ones are then finished as they are). Of all
    finished hypotheses the answer is the one with the largest

        score = (sum of log-probabilities) / length ** length_penalty

    (ties → the lower id sequence first). ``length`` counts the decoder steps of the hypothesis:
    its ids plus 1 for ``eos_id`` when it ended with it — every id whose log-probability is in the sum
    (so it is ``>= 1``). ``length_penalty = 0`` compares plain sums (short outputs win more often);
    1 compares the mean log-probability per step. With ``beam_width = 1`` this is
    ``attention_greedy_decode``: the same ids.

    Args:
        src: list of ``>= 1`` source ids.
        params: ``{"enc": {...}, "dec": {...}}`` as in ``attention_greedy_decode``.
        bos_id, eos_id: ids of the begin/end tokens of the target vocabulary.
        max_len: most decoder steps (int >= 1).
        beam_width: hypotheses kept per step (int >= 1).
        length_penalty: exponent of the length normalisation (a number >= 0).

    Returns:
        ``(ids, score)``: ``ids`` the best hypothesis as a list of ints — like
        ``attention_greedy_decode``, without ``bos_id`` and without the final ``eos_id`` — and its
        score as a Python float.

    Raises:
        ValueError: ``src`` is empty (names ``src``); ``max_len < 1`` (names ``max_len``);
        ``beam_width < 1`` (names ``beam_width``); ``length_penalty < 0`` (names ``length_penalty``).

    Figure: chatgpt-book-ch6-38-3-seq2seq-attention.png
    Hint: run ``attention_decoder_step`` on all living hypotheses at once (a batch of ``k`` rows,
    ``enc_states`` repeated ``k`` times); sort the candidates with the key ``(-sum, ids)``.
    """
    ### BEGIN SOLUTION
    src = [int(i) for i in src]
    if len(src) == 0:
        raise ValueError("src must hold at least one id, got an empty list")
    for name, value in (("max_len", max_len), ("beam_width", beam_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, (int, float, np.number))
        or not length_penalty >= 0
    ):
        raise ValueError(f"length_penalty must be a number >= 0, got {length_penalty!r}")
    enc, dec = params["enc"], params["dec"]
    E_src = np.asarray(enc["E"])
    h = np.zeros((1, np.shape(enc["W_h"])[0]), dtype=_float_dtype(E_src))  # (1, H)
    states = []
    for i in src:  # encoder, as in attention_greedy_decode
        h = rnn_step(E_src[i][None], h, enc["W_x"], enc["W_h"], enc["b"])
        states.append(h[0])
    enc_states = np.stack(states)[None]  # (1, S, H)
    alive = [([], 0.0)]  # (ids emitted so far, sum of their log-probabilities)
    h_alive, y_alive = h, np.array([bos_id])  # (k, H), (k,)
    finished = []  # (tokens incl. eos, sum, length)
    for step in range(1, max_len + 1):
        k = len(alive)
        h_new, logits, _ = attention_decoder_step(y_alive, h_alive, np.repeat(enc_states, k, axis=0), None, dec)
        z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)  # (k, V)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log softmax
        row_of = {tuple(ids): j for j, (ids, _) in enumerate(alive)}  # a hypothesis's row in h_new
        candidates = [(s + logp[j, v], ids + [v]) for j, (ids, s) in enumerate(alive) for v in range(logp.shape[1])]
        candidates.sort(key=lambda c: (-c[0], c[1]))  # best first; ties: the lower id sequence
        alive, rows = [], []
        for s, ids in candidates[:beam_width]:
            if ids[-1] == eos_id:
                finished.append((ids, s, step))
            else:
                alive.append((ids, s))
                rows.append(row_of[tuple(ids[:-1])])
        if not alive:
            break
        h_alive, y_alive = h_new[rows], np.array([ids[-1] for ids, _ in alive])
    finished += [(ids, s, max_len) for ids, s in alive]  # out of steps: finished as they are
    best = min(finished, key=lambda f: (-f[1] / f[2] ** length_penalty, f[0]))
    tokens, total, length = best
    ids = tokens[:-1] if tokens and tokens[-1] == eos_id else tokens
    return [int(i) for i in ids], float(total / length**length_penalty)
    ### END SOLUTION
