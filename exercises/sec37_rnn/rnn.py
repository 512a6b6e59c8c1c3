"""§37 回帰型ニューラルネットワーク — recurrent neural networks, in NumPy.

Names from the math, used throughout:

    B    batch size (number of sequences processed together)
    T    number of time steps (tokens) of the longest sequence in the batch
    D    width of an input vector x_t (an embedding, a flattened patch, ...)
    H    width of the hidden state h_t (the network's "memory")
    V    vocabulary size (number of token ids)
    x_t  input at step t                                            (B, D)
    h_t  hidden state after step t: h_t = tanh(x_t W_x + h_{t-1} W_h + b)   (B, H)
    c_t  LSTM cell state (long-term memory)                          (B, H)
    mask True where a position holds a real token, False at padding (B, T)

Conventions (see the course contract): weights are laid out (in, out) and applied as ``x @ W + b``;
padding is at the end of each sequence and never changes the state; functions return the input's
floating dtype (float64 for integer input), integer outputs are int64, inputs are never modified,
randomness comes only from a ``seed`` argument. A count argument (``patch``, ``max_len``,
``n_new``, ``top_k``) must be an int: a Python ``int`` or a NumPy integer, not a ``bool`` and not a
float (``2.0``, ``2.5``, ``True`` raise ``ValueError`` naming the argument).
"""

from collections import Counter

import numpy as np


