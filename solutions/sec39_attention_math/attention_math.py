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
"""

import math

import numpy as np


def _float_dtype(x):
    """The dtype results are returned in: the input's floating dtype, float64 for integers."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def softmax(x, axis=-1, mask=None):
    """Numerically stable softmax of ``x`` along ``axis``, optionally over the unmasked entries only.

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
    ### BEGIN SOLUTION
    if mask is None:
        mask = np.ones(x.shape, dtype=bool)
    try:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    except ValueError:
        raise ValueError(f"mask of shape {np.shape(mask)} does not broadcast to x of shape {x.shape}") from None
    x_max = np.max(np.where(mask, x, -np.inf), axis=axis, keepdims=True)  # max over kept entries
    x_max = np.where(np.isfinite(x_max), x_max, 0)  # a fully masked slice has no max: any shift works
    e = np.where(mask, np.exp(np.where(mask, x - x_max, 0)), 0)  # exp(x - max), 0 where masked
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1)  # fully masked slice: 0 / 1 = 0
    ### END SOLUTION


def project_qkv(h, W_q, W_k, W_v):
    """Project hidden states into queries, keys and values: ``Q = h W_q``, ``K = h W_k``, ``V = h W_v``.

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
    ### BEGIN SOLUTION
    if h.ndim < 2:
        raise ValueError(f"h must have shape (..., T, D), got {h.shape}")
    for name, W in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
        if np.ndim(W) != 2 or np.shape(W)[0] != h.shape[-1]:
            raise ValueError(f"{name} must have shape ({h.shape[-1]}, out), got {np.shape(W)}")
    if np.shape(W_q)[1] != np.shape(W_k)[1]:
        raise ValueError(f"W_q and W_k must have the same width d_k, got {np.shape(W_q)} and {np.shape(W_k)}")
    dtype = _float_dtype(h)
    Q = (h @ W_q).astype(dtype, copy=False)  # (..., T, d_k)
    K = (h @ W_k).astype(dtype, copy=False)  # (..., T, d_k)
    V = (h @ W_v).astype(dtype, copy=False)  # (..., T, d_v)
    return Q, K, V
    ### END SOLUTION


def attention_scores(Q, K, scale=True):
    """Similarity of every query with every key: ``Q Kᵀ / sqrt(d_k)``.

    Args:
        Q: queries ``(..., Tq, d_k)``.
        K: keys ``(..., Tk, d_k)``.
        scale: divide by ``sqrt(d_k)`` (True) or return the plain dot products (False).

    Returns:
        scores ``(..., Tq, Tk)`` in ``Q``'s dtype; entry ``[i, j]`` compares query ``i`` with key ``j``.

    Raises:
        ValueError: ``Q`` or ``K`` has fewer than 2 dimensions, or their last dimensions differ
        (message names ``K``).

    Figure: chatgpt-book-ch6-39-2-attention-similarity.png
    Hint: transpose only the last two axes of ``K`` (``np.swapaxes(K, -1, -2)``), not the batch axes;
    divide by a Python float so that float32 stays float32.
    """
    Q, K = np.asarray(Q), np.asarray(K)
    ### BEGIN SOLUTION
    if Q.ndim < 2:
        raise ValueError(f"Q must have shape (..., Tq, d_k), got {Q.shape}")
    if K.ndim < 2 or K.shape[-1] != Q.shape[-1]:
        raise ValueError(f"K must have shape (..., Tk, {Q.shape[-1]}), got {K.shape}")
    d_k = Q.shape[-1]
    scores = Q @ np.swapaxes(K, -1, -2)  # (..., Tq, Tk)
    if scale:
        scores = scores * (1.0 / math.sqrt(d_k))
    return scores.astype(_float_dtype(Q), copy=False)
    ### END SOLUTION


def softmax_attention(Q, K, V, mask=None):
    """Scaled dot-product attention: ``weights = softmax(Q Kᵀ / sqrt(d_k))``, ``out = weights V``.

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
    ### BEGIN SOLUTION
    if V.ndim < 2 or V.shape[-2] != K.shape[-2]:
        raise ValueError(f"V must have shape (..., Tk={K.shape[-2] if K.ndim >= 2 else '?'}, d_v), got {V.shape}")
    scores = attention_scores(Q, K)  # (..., Tq, Tk)
    if mask is not None and np.ndim(mask) > scores.ndim:
        raise ValueError(f"mask of shape {np.shape(mask)} has more dimensions than the scores {scores.shape}")
    weights = softmax(scores, axis=-1, mask=mask)  # (..., Tq, Tk)
    out = weights @ V  # (..., Tq, d_v)
    return out.astype(_float_dtype(Q), copy=False), weights
    ### END SOLUTION


def attention_with_residual(h, W_q, W_k, W_v, mask=None):
    """Self-attention over ``h`` with a residual connection: ``h + softmax_attention(h W_q, h W_k, h W_v)``.

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
    ### BEGIN SOLUTION
    if np.ndim(W_v) != 2 or h.ndim < 2 or np.shape(W_v) != (h.shape[-1], h.shape[-1]):
        raise ValueError(f"W_v must have shape (D, D) = ({h.shape[-1]}, {h.shape[-1]}), got {np.shape(W_v)}")
    Q, K, V = project_qkv(h, W_q, W_k, W_v)  # (..., T, d_k), (..., T, d_k), (..., T, D)
    out, weights = softmax_attention(Q, K, V, mask=mask)  # (..., T, D), (..., T, T)
    return h + out, weights
    ### END SOLUTION
