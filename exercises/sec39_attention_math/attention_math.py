"""§39 注意機構の計算 — the arithmetic of attention, in NumPy.

Names from the math, used throughout:

    h    hidden states of a block, one row per token              (..., T, D)
    Q    queries  (質問)   = h W_q                                  (..., Tq, d_k)
    K    keys     (検索キー) = h W_k                                (..., Tk, d_k)
    V    values   (値)     = h W_v                                  (..., Tk, d_v)
    d_k  width of a query/key vector; scores are divided by sqrt(d_k)

Conventions (see the course contract): weights are laid out (in, out) and applied as ``x @ W``;
boolean masks mean True = "may attend"; a query whose keys are all masked gets weights 0 and
output 0; functions return the input's floating dtype and never modify their inputs.

The last part of the section (fig 39-4) is in PyTorch: a small encoder–decoder learns to reverse
sequences, and you write its attention step, ``reversal_attention_step``. Everything else there
(data, model, training loop, decoding, evaluation) is given; ``train_reversal_attention`` returns
plain data — the trained weights, the losses, the time — so that it can be checked from outside.
"""

import math
import time

import numpy as np
import torch
from torch import nn


def _float_dtype(x):
    """The dtype results are returned in: the input's floating dtype, float64 for integers."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def softmax(x, axis=-1, mask=None):
    """ソフトマックス (softmax): 指定した軸に沿って合計 1 の確率に変換する。

    Numerically stable softmax of ``x`` along ``axis``, optionally over the unmasked entries only.

    Args:
        x: array of any shape (floats; integers are treated as float64).
        axis: the axis that sums to 1.
        mask: optional bool array broadcastable to ``x.shape``; True = take part, False = excluded.

    Returns:
        array of ``x.shape`` and ``x``'s float dtype: ``exp(x - max) / sum(exp(x - max))`` over the
        unmasked entries, exactly 0 at masked entries; a slice with every entry masked is all 0
        (no NaN, no warning).

    Raises:
        ValueError: ``mask`` does not broadcast to ``x.shape`` (the message names ``mask``).

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: subtract the maximum of the unmasked entries before ``np.exp`` so that large logits
    (1e3 in float64) cannot overflow; softmax does not change when every entry shifts by a constant.
    """
    x = np.asarray(x)
    x = x.astype(_float_dtype(x), copy=False)
    raise NotImplementedError("softmax: your code here (see the docstring)")


def project_qkv(h, W_q, W_k, W_v):
    """Q・K・V への射影 (projection): 隠れ状態 (hidden state) からクエリ・キー・バリューを作る。

    Project hidden states into queries, keys and values: ``Q = h W_q``, ``K = h W_k``, ``V = h W_v``.

    Args:
        h: hidden states ``(..., T, D)``.
        W_q, W_k: ``(D, d_k)``.
        W_v: ``(D, d_v)``.

    Returns:
        ``(Q, K, V)`` with shapes ``(..., T, d_k)``, ``(..., T, d_k)``, ``(..., T, d_v)``, in ``h``'s dtype.

    Raises:
        ValueError: ``h`` has fewer than 2 dimensions, or a weight is not 2-D or its first
        dimension is not ``D``, or ``W_q`` and ``W_k`` differ in width (message names the argument).

    Figure: chatgpt-book-ch6-39-1-rnn-qkv-extraction.png
    Hint: one matrix product per projection; ``@`` broadcasts over leading batch dimensions.
    """
    h = np.asarray(h)
    raise NotImplementedError("project_qkv: your code here (see the docstring)")


def attention_scores(Q, K, scale=True):
    """注意スコア (attention scores): すべてのクエリとキーの類似度を sqrt(d_k) で割って求める。

    Similarity of every query with every key: ``Q Kᵀ / sqrt(d_k)``.

    Args:
        Q: queries ``(..., Tq, d_k)``.
        K: keys ``(..., Tk, d_k)``.
        scale: divide by ``sqrt(d_k)`` (True) or return the plain dot products (False).

    Returns:
        scores ``(..., Tq, Tk)`` in ``Q``'s dtype; entry ``[i, j]`` compares query ``i`` with key ``j``.

    Raises:
        ValueError: ``Q`` or ``K`` has fewer than 2 dimensions (the message names that argument),
        or their last dimensions differ (the message names ``K``).

    Figure: chatgpt-book-ch6-39-2-attention-similarity.png
    Hint: transpose only the last two axes of ``K`` (``np.swapaxes(K, -1, -2)``), not the batch axes;
    divide by a Python float so that float32 stays float32.
    """
    Q, K = np.asarray(Q), np.asarray(K)
    raise NotImplementedError("attention_scores: your code here (see the docstring)")


def softmax_attention(Q, K, V, mask=None):
    """スケール化内積注意 (scaled dot-product attention): 注意の重みでバリューを平均する。

    Scaled dot-product attention: ``weights = softmax(Q Kᵀ / sqrt(d_k))``, ``out = weights V``.

    Args:
        Q: ``(..., Tq, d_k)``; K: ``(..., Tk, d_k)``; V: ``(..., Tk, d_v)``.
        mask: optional bool, broadcastable to ``(..., Tq, Tk)``; True = query may attend to key.

    Returns:
        ``(out, weights)``: ``out (..., Tq, d_v)``, ``weights (..., Tq, Tk)`` (each row sums to 1, or
        is all 0 when the query's keys are all masked — then its ``out`` row is 0 too).

    Raises:
        ValueError: shapes that do not fit (message names ``Q``, ``K``, ``V`` or ``mask``).

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: build it from your ``attention_scores`` and ``softmax``; masked keys must get weight
    exactly 0, so that whatever sits in a masked key or value changes nothing.
    """
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    raise NotImplementedError("softmax_attention: your code here (see the docstring)")


def attention_with_residual(h, W_q, W_k, W_v, mask=None):
    """残差接続付き自己注意 (self-attention with residual connection): h に自己注意の出力を足す。

    Self-attention over ``h`` with a residual connection: ``h + softmax_attention(h W_q, h W_k, h W_v)``.

    Args:
        h: hidden states ``(..., T, D)``.
        W_q, W_k: ``(D, d_k)``; W_v: ``(D, D)`` (``d_v = D`` so that the output can be added to ``h``).
        mask: optional bool, broadcastable to ``(..., T, T)``.

    Returns:
        ``(h + out, weights)`` with shapes ``(..., T, D)`` and ``(..., T, T)``.

    Raises:
        ValueError: ``W_v`` is not ``(D, D)`` (message names ``W_v``), or any error of
        ``project_qkv`` / ``softmax_attention``.

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: the block's output is the attention output *plus* its own input (the residual).
    """
    h = np.asarray(h)
    raise NotImplementedError("attention_with_residual: your code here (see the docstring)")


# --- Bonus: attention's backward pass by hand, checked by finite differences ------------------


def _sum_to_shape(g, shape):
    """Sum a broadcast gradient ``g`` back to ``shape`` (leading axes added, or axes of size 1)."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True)


def softmax_attention_backward(dout, Q, K, V, mask=None):
    """注意機構の逆伝播 (backward): softmax_attention の勾配を手で計算する (発展課題)。

    Bonus: the gradients of ``softmax_attention`` by hand, ``(dQ, dK, dV)`` for the upstream gradient ``dout``.

    With ``S = Q Kᵀ / sqrt(d_k)``, ``P = softmax(S, mask)`` (rows) and ``out = P V``, the chain rule
    through each step gives, for a loss ``L`` with ``dout = ∂L/∂out``::

        dV = Pᵀ dout                              (..., Tk, d_v)   out = P V is linear in V
        dP = dout Vᵀ                              (..., Tq, Tk)    ... and in P
        dS = P ⊙ (dP − rowsum(dP ⊙ P))            (..., Tq, Tk)    softmax's Jacobian diag(p) − p pᵀ, row by row
        dQ = dS K / sqrt(d_k),  dK = dSᵀ Q / sqrt(d_k)             S is bilinear in Q and K, times the scale

    Masked entries have ``P = 0``, so they pass no gradient; a query whose keys are all masked
    (a row of ``P`` all 0, ``out`` row 0) gets ``dQ`` 0 and sends nothing to ``dK`` or ``dV``.

    Args:
        dout: ``(..., Tq, d_v)``, the gradient of the loss with respect to ``out``.
        Q: ``(..., Tq, d_k)``; K: ``(..., Tk, d_k)``; V: ``(..., Tk, d_v)``.
        mask: optional bool, broadcastable to ``(..., Tq, Tk)``; True = query may attend to key.

    Returns:
        ``(dQ, dK, dV)`` shaped like ``Q``, ``K``, ``V``, in ``Q``'s float dtype. When ``K`` or ``V``
        broadcast over leading dimensions of ``Q``, their gradients are summed over those dimensions.

    Raises:
        ValueError: ``dout`` is not shaped like the output ``(..., Tq, d_v)`` (message names
        ``dout``), or any error of ``softmax_attention``.

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: recompute ``P`` with your ``softmax_attention`` (it returns the weights), then apply the
    four lines above with ``np.swapaxes(·, -1, -2)`` for the transposes; ``rowsum`` keeps its axis
    (``keepdims=True``) so that it broadcasts over the row.
    """
    dout, Q, K, V = np.asarray(dout), np.asarray(Q), np.asarray(K), np.asarray(V)
    raise NotImplementedError("softmax_attention_backward: your code here (see the docstring)")


def numerical_gradient(f, x, eps=1e-6):
    """数値微分 (numerical gradient): 中心差分でスカラー関数の勾配を求める (発展課題)。

    Bonus: the gradient of a scalar function ``f`` at ``x`` by central differences.

    ``grad[i] = (f(x + eps e_i) − f(x − eps e_i)) / (2 eps)`` for every entry ``i`` of ``x`` (``e_i``
    = 1 at entry ``i``, 0 elsewhere). The error is of order ``eps²`` (one-sided differences
    ``(f(x + eps e_i) − f(x)) / eps`` err by order ``eps``), so in float64 with ``eps = 1e-6`` it
    agrees with an exact gradient to about 1e-6 or better.

    Args:
        f: function of one array shaped like ``x`` returning a number.
        x: the point, an array of any shape (floats; integers are treated as float64).
        eps: the step.

    Returns:
        array shaped like ``x`` in ``x``'s float dtype. ``x`` is unchanged afterwards (perturb a
        copy, or put every entry back).

    Raises:
        ValueError: ``eps`` is not a positive number — a bool is not one (message names ``eps``).

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: loop over ``np.ndindex(x.shape)`` on a float copy of ``x``; set one entry to
    ``x_i + eps``, then ``x_i − eps``, evaluate ``f`` each time, then put ``x_i`` back.
    """
    x = np.asarray(x)
    raise NotImplementedError("numerical_gradient: your code here (see the docstring)")


def _attention_output(Q, K, V, mask=None):
    """The forward pass the finite differences differentiate (given; independent of your functions)."""
    S = Q @ np.swapaxes(K, -1, -2) / math.sqrt(Q.shape[-1])  # (..., Tq, Tk)
    keep = np.ones(S.shape, dtype=bool) if mask is None else np.broadcast_to(mask, S.shape)
    S = np.where(keep, S, -np.inf)
    top = np.max(S, axis=-1, keepdims=True)
    e = np.exp(S - np.where(np.isfinite(top), top, 0))  # exp(-inf) = 0 at masked entries
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total > 0, total, 1)) @ V  # (..., Tq, d_v)


