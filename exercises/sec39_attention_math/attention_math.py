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
    raise NotImplementedError("softmax: your code here (see the docstring)")


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
    raise NotImplementedError("project_qkv: your code here (see the docstring)")


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
    raise NotImplementedError("attention_scores: your code here (see the docstring)")


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
    raise NotImplementedError("softmax_attention: your code here (see the docstring)")


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
    raise NotImplementedError("attention_with_residual: your code here (see the docstring)")
