"""§40 トランスフォーマー — the Transformer block, built from scratch in PyTorch.

Names from the math, used throughout:

    x        token vectors entering a layer, one row per token               (B, T, d)
    d        d_model, the width of every token vector
    h        n_heads, the number of attention heads; each head works on d_h = d / h features
    Q, K, V  queries, keys, values = x W_q + b_q, x W_k + b_k, x W_v + b_v    (B, T, d)
    pe       positional encoding, one row per position                      (T, d)
    gamma, beta   the learned scale and shift of layer normalisation        (d,)

Conventions (see the course contract): weights are laid out (in, out) and applied as ``x @ W + b``;
boolean masks mean True = "may attend"; a query whose keys are all masked gets attention weights 0
and output 0 (never NaN); functions return tensors in the input's floating dtype and never modify
their inputs; bad arguments raise ``ValueError`` naming the argument.

Rule of this section: build everything from tensor operations (``@``, ``softmax``, ``mean``,
``sqrt``, ``reshape``, ``transpose``, ...). Do NOT call the library version of what an exercise
teaches: ``torch.nn.functional.scaled_dot_product_attention``, ``torch.nn.MultiheadAttention``,
``torch.nn.functional.layer_norm`` / ``torch.nn.LayerNorm``, ``torch.nn.Linear``,
``torch.nn.TransformerEncoderLayer`` and friends. The grader checks this: an exercise that calls
its shortcut scores 0 even when its numbers are right. Calling your OWN functions of this module
(e.g. your ``layer_norm`` inside ``transformer_block``) is of course allowed and expected; the check
follows such calls, so a shortcut hidden in a helper counts against every exercise that uses it.
"""

import math

import torch

MHA_KEYS = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


def _param(params, key, where="params"):
    """``params[key]`` as a tensor, or a ValueError that names the missing entry."""
    if not isinstance(params, dict) or key not in params:
        raise ValueError(f"{where} must be a dict with an entry '{key}'")
    return torch.as_tensor(params[key])


def positional_encoding(seq_len, d_model, base=10000.0):
    """位置符号化 (positional encoding): 元の Transformer の sin/cos による位置の表現を作る。

    Sinusoidal positional encoding of the original Transformer (interleaved sin/cos).

    ``pe[p, 2i] = sin(p / base^(2i/d))`` and ``pe[p, 2i+1] = cos(p / base^(2i/d))``: even columns hold
    sines, odd columns the cosines of the same frequency, side by side (interleaved — NOT all sines
    followed by all cosines). Column pair ``(2i, 2i+1)`` turns at the angular speed
    ``1 / base^(2i/d)``: fast for the first pair, slower and slower for later pairs.

    Args:
        seq_len: number of positions ``T`` (int >= 1); positions are ``0 .. T-1``.
        d_model: width ``d`` (int >= 1). An odd ``d`` is allowed: the last column is then a sine
            whose cosine partner would be column ``d`` (which does not exist).
        base: the base of the geometric sequence of wavelengths (float > 0).

    Returns:
        float32 tensor ``(T, d)``, computed in float64 and rounded once (float32 angles would be off
        by about 1e-4 at positions in the thousands). Row 0 is ``[0, 1, 0, 1, ...]``; for even ``d``
        every row has norm ``sqrt(d / 2)``.

    Raises:
        ValueError: ``seq_len`` or ``d_model`` is not a positive int, or ``base`` is not positive
            (the message names the argument).

    Figure: chatgpt-book-ch6-40-3-positional-encoding.png
    Hint: compute the angles ``p / base^(2i/d)`` as a ``(T, ceil(d/2))`` table (float64 for
    accuracy), then write sines into ``pe[:, 0::2]`` and cosines into ``pe[:, 1::2]``.
    """
    ### BEGIN SOLUTION
    for name, value in (("seq_len", seq_len), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not base > 0:
        raise ValueError(f"base must be positive, got {base!r}")
    position = torch.arange(seq_len, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),)
    angle = position / float(base) ** (two_i / d_model)  # (T, ceil(d/2))
    pe = torch.zeros(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)  # columns 0, 2, 4, ...
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # columns 1, 3, 5, ...
    return pe.to(torch.float32)
    ### END SOLUTION