def numerical_attention_gradients(dout, Q, K, V, mask=None, eps=1e-6):
    """Given: ``(dQ, dK, dV)`` by your ``numerical_gradient``, to check ``softmax_attention_backward``.

    The scalar ``L = sum(out ⊙ dout)`` has ``∂L/∂out = dout``, so its gradients with respect to
    ``Q``, ``K`` and ``V`` are exactly what ``softmax_attention_backward(dout, Q, K, V, mask)``
    returns. Each is computed by ``numerical_gradient`` with the other two arrays held fixed.
    """
    dout, Q, K, V = (np.asarray(a) for a in (dout, Q, K, V))

    def loss(q, k, v):
        return float(np.sum(_attention_output(q, k, v, mask) * dout))

    dQ = numerical_gradient(lambda q: loss(q, K, V), Q, eps)
    dK = numerical_gradient(lambda k: loss(Q, k, V), K, eps)
    dV = numerical_gradient(lambda v: loss(Q, K, v), V, eps)
    return dQ, dK, dV


# --- §39 in PyTorch: attention learns to reverse a sequence (fig 39-4) ------------------------
#
# Task: read a sequence of symbols and write it backwards, e.g. ``7 3 9 4 -> 4 9 3 7``.
# Output step t must copy source position L-1-t, so a model whose attention works learns an
# anti-diagonal attention map. Ids: 0 = padding, 1 = begin of the output, 2 = end of the output,
# 3, 4, ... = the symbols.