def _float_dtype(x):
    """The dtype results are returned in: the input's floating dtype, float64 for anything else."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def image_to_vector(image):
    """画像のベクトル化 (flatten): 全結合ネットワークが読むように画像を 1 本のベクトルに並べる。

    Flatten an image into one vector, the way a fully connected network would read it.

    Args:
        image: uint8 array ``(H, W)`` (grey) or ``(H, W, C)`` (colour), values 0..255.

    Returns:
        float64 vector ``(H*W*C,)`` in row-major order (row by row, and within a pixel channel by
        channel), scaled to [0, 1] by dividing by 255.

    Raises:
        ValueError: ``image`` is not 2-D or 3-D, or its dtype is not uint8 (message names ``image``).

    Figure: chatgpt-book-ch6-37-1-image-to-vector.png
    Hint: ``reshape(-1)`` reads a C-ordered array row by row; convert to float before dividing.
    """
    raise NotImplementedError("image_to_vector: your code here (see the docstring)")


def image_to_patches(image, patch):
    """パッチ分割 (patches): 画像を正方形のパッチに切り、各パッチを平坦化する (ViT の読み方)。

    Cut an image into square patches and flatten each patch (how a Vision Transformer reads it).

    Args:
        image: ``(H, W, C)`` array of any dtype.
        patch: side ``p`` of a square patch (an int >= 1); ``H`` and ``W`` must be multiples of ``p``.

    Returns:
        ``(H//p * W//p, p*p*C)`` array in ``image``'s dtype: patches in row-major order (first the
        patches of the top row of patches, left to right), each patch flattened row-major
        (pixel by pixel, channel fastest).

    Raises:
        ValueError: ``image`` is not 3-D (message names ``image``); ``patch`` is not an int >= 1
        (a bool or a float is not an int), or ``H`` or ``W`` is not divisible by it (message names
        ``patch``).

    Figure: chatgpt-book-ch6-37-1-image-to-vector.png
    Hint: reshape to ``(H//p, p, W//p, p, C)``, bring the two patch-grid axes to the front with
    ``transpose``, then reshape to 2-D.
    """
    raise NotImplementedError("image_to_patches: your code here (see the docstring)")


def pad_sequences(seqs, pad_id=0, max_len=None):
    """パディング (padding): 長さの異なるトークン列を 1 つの長方形のバッチにまとめる。

    Put token sequences of different lengths into one rectangular batch.

    Args:
        seqs: list of ``B >= 1`` sequences, each a list (or 1-D array) of int token ids; a sequence
            may be empty.
        pad_id: the id written into padding positions.
        max_len: length ``T`` of the batch (an int >= 1), or None for the longest sequence's length.
            Longer sequences keep their first ``max_len`` tokens.

    Returns:
        ``(ids, mask)``: ``ids`` int64 ``(B, T)`` with each sequence at the start of its row and
        ``pad_id`` after it (padding at the end); ``mask`` bool ``(B, T)``, True at real tokens.

    Raises:
        ValueError: ``seqs`` is empty or a sequence is not a flat list of ints (message names
        ``seqs``); ``max_len`` is neither None nor an int >= 1 (a bool or a float is not an int;
        message names ``max_len``).

    Figure: chatgpt-book-ch6-37-2-padding-tokens.png
    Hint: start from ``np.full((B, T), pad_id)`` and copy each sequence into the front of its row.
    """
    raise NotImplementedError("pad_sequences: your code here (see the docstring)")


def rnn_step(x_t, h_prev, W_x, W_h, b):
    """RNN の 1 ステップ (RNN step): 入力と前の隠れ状態 (hidden state) から次の隠れ状態を計算する。

    One step of a simple (Elman) RNN: ``h_t = tanh(x_t W_x + h_prev W_h + b)``.

    Args:
        x_t: inputs at this step ``(B, D)``.
        h_prev: previous hidden state ``(B, H)``.
        W_x: ``(D, H)``; W_h: ``(H, H)``; b: ``(H,)``.

    Returns:
        ``h_t (B, H)`` in ``x_t``'s float dtype.

    Raises:
        ValueError: an argument has the wrong rank or a size that does not fit (message names it).

    Figure: chatgpt-book-ch6-37-3-rnn-sequence.png
    Hint: two matrix products, a bias and ``np.tanh``: the same weights are used at every step.
    """
    raise NotImplementedError("rnn_step: your code here (see the docstring)")


def rnn_forward(x, h0, W_x, W_h, b, mask=None):
    """RNN の順伝播 (forward): パディングされたバッチの系列に単純な RNN を適用する。

    Run a simple RNN over a padded batch of sequences.

    Args:
        x: inputs ``(B, T, D)`` with ``B, T >= 1``.
        h0: initial state ``(B, H)`` (None means zeros).
        W_x: ``(D, H)``; W_h: ``(H, H)``; b: ``(H,)``.
        mask: optional bool ``(B, T)``, True at real tokens (as returned by ``pad_sequences``);
            None means every position is real.

    Returns:
        ``(hs, h_last)``: ``hs (B, T, H)`` the state after each step, exactly 0 at padded steps;
        ``h_last (B, H)`` the state after each sequence's last real token (``h0`` for a sequence
        with no real token). At a padded step the state is carried over unchanged.

    Raises:
        ValueError: ``x`` is not 3-D or has an empty batch or no steps (message names ``x``);
        ``mask`` is not ``(B, T)`` (message names ``mask``); wrong weight or ``h0`` shapes (message
        names the argument; ``W_x`` is checked first, since ``H`` is read from it).

    Figure: chatgpt-book-ch6-37-3-rnn-sequence.png
    Hint: loop over t; compute the new state with ``rnn_step`` and keep it only where
    ``mask[:, t]`` is True (``np.where(m[:, None], h_new, h)``).
    """
    raise NotImplementedError("rnn_forward: your code here (see the docstring)")


def stacked_rnn_forward(x, h0, layers, mask=None):
    """多層 RNN (stacked RNN): 各層が下の層の隠れ状態 (hidden state) を読む RNN の積み重ね。

    A stack of ``L`` RNN layers: layer ``l`` reads the states of layer ``l-1`` (layer 0 reads ``x``).

    Args:
        x: inputs ``(B, T, D)``.
        h0: initial states ``(L, B, H)``, one per layer.
        layers: list of ``L >= 1`` tuples ``(W_x, W_h, b)``; layer 0 has ``W_x (D, H)``, the others
            ``W_x (H, H)``.
        mask: optional bool ``(B, T)`` (see ``rnn_forward``); the same mask applies to every layer.

    Returns:
        ``(hs, h_last)``: ``hs (B, T, H)`` the states of the last layer (0 at padded steps);
        ``h_last (L, B, H)`` the final state of every layer.

    Raises:
        ValueError: ``layers`` is empty or its length differs from ``h0.shape[0]`` (message names
        ``layers``), ``h0`` is not 3-D (message names ``h0``), or any error of ``rnn_forward``.

    Figure: chatgpt-book-ch6-37-4-rnn-variants.png
    Hint: call ``rnn_forward`` once per layer, feeding it the ``hs`` of the layer below.
    """
    raise NotImplementedError("stacked_rnn_forward: your code here (see the docstring)")


def bidirectional_rnn_forward(x, h0, fwd, bwd, mask=None):
    """双方向 RNN (bidirectional RNN): 系列を前向きと後ろ向きの 2 つの RNN で読む。

    A bidirectional RNN: one RNN reads each sequence forwards, another reads it backwards.

    Args:
        x: inputs ``(B, T, D)``.
        h0: initial states ``(2, B, H)``: ``h0[0]`` forward, ``h0[1]`` backward.
        fwd, bwd: tuples ``(W_x, W_h, b)`` of the forward and the backward RNN.
        mask: optional bool ``(B, T)``, True at real tokens, padding at the end.

    Returns:
        ``(out, h_n)``: ``out (B, T, 2H)`` with ``out[..., :H]`` the forward states and
        ``out[..., H:]`` the backward states (both 0 at padded steps); ``h_n (2, B, H)`` with the
        forward state after the last real token and the backward state after reading position 0.
        The backward RNN starts at each sequence's **last real token**, not at the padded end.

    Raises:
        ValueError: ``h0`` is not ``(2, B, H)`` (message names ``h0``), or any error of ``rnn_forward``.

    Figure: chatgpt-book-ch6-37-4-rnn-variants.png
    Hint: run ``rnn_forward`` on the time-reversed ``x`` with the time-reversed mask: since padded
    steps leave the state alone, the backward RNN really starts at the last real token.
    """
    raise NotImplementedError("bidirectional_rnn_forward: your code here (see the docstring)")


def lstm_step(x_t, h_prev, c_prev, W_x, W_h, b):
    """LSTM の 1 ステップ (LSTM step): ゲート (gate) i, f, g, o で隠れ状態とセル状態を更新する。

    One LSTM step with gates in PyTorch's order ``i, f, g, o``.

    ``z = x_t W_x + h_prev W_h + b`` is split into four blocks of width ``H``:
    input gate ``i = σ(z_i)``, forget gate ``f = σ(z_f)``, candidate ``g = tanh(z_g)``,
    output gate ``o = σ(z_o)``; then ``c_t = f * c_prev + i * g`` and ``h_t = o * tanh(c_t)``.

    Args:
        x_t: ``(B, D)``; h_prev, c_prev: ``(B, H)``.
        W_x: ``(D, 4H)``; W_h: ``(H, 4H)``; b: ``(4H,)``.

    Returns:
        ``(h_t, c_t)``, both ``(B, H)`` in ``x_t``'s float dtype.

    Raises:
        ValueError: an argument has the wrong rank or a size that does not fit (message names it).

    Figure: chatgpt-book-ch6-37-7-rnn-vs-lstm.png
    Hint: ``i, f, g, o = np.split(z, 4, axis=-1)``; a stable sigmoid is ``0.5 * (1 + np.tanh(z / 2))``.
    """
    raise NotImplementedError("lstm_step: your code here (see the docstring)")


def lstm_forward(x, h0, c0, W_x, W_h, b, mask=None):
    """LSTM の順伝播 (forward): パディングされたバッチの系列に LSTM を適用する。

    Run an LSTM over a padded batch of sequences (padding handled as in ``rnn_forward``).

    Args:
        x: inputs ``(B, T, D)`` with ``B, T >= 1``.
        h0, c0: initial states ``(B, H)`` (None means zeros).
        W_x: ``(D, 4H)``; W_h: ``(H, 4H)``; b: ``(4H,)`` (gate order i, f, g, o).
        mask: optional bool ``(B, T)``, True at real tokens.

    Returns:
        ``(hs, (h_last, c_last))``: ``hs (B, T, H)`` (0 at padded steps); ``h_last``, ``c_last``
        ``(B, H)`` the states after each sequence's last real token. Padded steps change neither
        ``h`` nor ``c``.

    Raises:
        ValueError: ``x`` is not 3-D or has an empty batch or no steps (message names ``x``);
        ``mask`` is not ``(B, T)`` (message names ``mask``); wrong weight or state shapes (message
        names the argument; ``W_x`` is checked first, since ``H`` is read from it).

    Figure: chatgpt-book-ch6-37-7-rnn-vs-lstm.png
    Hint: the loop of ``rnn_forward`` with ``lstm_step``; keep both ``h`` and ``c`` at padded steps.
    """
    raise NotImplementedError("lstm_forward: your code here (see the docstring)")


def sample_next_token(logits, temperature=1.0, top_k=None, seed=0):
    """次トークンの選択 (sampling): モデルのスコアから次のトークン ID を選ぶ。

    Choose the next token id from a model's scores.

    Args:
        logits: scores ``(V,)`` of the ``V`` possible next tokens (``-inf`` allowed, not all).
        temperature: 0 for greedy choice; otherwise > 0: divide the logits by it before the softmax
            (< 1 sharpens the distribution, > 1 flattens it).
        top_k: None, or an int >= 1: sample only among the ``top_k`` largest logits. Ties follow
            the course's one top-k rule (the same as §42's ``filter_logits``): every logit equal to
            the ``top_k``-th largest is kept too, so more than ``top_k`` tokens may remain when
            values tie at the boundary; ``top_k >= V`` keeps all.
        seed: int seed of ``np.random.default_rng``; same arguments, same token.

    Returns:
        a Python ``int`` in ``[0, V)``: with ``temperature == 0`` the argmax (the lowest index on
        ties), otherwise a draw from ``softmax(logits / temperature)`` restricted to the top-k.

    Raises:
        ValueError: ``logits`` is not a non-empty 1-D array (message names ``logits``);
        ``temperature < 0`` (names ``temperature``); ``top_k`` is neither None nor an int >= 1 (a
        bool or a float is not an int; names ``top_k``).

    Figure: chatgpt-book-ch6-37-5-rnn-text-generation.png
    Hint: the temperature goes *inside* the softmax; the ``top_k``-th largest value is a threshold
    (``np.sort(z)[-top_k]``): set the logits below it to ``-inf`` before the softmax;
    ``rng.choice(V, p=probs)`` draws one id.
    """
    raise NotImplementedError("sample_next_token: your code here (see the docstring)")


def rnn_generate(prompt, n_new, params, temperature=0.0, seed=0):
    """文章生成 (generation): RNN 言語モデルで 1 トークンずつ文章を生成する。

    Generate text with an RNN language model, one token at a time.

    The prompt is fed from ``h = 0`` (``h = rnn_step(E[id], h, W_x, W_h, b)`` for each prompt id);
    then ``n_new`` times: ``logits = h W_out + b_out``, choose an id with
    ``sample_next_token(logits, temperature, seed=seed + i)`` (``i`` = 0, 1, ... the step), and feed
    that id back in. Seeding is the course's one rule (as §42's ``generate``): step ``i`` of a
    generation draws with seed ``seed + i``.

    Args:
        prompt: list of ``>= 1`` int ids in ``[0, V)``.
        n_new: number of ids to generate (int >= 0).
        params: ``{"E" (V, D), "W_x" (D, H), "W_h" (H, H), "b" (H,), "W_out" (H, V), "b_out" (V,)}``.
        temperature: 0 for greedy decoding (the default), else the sampling temperature.
        seed: base seed of the sampling.

    Returns:
        list of the ``n_new`` new ids (Python ints; the prompt is not included).

    Raises:
        ValueError: ``prompt`` is empty or holds an id outside ``[0, V)`` (message names ``prompt``);
        ``n_new`` is not an int >= 0 (a bool or a float is not an int; names ``n_new``).

    Figure: chatgpt-book-ch6-37-5-rnn-text-generation.png
    Hint: the state after the last prompt token already predicts the first new token.
    """
    raise NotImplementedError("rnn_generate: your code here (see the docstring)")


def encoder_decoder_greedy(src, enc, dec, bos_id, eos_id, max_len):
    """エンコーダ・デコーダ (encoder-decoder): 各ステップで最良のトークンを選んで翻訳する (貪欲法)。

    Translate with an RNN encoder–decoder (sequence to sequence), choosing the best token each step.

    The encoder reads ``src`` from ``h = 0`` (``h = rnn_step(enc["E"][id], h, ...)``); its final
    state is the decoder's initial state (the "thought vector"). The decoder starts from
    ``y = bos_id`` and repeats ``h = rnn_step(dec["E"][y], h, ...)``, ``y = argmax(h W_out + b_out)``
    until it produces ``eos_id`` or has produced ``max_len`` ids.

    Args:
        src: list of ``>= 1`` source ids.
        enc: ``{"E", "W_x", "W_h", "b"}`` of the encoder RNN.
        dec: ``{"E", "W_x", "W_h", "b", "W_out", "b_out"}`` of the decoder RNN (same ``H``).
        bos_id, eos_id: ids of the begin- and end-of-sequence tokens of the target vocabulary.
        max_len: most ids to generate (int >= 1).

    Returns:
        list of the generated ids (Python ints) **before** ``eos_id`` (``eos_id`` itself is not
        included), at most ``max_len`` of them.

    Raises:
        ValueError: ``src`` is empty (message names ``src``); ``max_len`` is not an int >= 1 (a bool
        or a float is not an int; names ``max_len``).

    Figure: chatgpt-book-ch6-37-8-rnn-encoder-decoder.png
    Hint: ties in the argmax go to the lowest id (``np.argmax``); stop *before* appending ``eos_id``.
    """
    raise NotImplementedError("encoder_decoder_greedy: your code here (see the docstring)")


# --- bonus (0 points): byte-level BPE, how GPT-style tokenizers build their vocabulary ----------


def train_bpe(text, n_merges):
    """BPE の学習 (byte pair encoding): テキストからバイト単位 BPE トークナイザの結合規則を学ぶ。

    Learn the merges of a byte-level BPE tokenizer (byte pair encoding) from ``text``.

    Start from the UTF-8 bytes of ``text`` as ids 0..255 (``list(text.encode("utf-8"))``; a kana or
    kanji is 3 bytes). Merge ``r`` (``r = 0, 1, ...``) takes the most frequent adjacent pair of ids
    in the current sequence, ties → the smallest ``(left id, right id)``, gives it the new id
    ``256 + r`` and replaces its occurrences from left to right (``bpe_encode`` replaces the same way).

    Rules this course fixes:

    * counting: a pair is counted at every position where it occurs, overlapping occurrences
      included: in the bytes of ``"aaa"`` the pair ``(97, 97)`` counts 2 (although one merge can
      replace only one of them: ``"aaa"`` becomes ``[256, 97]``);
    * stopping: training stops early when no pair occurs at least twice (a pair seen once only
      memorises the text), so fewer than ``n_merges`` merges come back when the text allows no
      more (an empty text, ``"abc"``, or ``n_merges`` larger than the text can use).

    Args:
        text: the training text, a ``str`` (any Unicode, e.g. ``make_char_text()``).
        n_merges: most merges to learn, an int >= 0 (a bool or a float is not an int).

    Returns:
        ``merges``: list of ``(left id, right id)`` tuples of Python ints, in the order they were
        learnt; ``merges[r]`` made the id ``256 + r``, and both its ids are ``< 256 + r``.

    Raises:
        ValueError: ``text`` is not a ``str`` (message names ``text``); ``n_merges`` is not an
        int >= 0 (names ``n_merges``).

    Figure: chatgpt-book-ch6-37-2-padding-tokens.png (the token ids a tokenizer produces)
    Hint: ``Counter(zip(ids, ids[1:]))`` counts the pairs; ``min(counts, key=lambda p: (-counts[p], p))``
    is the most frequent pair, the smallest on ties.
    """
    raise NotImplementedError("train_bpe: your code here (see the docstring)")


def bpe_encode(text, merges):
    """BPE 符号化 (encode): 学習した結合規則でテキストをトークン ID 列に変換する。

    Encode ``text`` into token ids with the merges of ``train_bpe``.

    Start from the UTF-8 bytes of ``text`` (ids 0..255) and apply the merges **in the order they
    were learnt**: merge ``r = (a, b)`` replaces every occurrence of the adjacent pair ``(a, b)``,
    from left to right without overlaps (``"aaa"`` with ``[(97, 97)]`` gives ``[256, 97]``), by the
    id ``256 + r``. Encoding the training text this way gives exactly the sequence training ended with.

    Args:
        text: a ``str``.
        merges: list of ``(left id, right id)`` pairs; pair ``r`` may use only ids ``< 256 + r``.

    Returns:
        list of Python ints in ``[0, 256 + len(merges))``.

    Raises:
        ValueError: ``text`` is not a ``str`` (names ``text``); a merge is not a pair of ints
        ``>= 0`` and ``< 256 + r`` (names ``merges``).

    Figure: chatgpt-book-ch6-37-2-padding-tokens.png
    Hint: one left-to-right pass over the ids per merge, the same replacement as in ``train_bpe``.
    """
    raise NotImplementedError("bpe_encode: your code here (see the docstring)")


def bpe_decode(ids, merges):
    """BPE 復号 (decode): トークン ID 列をバイト列に戻し UTF-8 のテキストとして読む。

    Turn token ids back into text: every id stands for a byte string, joined and read as UTF-8.

    Id ``i < 256`` is the byte ``i``; id ``256 + r`` is the bytes of ``merges[r][0]`` followed by
    those of ``merges[r][1]``. The joined bytes are decoded **strictly** (``errors="strict"``):
    the ids of a whole text (``bpe_encode(text, merges)``) always decode, and
    ``bpe_decode(bpe_encode(text, merges), merges) == text`` for every text; a slice of them may cut
    a multi-byte character (a kana is 3 bytes, an id may hold only part of one) and then raises
    ``ValueError``. Decode whole sequences, never id by id.

    Args:
        ids: list (or 1-D array) of ints in ``[0, 256 + len(merges))``.
        merges: the merges of ``train_bpe``.

    Returns:
        a ``str``.

    Raises:
        ValueError: an id is out of range, or the bytes are not whole UTF-8 characters (names
        ``ids``); a merge is not a pair of ids ``< 256 + r`` (names ``merges``).

    Figure: chatgpt-book-ch6-37-2-padding-tokens.png
    Hint: build a table ``vocab[i]`` of byte strings (``bytes([i])`` for the first 256, then one per
    merge), join ``vocab[i]`` over the ids, ``.decode("utf-8")``.
    """
    raise NotImplementedError("bpe_decode: your code here (see the docstring)")


# --- given code — you do not write this: a character language model learns a tiny grammar --------
#
# Fig 37-5 with trained weights: an RNN reads text one character at a time and predicts the next.
# The text is generated by code (a seeded grammar of short Japanese sentences, so nothing depends on
# a file): "<subject>が<object>を<verb>。" and a line break, where the verb fits the object
# (パンを たべる, みずを のむ, ほんを よむ). To predict the verb the model must remember the object
# across を — that is what the hidden state is for. Every character (kana, 。, the line break) is a token.
#
# ``train_char_lm`` trains in PyTorch (``torch.nn.RNN`` computes the recurrence of ``rnn_step``, with
# ``W_x = weight_ih.T``, ``W_h = weight_hh.T``, ``b = bias_ih + bias_hh``) and returns the weights in
# the layout of your ``rnn_generate`` as NumPy arrays: generate with them once ``rnn_step``,
# ``sample_next_token`` and ``rnn_generate`` pass their tests.

GRAMMAR_SUBJECTS = ["ねこ", "いぬ", "わたし", "あに", "ともだち", "せんせい"]
GRAMMAR_OBJECTS = {  # verb -> the objects it takes
    "たべる": ["パン", "りんご", "さかな"],
    "のむ": ["みず", "おちゃ", "ミルク"],
    "よむ": ["ほん", "しんぶん", "てがみ"],
}


def make_char_text(n_sentences=300, seed=0):
    """``n_sentences`` random sentences of the grammar, one per line (given): a str."""
    choose = np.random.default_rng(seed)
    pairs = [(obj, verb) for verb, objects in GRAMMAR_OBJECTS.items() for obj in objects]
    lines = []
    for _ in range(n_sentences):
        subject = GRAMMAR_SUBJECTS[choose.integers(len(GRAMMAR_SUBJECTS))]
        obj, verb = pairs[choose.integers(len(pairs))]
        lines.append(f"{subject}が{obj}を{verb}。\n")
    return "".join(lines)


def char_vocab():
    """The vocabulary (given): sorted list of every character the grammar can write; id ``i`` is ``chars[i]``."""
    words = GRAMMAR_SUBJECTS + [w for verb, objects in GRAMMAR_OBJECTS.items() for w in [verb, *objects]]
    return sorted(set("".join(words) + "がを。\n"))


def train_char_lm(seed=0, steps=300, n_sentences=300, batch_size=32, seq_len=40, d_embed=16, d_hidden=64, lr=1e-2):
    """Train a character RNN on ``make_char_text(n_sentences, seed)`` (given; ~2-4 CPU-s; limit 20 CPU-s).

    Each step takes ``batch_size`` random windows of ``seq_len + 1`` characters (the text wraps
    around), reads each from ``h = 0`` (as ``rnn_generate`` does) and minimises the cross-entropy of
    every next character; Adam, gradient clipping at 1, a learning rate decaying linearly to a tenth.
    Weights from ``seed``, windows from ``seed + 1``, one PyTorch thread (the caller's random state
    and thread count are restored): the same call gives the same model everywhere.

    Returns:
        dict of plain data: ``"params"`` (float64 arrays ``{"E", "W_x", "W_h", "b", "W_out",
        "b_out"}`` for ``rnn_generate``), ``"chars"`` (the vocabulary, ``char_vocab()``), ``"losses"``
        (per step), ``"seconds"``, ``"config"`` (the arguments).
    """
    import time

    import torch  # only the given training uses PyTorch; the exercises are NumPy
    from torch import nn

    config = dict(
        seed=seed, steps=steps, n_sentences=n_sentences, batch_size=batch_size, seq_len=seq_len,
        d_embed=d_embed, d_hidden=d_hidden, lr=lr,
    )  # fmt: skip
    chars = char_vocab()
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in make_char_text(n_sentences, seed)])
    threads = torch.get_num_threads()
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        try:
            torch.manual_seed(seed)  # initial weights
            g = torch.Generator().manual_seed(seed + 1)  # windows
            embed = nn.Embedding(len(chars), d_embed)
            rnn = nn.RNN(d_embed, d_hidden, nonlinearity="tanh", batch_first=True)
            out = nn.Linear(d_hidden, len(chars))
            weights = [*embed.parameters(), *rnn.parameters(), *out.parameters()]
            opt = torch.optim.Adam(weights, lr=lr)
            offsets = torch.arange(seq_len + 1)
            losses = []
            for step in range(steps):
                for group in opt.param_groups:
                    group["lr"] = lr * (1.0 - 0.9 * step / steps)
                starts = torch.randint(0, len(data), (batch_size, 1), generator=g)
                window = data[(starts + offsets) % len(data)]  # (B, seq_len + 1)
                hs, _ = rnn(embed(window[:, :-1]))  # (B, seq_len, H), from h = 0
                logits = out(hs)  # (B, seq_len, V): position t predicts character t + 1
                loss = nn.functional.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(weights, 1.0)
                opt.step()
                losses.append(loss.item())
        finally:
            torch.set_num_threads(threads)
    params = {
        "E": embed.weight,
        "W_x": rnn.weight_ih_l0.T,
        "W_h": rnn.weight_hh_l0.T,
        "b": rnn.bias_ih_l0 + rnn.bias_hh_l0,
        "W_out": out.weight.T,
        "b_out": out.bias,
    }
    params = {k: v.detach().double().numpy().copy() for k, v in params.items()}
    return {
        "params": params,
        "chars": chars,
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "config": config,
    }