def add_positional_encoding(x):
    """位置符号化の加算 (positional encoding): トークンのベクトルに位置符号化を足す。

    Add the sinusoidal positional encoding to a batch of token vectors: ``x + pe``.

    Args:
        x: float tensor ``(B, T, d)`` (more leading dimensions are allowed: ``(..., T, d)``).

    Returns:
        tensor of ``x``'s shape and dtype: ``x[..., p, :] + positional_encoding(T, d)[p]`` (the same
        ``pe`` for every sequence of the batch; ``pe`` is cast to ``x``'s dtype). ``x`` is unchanged.

    Raises:
        ValueError: ``x`` has fewer than 2 dimensions or is not a floating tensor (names ``x``).

    Figure: chatgpt-book-ch6-40-3-positional-encoding.png
    Hint: the positions run along axis -2 (not the batch axis); broadcasting adds ``pe (T, d)`` to
    every sequence. Use ``x + pe``, not ``x += pe``.
    """
    x = torch.as_tensor(x)
    ### BEGIN SOLUTION
    if x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of shape (B, T, d), got {x.dtype} {tuple(x.shape)}")
    T, d = x.shape[-2], x.shape[-1]
    pe = positional_encoding(T, d).to(x.dtype)  # (T, d)
    return x + pe
    ### END SOLUTION


def layer_norm(x, gamma, beta, eps=1e-5):
    """層正規化 (layer normalization): 各トークンのベクトルを最後の次元で正規化する。

    Layer normalisation over the last dimension (one token vector at a time).

    ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` where ``mean`` and ``var`` are taken over the
    ``d`` features of each token; ``var`` is the BIASED variance (divide by ``d``, not ``d - 1``),
    and ``eps`` sits INSIDE the square root — as in ``torch.nn.LayerNorm``.

    Args:
        x: ``(..., d)``.
        gamma, beta: ``(d,)`` scale and shift.
        eps: small positive number that keeps the division finite for a constant token.

    Returns:
        tensor of ``x``'s shape and dtype.

    Raises:
        ValueError: ``x`` is 0-dimensional, or ``gamma`` / ``beta`` is not ``(d,)`` (names the argument).

    Do not call ``torch.nn.functional.layer_norm`` or ``torch.nn.LayerNorm``: this exercise IS layer norm.

    Figure: chatgpt-book-ch6-40-2-transformer-block.png
    Hint: ``x.mean(dim=-1, keepdim=True)``; ``torch.var`` divides by ``d - 1`` unless told
    ``unbiased=False`` (``correction=0``).
    """
    x, gamma, beta = torch.as_tensor(x), torch.as_tensor(gamma), torch.as_tensor(beta)
    ### BEGIN SOLUTION
    if x.ndim < 1:
        raise ValueError("x must have at least one dimension (..., d)")
    d = x.shape[-1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if tuple(p.shape) != (d,):
            raise ValueError(f"{name} must have shape ({d},), got {tuple(p.shape)}")
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1), biased
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (..., d)
    return x_hat * gamma + beta
    ### END SOLUTION


def feed_forward(x, W1, b1, W2, b2):
    """位置ごとの順伝播層 (feed-forward network): 各トークンに同じ 2 層の全結合を適用する。

    Position-wise feed-forward network: ``relu(x W1 + b1) W2 + b2``, applied to each token alone.

    Args:
        x: ``(..., d)``.
        W1: ``(d, d_ff)``; b1: ``(d_ff,)``; W2: ``(d_ff, d_out)``; b2: ``(d_out,)`` (usually
            ``d_out = d`` and ``d_ff = 4 d``).

    Returns:
        ``(..., d_out)`` in ``x``'s dtype.

    Raises:
        ValueError: a weight or bias whose shape is not the one above, even one that would broadcast
            (names ``W1``, ``b1``, ``W2`` or ``b2``).

    Do not use ``torch.nn.Linear`` / ``torch.nn.functional.linear``: write the two matrix products.

    Figure: chatgpt-book-ch6-40-2-transformer-block.png
    Hint: two affine maps with a ReLU (``torch.relu``) in between; nothing mixes different tokens.
    """
    x, W1, b1, W2, b2 = (torch.as_tensor(t) for t in (x, W1, b1, W2, b2))
    ### BEGIN SOLUTION
    if x.ndim < 1 or W1.ndim != 2 or W1.shape[0] != x.shape[-1]:
        raise ValueError(f"W1 must have shape (d={x.shape[-1] if x.ndim else '?'}, d_ff), got {tuple(W1.shape)}")
    if tuple(b1.shape) != (W1.shape[1],):
        raise ValueError(f"b1 must have shape ({W1.shape[1]},), got {tuple(b1.shape)}")
    if W2.ndim != 2 or W2.shape[0] != W1.shape[1]:
        raise ValueError(f"W2 must have shape (d_ff={W1.shape[1]}, d_out), got {tuple(W2.shape)}")
    if tuple(b2.shape) != (W2.shape[1],):
        raise ValueError(f"b2 must have shape ({W2.shape[1]},), got {tuple(b2.shape)}")
    hidden = torch.relu(x @ W1 + b1)  # (..., d_ff)
    return hidden @ W2 + b2  # (..., d_out)
    ### END SOLUTION