PAD, BOS, EOS, FIRST_SYMBOL = 0, 1, 2, 3


def reversal_attention_step(dec_states, enc_states, enc_mask=None):
    """エンコーダへの注意 (cross-attention): デコーダの各状態がエンコーダのどこを見るかを計算する。

    Attention of the decoder over the encoder (PyTorch): every decoder state asks which source
    positions to read, and receives their weighted average.

    ``weights = softmax(dec_states enc_statesᵀ / sqrt(H))`` over the source positions (padding
    excluded), ``context = weights enc_states``: the encoder states are both the keys and the values.
    It must stay differentiable: the model is trained through it.

    Args:
        dec_states: queries, torch float tensor ``(..., Tq, H)`` (one row per output step).
        enc_states: keys and values, ``(..., S, H)``, same dtype.
        enc_mask: optional bool ``(..., S)``; True = real source token, False = padding. It is the
            same for every query.

    Returns:
        ``(context, weights)``: ``context (..., Tq, H)`` and ``weights (..., Tq, S)`` in the input's
        dtype; each row of ``weights`` sums to 1 over the real tokens and is exactly 0 on padding; a
        query whose source is all padding gets weights 0 and context 0 (no NaN).

    Raises:
        ValueError: ``dec_states`` or ``enc_states`` is not a tensor with at least 2 dimensions (the
        message names that argument), or their last dimensions differ (names ``enc_states``);
        ``enc_mask`` is not ``(..., S)`` (names ``enc_mask``).

    Figure: chatgpt-book-ch6-39-4-attention-learning.png
    Hint: ``torch.softmax`` of the scores with padded positions filled with a very negative number,
    then multiply by the mask so that an all-padding row becomes 0; do not use
    ``F.scaled_dot_product_attention``.
    """
    raise NotImplementedError("reversal_attention_step: your code here (see the docstring)")


def make_reversal_data(n, min_len=3, max_len=10, n_symbols=10, seed=0):
    """Random sequences and their reversals (given).

    Returns a dict of tensors: ``src (n, max_len)`` int64 (padded with ``PAD`` after each
    sequence), ``src_mask (n, max_len)`` bool (True on real tokens), ``tgt (n, max_len + 1)`` int64
    (the reversed sequence, then ``EOS``, then ``PAD``), ``lengths (n,)`` int64 (uniform in
    ``[min_len, max_len]``). Symbols are ids ``FIRST_SYMBOL .. FIRST_SYMBOL + n_symbols - 1``.
    """
    g = torch.Generator().manual_seed(seed)
    return _reversal_batch(n, min_len, max_len, n_symbols, g)


def _reversal_batch(n, min_len, max_len, n_symbols, g):
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)  # (n,)
    src = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + n_symbols, (n, max_len), generator=g)  # (n, S)
    src_mask = torch.arange(max_len) < lengths[:, None]  # (n, S)
    src = src.masked_fill(~src_mask, PAD)
    tgt = torch.full((n, max_len + 1), PAD)
    tgt[:, :max_len] = torch.gather(src, 1, _mirror(lengths, max_len)).masked_fill(~src_mask, PAD)
    tgt[torch.arange(n), lengths] = EOS
    return {"src": src, "src_mask": src_mask, "tgt": tgt, "lengths": lengths}


def _mirror(lengths, S):
    """``(n, S)`` index of the mirrored position ``L-1-t`` (clamped to 0 on padding)."""
    return (lengths[:, None] - 1 - torch.arange(S)).clamp(min=0)