def split_heads(x, n_heads):
    """ヘッドへの分割 (split heads): 特徴の軸を n_heads 個のヘッド (head) に切り分ける。

    Cut the feature axis into ``n_heads`` heads: ``(B, T, d) -> (B, h, T, d_h)``, ``d_h = d / h``.

    Head ``i`` owns features ``[i*d_h, (i+1)*d_h)`` of every token, so
    ``split_heads(x, h)[b, i, t] == x[b, t, i*d_h:(i+1)*d_h]``.

    Args:
        x: ``(B, T, d)`` (more leading dimensions are allowed: ``(..., T, d) -> (..., h, T, d_h)``).
        n_heads: number of heads ``h``, a positive int that divides ``d``.

    Returns:
        ``(B, h, T, d_h)``, same dtype.

    Raises:
        ValueError: ``x`` has fewer than 2 dimensions (names ``x``), or ``n_heads`` is not a positive
            int dividing ``d`` (names ``n_heads``).

    Figure: chatgpt-book-ch6-40-5-multihead-attention.png
    Hint: ``reshape`` to ``(B, T, h, d_h)`` first, then swap the T and h axes with ``transpose``;
    reshaping straight to ``(B, h, T, d_h)`` mixes tokens into the wrong heads.
    """
    x = torch.as_tensor(x)
    ### BEGIN SOLUTION
    if x.ndim < 2:
        raise ValueError(f"x must have shape (B, T, d), got {tuple(x.shape)}")
    d = x.shape[-1]
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or d % n_heads != 0:
        raise ValueError(f"n_heads must be a positive int dividing d = {d}, got {n_heads!r}")
    *lead, T, _ = x.shape
    x = x.reshape(*lead, T, n_heads, d // n_heads)  # (..., T, h, d_h)
    return x.transpose(-3, -2)  # (..., h, T, d_h)
    ### END SOLUTION


def merge_heads(x):
    """ヘッドの結合 (merge heads): split_heads の逆で、ヘッド (head) を特徴の軸に戻す。

    Undo ``split_heads``: ``(B, h, T, d_h) -> (B, T, h*d_h)``, head ``i`` back at features ``[i*d_h, (i+1)*d_h)``.

    Args:
        x: ``(B, h, T, d_h)`` (more leading dimensions are allowed).

    Returns:
        ``(B, T, h*d_h)``, same dtype; ``merge_heads(split_heads(x, h))`` equals ``x``.

    Raises:
        ValueError: ``x`` has fewer than 3 dimensions (names ``x``).

    Figure: chatgpt-book-ch6-40-5-multihead-attention.png
    Hint: ``transpose`` back to ``(B, T, h, d_h)``, then ``reshape`` (a transposed tensor is not
    contiguous, so ``view`` would fail where ``reshape`` copies).
    """
    x = torch.as_tensor(x)
    ### BEGIN SOLUTION
    if x.ndim < 3:
        raise ValueError(f"x must have shape (B, h, T, d_h), got {tuple(x.shape)}")
    *lead, h, T, d_h = x.shape
    return x.transpose(-3, -2).reshape(*lead, T, h * d_h)  # (..., T, h*d_h)
    ### END SOLUTION


def scaled_dot_product_attention(q, k, v, mask=None):
    """スケール化内積注意 (scaled dot-product attention): §39 の softmax_attention の PyTorch 版。

    Scaled dot-product attention (the PyTorch twin of §39 ``softmax_attention``).

    ``weights = softmax(q kᵀ / sqrt(d_k))`` over the keys that the mask allows, ``out = weights v``.

    Args:
        q: ``(..., Tq, d_k)``; k: ``(..., Tk, d_k)``; v: ``(..., Tk, d_v)``.
        mask: optional bool tensor broadcastable to ``(..., Tq, Tk)``; True = query may attend to
            key (the same polarity as ``torch.nn.functional.scaled_dot_product_attention``'s bool
            ``attn_mask``, the OPPOSITE of ``nn.MultiheadAttention``'s masks).

    Returns:
        ``(out (..., Tq, d_v), weights (..., Tq, Tk))`` in ``q``'s dtype. Masked keys get weight
        exactly 0; a query whose keys are ALL masked gets weights 0 and output 0 (not NaN).

    Raises:
        ValueError: shapes that do not fit (names ``q``, ``k``, ``v``) or a mask that is not bool or
            does not broadcast to ``(..., Tq, Tk)`` (names ``mask``).

    Do not call ``torch.nn.functional.scaled_dot_product_attention`` (the shortcut) here.

    Figure: chatgpt-book-ch6-39-3-attention-weighted-sum.png
    Hint: fill masked scores with a very negative number before ``torch.softmax``, then set the
    masked weights to exactly 0 — that also turns a fully masked row into zeros.
    """
    q, k, v = torch.as_tensor(q), torch.as_tensor(k), torch.as_tensor(v)
    ### BEGIN SOLUTION
    if q.ndim < 2:
        raise ValueError(f"q must have shape (..., Tq, d_k), got {tuple(q.shape)}")
    if k.ndim < 2 or k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have shape (..., Tk, {q.shape[-1]}), got {tuple(k.shape)}")
    if v.ndim < 2 or v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have shape (..., Tk={k.shape[-2]}, d_v), got {tuple(v.shape)}")
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., Tq, Tk)
    if mask is None:
        weights = torch.softmax(scores, dim=-1)
    else:
        mask = torch.as_tensor(mask)
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True = may attend), got {mask.dtype}")
        try:
            shape = torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            shape = None
        if shape != scores.shape:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to {tuple(scores.shape)}")
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # exp(min - max) == 0
        weights = torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0)  # fully masked rows -> 0
    out = weights @ v  # (..., Tq, d_v)
    return out, weights
    ### END SOLUTION