class ReversalModel(nn.Module):
    """An RNN encoder–decoder with attention (given; you write only the attention step).

    Encoder: embeddings, then a GRU that reads each source sequence from its last real token back
    to the first (so that every position knows how far it is from the end), then a linear layer:
    ``enc_states (B, S, H)`` = the keys and values of the attention. Decoder: a GRU over the
    previous output tokens, starting from a state made of the encoder's final state; at every step
    ``context = attention(dec_state, enc_states)`` and ``logits = out(tanh(combine([context; dec_state])))``.
    Without attention (``attention=None``) the context is 0: the decoder must remember the whole
    source in its initial state — the classic encoder–decoder of §37.
    """

    def __init__(self, n_vocab, d_embed, d_hidden):
        super().__init__()
        self.src_embed = nn.Embedding(n_vocab, d_embed)
        self.encoder = nn.GRU(d_embed, d_hidden, batch_first=True)
        self.enc_proj = nn.Linear(d_hidden, d_hidden)
        self.init_proj = nn.Linear(d_hidden, d_hidden)
        self.tgt_embed = nn.Embedding(n_vocab, d_embed)
        self.decoder = nn.GRU(d_embed, d_hidden, batch_first=True)
        self.combine = nn.Linear(2 * d_hidden, d_hidden)
        self.out = nn.Linear(d_hidden, n_vocab)

    @classmethod
    def from_weights(cls, weights):
        """A model holding ``weights`` (the dict returned by ``train_reversal_attention``)."""
        n_vocab, d_embed = weights["src_embed.weight"].shape
        model = cls(n_vocab, d_embed, weights["enc_proj.weight"].shape[0])
        model.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in weights.items()})
        return model

    def encode(self, src, src_mask):
        """``src (B, S)`` -> ``(enc_states (B, S, H), h0 (1, B, H))``."""
        B, S = src.shape
        lengths = src_mask.sum(dim=1)  # (B,)
        idx = _mirror(lengths, S)  # reverse each sequence within its length
        backwards = torch.gather(src, 1, idx).masked_fill(~src_mask, PAD)  # (B, S)
        states, _ = self.encoder(self.src_embed(backwards))  # (B, S, H), position t read from the end
        final = states[torch.arange(B), lengths - 1]  # (B, H): state after the first token
        states = torch.gather(states, 1, idx.unsqueeze(-1).expand(-1, -1, states.shape[-1]))  # source order
        return self.enc_proj(states), torch.tanh(self.init_proj(final)).unsqueeze(0)

    def decode(self, y_prev, h, enc_states, src_mask, attention):
        """Decoder over ``y_prev (B, T)`` from state ``h (1, B, H)`` ->
        ``(logits (B, T, V), h (1, B, H), weights (B, T, S) or None)``."""
        dec_states, h = self.decoder(self.tgt_embed(y_prev), h)  # (B, T, H)
        if attention is None:
            context, weights = torch.zeros_like(dec_states), None
        else:
            context, weights = attention(dec_states, enc_states, src_mask)  # (B, T, H), (B, T, S)
        logits = self.out(torch.tanh(self.combine(torch.cat([context, dec_states], dim=-1))))
        return logits, h, weights


def train_reversal_attention(
    seed=0,
    use_attention=True,
    steps=200,
    batch_size=64,
    min_len=3,
    max_len=10,
    n_symbols=10,
    d_embed=32,
    d_hidden=64,
    lr=1e-2,
):
    """Train ``ReversalModel`` to reverse random sequences, with your ``reversal_attention_step``
    (given — run it once your attention step passes its tests).

    Every step draws a fresh batch (``torch.Generator`` seeded with ``seed``), the decoder reads the
    true previous tokens (teacher forcing), the loss is the cross-entropy of every output token
    (padding excluded), Adam with gradient clipping and a learning rate that decays linearly to a tenth. The weights are initialised from ``seed`` as
    well, and PyTorch runs on one thread, so the same call gives the same result everywhere (the
    caller's random state and thread count are restored). About 3 CPU-seconds; the grader's limit is 15 CPU-seconds.

    Args:
        seed: seed of the initial weights and of the training data.
        use_attention: False trains the same model with the context set to 0 (no attention).
        steps, batch_size, lr: optimisation; min_len, max_len, n_symbols: the task;
        d_embed, d_hidden: model size.

    Returns:
        dict of plain data: ``"weights"`` (the model's ``state_dict``: name -> float32 tensor),
        ``"losses"`` (list of ``steps`` floats), ``"seconds"`` (training time), ``"use_attention"``,
        ``"config"`` (the arguments above as a dict).
    """
    config = dict(
        seed=seed, use_attention=use_attention, steps=steps, batch_size=batch_size, min_len=min_len,
        max_len=max_len, n_symbols=n_symbols, d_embed=d_embed, d_hidden=d_hidden, lr=lr,
    )  # fmt: skip
    attention = reversal_attention_step if use_attention else None
    n_vocab = FIRST_SYMBOL + n_symbols
    threads = torch.get_num_threads()
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        try:
            torch.manual_seed(seed)  # initial weights
            g = torch.Generator().manual_seed(seed + 1)  # data
            model = ReversalModel(n_vocab, d_embed, d_hidden)
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            losses = []
            for step in range(steps):
                for group in opt.param_groups:  # learning rate decays linearly to lr / 10
                    group["lr"] = lr * (1.0 - 0.9 * step / steps)
                batch = _reversal_batch(batch_size, min_len, max_len, n_symbols, g)
                enc_states, h = model.encode(batch["src"], batch["src_mask"])
                y_prev = torch.cat([torch.full((batch_size, 1), BOS), batch["tgt"][:, :-1]], dim=1)  # shift right
                logits, _, _ = model.decode(y_prev, h, enc_states, batch["src_mask"], attention)
                loss = nn.functional.cross_entropy(logits.flatten(0, 1), batch["tgt"].flatten(), ignore_index=PAD)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                losses.append(loss.item())
        finally:
            torch.set_num_threads(threads)
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {
        "weights": weights,
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "use_attention": use_attention,
        "config": config,
    }


def reversal_decode(weights, src, src_mask, use_attention=True):
    """Greedy decoding with trained weights (given): ``S + 1`` output steps for a ``(B, S)`` source.

    Args:
        weights: the ``"weights"`` of ``train_reversal_attention``.
        src: int64 ``(B, S)``; src_mask: bool ``(B, S)`` (see ``make_reversal_data``).
        use_attention: as in training.

    Returns:
        dict: ``"ids" (B, S + 1)`` int64 (the reversal, then ``EOS``, if the model is right) and
        ``"attention" (B, S + 1, S)`` float32 (row t = attention weights of output step t; zeros
        without attention).
    """
    with torch.no_grad():
        model = ReversalModel.from_weights(weights).eval()
        src, src_mask = torch.as_tensor(src, dtype=torch.int64), torch.as_tensor(src_mask, dtype=torch.bool)
        attention = reversal_attention_step if use_attention else None
        B, S = src.shape
        enc_states, h = model.encode(src, src_mask)
        y = torch.full((B, 1), BOS)
        ids, maps = [], []
        for _ in range(S + 1):
            logits, h, weights_t = model.decode(y, h, enc_states, src_mask, attention)
            y = logits.argmax(dim=-1)  # (B, 1)
            ids.append(y)
            maps.append(torch.zeros(B, 1, S) if weights_t is None else weights_t.float())
        return {"ids": torch.cat(ids, dim=1), "attention": torch.cat(maps, dim=1)}


def evaluate_reversal(weights, data, use_attention=True):
    """Held-out scores of trained weights on ``data`` (a dict from ``make_reversal_data``) (given).

    Returns:
        dict: ``"accuracy"`` (share of sequences reversed exactly, ``EOS`` included),
        ``"anti_diagonal"`` (share of output steps ``t < L`` whose largest attention weight is on
        the mirrored source position ``L-1-t``), ``"accuracy_by_length"`` ({L: accuracy}).
    """
    out = reversal_decode(weights, data["src"], data["src_mask"], use_attention)
    tgt, lengths = data["tgt"], data["lengths"]
    S = data["src"].shape[1]
    real = torch.arange(S + 1) <= lengths[:, None]  # output steps up to and including EOS
    correct = ((out["ids"] == tgt) | ~real).all(dim=1)  # (B,)
    steps = torch.arange(S) < lengths[:, None]  # (B, S): output steps that copy a token
    on_mirror = (out["attention"][:, :S].argmax(dim=-1) == _mirror(lengths, S)) & steps
    return {
        "accuracy": correct.float().mean().item(),
        "anti_diagonal": on_mirror.sum().item() / steps.sum().item(),
        "accuracy_by_length": {int(L): correct[lengths == L].float().mean().item() for L in lengths.unique()},
    }


def compare_attention(seed=0, n_test=1000, **train_args):
    """The same model trained with and without attention, scored on the same held-out data (given).

    Returns:
        ``{"with_attention": scores, "without_attention": scores}`` where ``scores`` is the dict of
        ``evaluate_reversal`` plus ``"seconds"``. Without attention the long sequences fail: the
        decoder cannot keep 10 symbols in one state vector.
    """
    results = {}
    for name, use_attention in (("with_attention", True), ("without_attention", False)):
        trained = train_reversal_attention(seed=seed, use_attention=use_attention, **train_args)
        cfg = trained["config"]
        data = make_reversal_data(n_test, cfg["min_len"], cfg["max_len"], cfg["n_symbols"], seed=seed + 1000)
        results[name] = {**evaluate_reversal(trained["weights"], data, use_attention), "seconds": trained["seconds"]}
    return results