def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    """マルチヘッド注意 (multi-head attention): 複数のヘッド (head) が並列に注意を計算する。

    Multi-head attention: ``h`` heads attend in parallel, each over its own ``d_h = d/h`` features.

    ``Q = x_q W_q + b_q``, ``K = x_kv W_k + b_k``, ``V = x_kv W_v + b_v``; split each into heads; run
    ``scaled_dot_product_attention`` per head; merge the heads and apply ``W_o``, ``b_o``.
    Self-attention is ``multi_head_attention(x, x, params, h)``.

    Args:
        x_q: ``(B, Tq, d)`` — the tokens that ask (queries).
        x_kv: ``(B, Tk, d)`` — the tokens that are looked at (keys and values).
        params: dict with ``"W_q", "W_k", "W_v", "W_o"`` of shape ``(d, d)`` (laid out (in, out)) and
            ``"b_q", "b_k", "b_v", "b_o"`` of shape ``(d,)``.
        n_heads: ``h``, a positive int dividing ``d``.
        mask: optional bool, broadcastable to ``(B, h, Tq, Tk)``; True = may attend. A ``(Tq, Tk)``
            mask applies to every sequence and head; a padding mask ``(B, 1, 1, Tk)`` (§41
            ``padding_mask``) to every head and query. A per-sequence ``(B, Tq, Tk)`` mask must be
            given as ``mask[:, None]``.

    Returns:
        ``(out (B, Tq, d), weights (B, h, Tq, Tk))`` — the weights of every head, not averaged.

    Raises:
        ValueError: ``x_q`` not ``(B, Tq, d)`` (names ``x_q``), missing or misshapen params (names the
            key; a bias must be exactly ``(d,)``), ``x_kv`` of another batch size or width than ``x_q``
            (names ``x_kv``), ``n_heads`` not dividing ``d`` (names ``n_heads``), a ``mask`` that is not
            bool or does not broadcast (names ``mask``).

    Do not use ``torch.nn.MultiheadAttention`` or ``torch.nn.functional.scaled_dot_product_attention``;
    use your own ``split_heads``, ``scaled_dot_product_attention`` and ``merge_heads``.

    Figure: chatgpt-book-ch6-40-5-multihead-attention.png
    Hint: project first with the full ``(d, d)`` matrices, then ``split_heads``: head ``i`` of ``Q``
    is then exactly ``x_q @ W_q[:, i*d_h:(i+1)*d_h] + b_q[i*d_h:(i+1)*d_h]``.
    """
    x_q, x_kv = torch.as_tensor(x_q), torch.as_tensor(x_kv)
    ### BEGIN SOLUTION
    if x_q.ndim != 3:
        raise ValueError(f"x_q must have shape (B, Tq, d), got {tuple(x_q.shape)}")
    d = x_q.shape[-1]
    if x_kv.ndim != 3 or x_kv.shape[-1] != d or x_kv.shape[0] != x_q.shape[0]:
        raise ValueError(f"x_kv must have shape ({x_q.shape[0]}, Tk, {d}), got {tuple(x_kv.shape)}")
    p = {key: _param(params, key) for key in MHA_KEYS}
    for key in MHA_KEYS:
        want = (d, d) if key.startswith("W") else (d,)
        if tuple(p[key].shape) != want:
            raise ValueError(f"params['{key}'] must have shape {want}, got {tuple(p[key].shape)}")
    Q = split_heads(x_q @ p["W_q"] + p["b_q"], n_heads)  # (B, h, Tq, d_h)
    K = split_heads(x_kv @ p["W_k"] + p["b_k"], n_heads)  # (B, h, Tk, d_h)
    V = split_heads(x_kv @ p["W_v"] + p["b_v"], n_heads)  # (B, h, Tk, d_h)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)  # (B, h, Tq, d_h), (B, h, Tq, Tk)
    out = merge_heads(heads) @ p["W_o"] + p["b_o"]  # (B, Tq, d)
    return out, weights
    ### END SOLUTION


def transformer_block(x, params, n_heads, mask=None, norm_first=False):
    """Transformer ブロック (encoder block): 自己注意と順伝播層を残差接続と層正規化で包む。

    One Transformer encoder block: self-attention and a feed-forward network, each with a
    residual connection and layer normalisation.

    Post-LN (the original Transformer, ``norm_first=False``)::

        x = layer_norm(x + attention(x))            # ln1
        x = layer_norm(x + feed_forward(x))         # ln2

    Pre-LN (``norm_first=True``, used by GPT-2 and most modern models)::

        x = x + attention(layer_norm(x))            # ln1
        x = x + feed_forward(layer_norm(x))         # ln2

    ``attention`` is multi-head SELF-attention (queries, keys and values from the same tokens).

    Args:
        x: ``(B, T, d)``.
        params: ``{"attn": <multi_head_attention params>, "ln1": {"gamma", "beta"},
            "ffn": {"W1", "b1", "W2", "b2"}, "ln2": {"gamma", "beta"}}``; layer norms use eps 1e-5.
        n_heads: number of heads.
        mask: optional bool mask for the attention (see ``multi_head_attention``).
        norm_first: False = post-LN, True = pre-LN.

    Returns:
        ``(B, T, d)`` in ``x``'s dtype (only the output; the attention weights are not returned).

    Raises:
        ValueError: ``params`` is not a dict (names ``params``); a missing entry (names it and the
        dict it is missing from, e.g. ``params['ln2']`` and ``gamma``); or any error of the parts.

    Do not use ``torch.nn.TransformerEncoderLayer`` or the library attention / layer norm; use your
    own ``multi_head_attention``, ``layer_norm`` and ``feed_forward``.

    Figure: chatgpt-book-ch6-40-2-transformer-block.png
    Hint: write two tiny inner functions ``attn(z)`` and ``ffn(z)``; the two variants differ only
    in where ``layer_norm`` sits relative to the residual addition.
    """
    x = torch.as_tensor(x)
    ### BEGIN SOLUTION
    if not isinstance(params, dict):
        raise ValueError("params must be a dict with entries 'attn', 'ln1', 'ffn', 'ln2'")
    for key in ("attn", "ln1", "ffn", "ln2"):
        if not isinstance(params.get(key), dict):
            raise ValueError(f"params must have a dict entry '{key}'")
    ln1 = {k: _param(params["ln1"], k, "params['ln1']") for k in ("gamma", "beta")}
    ln2 = {k: _param(params["ln2"], k, "params['ln2']") for k in ("gamma", "beta")}
    ffn_p = [_param(params["ffn"], k, "params['ffn']") for k in ("W1", "b1", "W2", "b2")]

    def attn(z):  # (B, T, d) -> (B, T, d)
        return multi_head_attention(z, z, params["attn"], n_heads, mask=mask)[0]

    def ffn(z):  # (B, T, d) -> (B, T, d)
        return feed_forward(z, *ffn_p)

    if norm_first:  # pre-LN
        x = x + attn(layer_norm(x, ln1["gamma"], ln1["beta"]))
        x = x + ffn(layer_norm(x, ln2["gamma"], ln2["beta"]))
    else:  # post-LN
        x = layer_norm(x + attn(x), ln1["gamma"], ln1["beta"])
        x = layer_norm(x + ffn(x), ln2["gamma"], ln2["beta"])
    return x
    ### END SOLUTION
