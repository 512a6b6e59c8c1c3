"""§42 GPT と Mixture of Experts — a decoder-only Transformer and a sparse expert layer, in PyTorch.

Names from the math, used throughout:

    B        batch size;  T  number of tokens in a sequence;  T_max  longest context (rows of ``wpe``)
    d        model width (d_model);  n_heads  number of heads;  d_head = d / n_heads
    Q, K, V  queries, keys, values = x W_q, x W_k, x W_v, packed side by side in ``W_qkv (d, 3d)``
    n_vocab  vocabulary size; ``wte (n_vocab, d)`` token embeddings, ``wpe (T_max, d)`` position embeddings
    N        number of tokens routed through a Mixture-of-Experts layer (batch and time flattened)
    E        number of experts;  k  experts chosen per token (top-k routing)

Parameter layout (nanoGPT / GPT-2 names, weights laid out ``(in, out)`` and applied as ``x @ W + b``)::

    attn   = {"W_qkv": (d, 3d), "b_qkv": (3d,), "W_o": (d, d), "b_o": (d,)}   # q, k, v in that order
    ln     = {"gamma": (d,), "beta": (d,)}
    mlp    = {"W_fc": (d, d_ff), "b_fc": (d_ff,), "W_proj": (d_ff, d), "b_proj": (d,)}
    block  = {"ln1": ln, "attn": attn, "ln2": ln, "mlp": mlp}
    params = {"wte": (n_vocab, d), "wpe": (T_max, d), "blocks": [block, ...], "ln_f": ln}
    expert = {"W1": (d, d_ff), "b1": (d_ff,), "W2": (d_ff, d), "b2": (d,)}      # a ReLU feed-forward

Conventions (see the course contract): boolean masks mean True = "may attend"; results keep the
floating dtype of the inputs (float32 in, float32 out); ids and indices are int64; functions never
modify their inputs; bad arguments raise ``ValueError`` naming the argument; randomness comes only
from a ``torch.Generator`` seeded with the ``seed`` argument.

Rule of this section: write the mechanism yourself. The exercise code must NOT call the PyTorch
shortcut that does the exercise for you — ``torch.nn.functional.scaled_dot_product_attention``,
``torch.nn.MultiheadAttention``, ``torch.nn.functional.layer_norm`` / ``torch.nn.LayerNorm``,
``torch.nn.TransformerEncoderLayer`` (or any ``torch.nn.Transformer*`` class). The grader looks for
these names and takes the points of an exercise that uses them. Plain tensor operations
(``@``, ``torch.softmax``, ``torch.topk``, ``torch.erf``, ``torch.multinomial``, …) are fine, and
so is the given helper ``ln`` (the LayerNorm you wrote in §40).

Training (exercises): ``lm_loss(logits, ids, pad_id=None)`` is the language-model loss (position t
predicts token t + 1), ``perplexity(loss)`` its exponential, and the teacher-forcing step is

    train_step(params, optimizer, ids, n_heads, pad_id=None, n_prompt=0) -> float

(forward on the true tokens, ``lm_loss``, ``optimizer.zero_grad()``, ``backward``, ``optimizer.step()``;
the loss before the update comes back as a float). The given training loops call it:
``run_train_steps`` (plain data in and out, as the notebook and the grader use it) and the dense
half of ``train_sorting_gpt``.

The end of the module is given code, not an exercise: ``train_sorting_gpt`` trains a tiny GPT
built from your functions — with your ``train_step`` — to sort digits (a bonus, 0 points; see the
comment there).
"""

import math
import time

import torch

# --- given: not an exercise ---------------------------------------------------------------


def ln(x, p, eps=1e-5):
    """LayerNorm over the last dimension (given — you wrote it in §40): ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Args:
        x: ``(..., d)``.
        p: ``{"gamma": (d,), "beta": (d,)}``.
        eps: added to the biased variance inside the square root.

    Returns:
        ``(..., d)`` in ``x``'s dtype.
    """
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # biased variance, as in LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * p["gamma"] + p["beta"]


# --- GPT ----------------------------------------------------------------------------------


def causal_mask(seq_len):
    """因果マスク (causal mask): トークン i がトークン 0..i にだけ注意できるマスク (mask) を作る。

    The causal (look-ahead) mask of a decoder: token ``i`` may attend to tokens ``0..i`` only.

    Args:
        seq_len: number of tokens ``T`` (a positive int).

    Returns:
        bool tensor ``(T, T)``: ``mask[i, j]`` is True when ``j <= i`` (on and below the diagonal).

    Raises:
        ValueError: ``seq_len`` is not an int or is smaller than 1 (message names ``seq_len``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: ``torch.tril`` of a matrix of ones keeps the diagonal and everything below it.
    """
    raise NotImplementedError("causal_mask: your code here (see the docstring)")


def causal_self_attention(x, params, n_heads):
    """因果的自己注意 (causal self-attention): 各トークンが自分と前のトークンだけに注意を向ける。

    Multi-head causal self-attention of GPT: every token attends to itself and the tokens before it.

    ``q, k, v = split(x W_qkv + b_qkv)`` (q first, then k, then v along the last dimension), each
    split into ``n_heads`` heads of width ``d_head = d / n_heads`` (head ``i`` owns features
    ``[i*d_head, (i+1)*d_head)``); per head ``softmax(q kᵀ / sqrt(d_head))`` with future keys
    masked out; heads concatenated again and projected: ``y W_o + b_o``.

    Do not call ``F.scaled_dot_product_attention`` or ``nn.MultiheadAttention``: compute the scores,
    the mask and the softmax yourself.

    Args:
        x: ``(B, T, d)`` float tensor.
        params: ``{"W_qkv": (d, 3d), "b_qkv": (3d,), "W_o": (d, d), "b_o": (d,)}``.
        n_heads: number of heads; must divide ``d``.

    Returns:
        ``(B, T, d)`` in ``x``'s dtype. Output ``t`` depends only on ``x[:, :t+1]``.

    Raises:
        ValueError: ``x`` is not 3-D or has no tokens (names ``x``), ``n_heads`` is not a positive
        divisor of ``d`` (names ``n_heads``), or a weight has the wrong shape (names it).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: reshape ``(B, T, d)`` → ``(B, T, n_heads, d_head)`` → transpose to ``(B, n_heads, T, d_head)``;
    fill the masked scores with ``-inf`` before the softmax (row 0 always keeps its own key).
    """
    raise NotImplementedError("causal_self_attention: your code here (see the docstring)")


def gpt_block(x, params, n_heads):
    """GPT ブロック (GPT block): 事前層正規化 (pre-LN) の GPT-2 ブロックを計算する。

    One pre-LN GPT-2 block: ``x = x + attn(ln1(x))``, then ``x = x + mlp(ln2(x))``.

    ``mlp(h) = gelu(h W_fc + b_fc) W_proj + b_proj`` with the exact GELU
    ``gelu(z) = z * Φ(z) = 0.5 * z * (1 + erf(z / sqrt(2)))`` (not the tanh approximation).
    Use the given ``ln`` for the LayerNorms and your ``causal_self_attention``; do not call
    ``F.layer_norm``, ``nn.LayerNorm``, ``F.scaled_dot_product_attention`` or
    ``nn.TransformerEncoderLayer``.

    Args:
        x: ``(B, T, d)``.
        params: ``{"ln1": ln, "attn": attn, "ln2": ln, "mlp": mlp}`` (layouts in the module docstring).
        n_heads: number of attention heads.

    Returns:
        ``(B, T, d)`` in ``x``'s dtype.

    Raises:
        ValueError: as ``causal_self_attention``.

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: normalise *before* each sub-layer and add the sub-layer's output to its un-normalised input.
    """
    raise NotImplementedError("gpt_block: your code here (see the docstring)")


def gpt_forward(ids, params, n_heads):
    """GPT の順伝播 (forward): 埋め込み (embedding)・ブロック・層正規化を経てロジットを出す。

    The whole GPT: embeddings, blocks, final LayerNorm, and logits through the tied embedding.

    ``h = wte[ids] + wpe[:T]``; ``h = block(h)`` for every block in order; ``h = ln(h, ln_f)``;
    ``logits = h @ wteᵀ`` (the output layer shares its weights with the token embedding; no bias).
    Build it from your ``gpt_block`` and the given ``ln``; no ``nn.TransformerEncoder``/``nn.Transformer*``,
    ``F.layer_norm``/``nn.LayerNorm``, ``F.scaled_dot_product_attention`` or ``nn.MultiheadAttention``.

    Args:
        ids: integer tensor ``(B, T)`` of token ids in ``[0, n_vocab)``, ``1 <= T <= T_max``.
        params: ``{"wte": (n_vocab, d), "wpe": (T_max, d), "blocks": [block, ...], "ln_f": ln}``.
        n_heads: number of attention heads.

    Returns:
        logits ``(B, T, n_vocab)`` in ``wte``'s dtype; position ``t`` predicts token ``t + 1``.

    Raises:
        ValueError: ``ids`` is not a 2-D integer tensor, is empty, is longer than ``T_max`` or holds
        an id outside ``[0, n_vocab)`` (message names ``ids``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: ``wte[ids]`` looks up one row per id; position embeddings are added for positions ``0..T-1``.
    """
    raise NotImplementedError("gpt_forward: your code here (see the docstring)")


def lm_loss(logits, ids, pad_id=None):
    """言語モデルの損失 (language model loss): 位置 t でトークン t + 1 を予測する交差エントロピー。

    The language-model loss of GPT: position ``t`` predicts token ``t + 1`` (teacher forcing).

    ``logits = gpt_forward(ids, ...)``; the prediction made at position ``t`` is compared with the
    token that really comes next, ``ids[:, t + 1]``: the mean cross-entropy of ``logits[:, :-1]``
    against ``ids[:, 1:]``, over every target that is not ``pad_id``. The last position has no next
    token and the first token is never a target.

    ``cross_entropy(z, y) = logsumexp(z) - z[y]`` (subtract the row maximum before ``exp``: no overflow).

    Args:
        logits: ``(B, T, n_vocab)`` float tensor computed from ``ids``.
        ids: ``(B, T)`` integer tensor of token ids in ``[0, n_vocab)``.
        pad_id: ``None`` (every target counts) or the id of the padding token: targets equal to it
            are skipped.

    Returns:
        0-dim tensor in ``logits``' dtype, differentiable with respect to ``logits``. When no target
        is left (``T == 1``, or every target is ``pad_id``) it is ``0.0`` — still part of the graph
        (gradient 0), never NaN.

    Raises:
        ValueError: ``logits`` is not 3-D (names ``logits``); ``ids`` is not an integer tensor of
        shape ``(B, T)`` matching ``logits``, or holds an id outside ``[0, n_vocab)`` other than
        ``pad_id`` (names ``ids``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: ``torch.log_softmax(logits[:, :-1], dim=-1)``, pick each target's entry with ``gather``,
    and average over the positions whose target is not ``pad_id`` (a boolean mask).
    """
    raise NotImplementedError("lm_loss: your code here (see the docstring)")


def perplexity(loss):
    """パープレキシティ (perplexity): 平均交差エントロピーの exp を Python の float で返す。

    Perplexity of a language model from its mean cross-entropy: ``exp(loss)``, as a Python float.

    A model that spreads its probability uniformly over ``n_vocab`` tokens has loss ``log(n_vocab)``
    and perplexity ``n_vocab``: "as unsure as a choice among n_vocab tokens".

    Args:
        loss: a mean cross-entropy in nats (a 0-dim tensor or a number), e.g. from ``lm_loss``.

    Returns:
        ``float``: ``exp(loss)`` (``inf`` for a loss too large to exponentiate).

    Raises:
        ValueError: ``loss`` is not a single number — a tensor of several values, a bool, a string
        (names ``loss``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: ``math.exp(float(loss))`` — mind ``OverflowError`` for huge losses.
    """
    raise NotImplementedError("perplexity: your code here (see the docstring)")


def train_step(params, optimizer, ids, n_heads, pad_id=None, n_prompt=0):
    """学習の 1 ステップ (training step): トークン列のバッチで GPT を教師強制により 1 回更新する。

    One teacher-forcing training step of GPT on a batch of token sequences.

    Teacher forcing: the model reads the *true* tokens ``ids`` (not its own predictions) and, at
    every position at once, learns to predict the next one. One step, in this order:

    1. the logits ``(B, T, n_vocab)`` of ``gpt_forward`` on ``ids``;
    2. their ``lm_loss`` (position t predicts ``ids[:, t + 1]``);
    3. clear the gradients the previous step left in the parameters (the optimiser can);
    4. backpropagate the loss: a gradient for every parameter;
    5. let the optimiser update the parameters in place.

    ``n_prompt > 0`` leaves the first ``n_prompt`` tokens of every row out of the loss as targets
    (they are still read as input): only ``ids[:, n_prompt:]`` are predicted, as in a task whose
    prompt is given. ``n_prompt = 0`` (and 1) predicts every token but the first.

    Args:
        params: GPT parameters as in ``gpt_forward``; the tensors the optimiser updates are leaves
            with ``requires_grad=True``.
        optimizer: a ``torch.optim`` optimiser over those tensors.
        ids: ``(B, T)`` integer tensor of token ids (``T >= 2``).
        n_heads: number of attention heads.
        pad_id: passed to ``lm_loss``: targets equal to it are skipped.
        n_prompt: an int, ``0 <= n_prompt < T``: tokens at the start of each row that are not targets.

    Returns:
        ``float``: the loss of this batch *before* the update (``loss.item()``).

    Raises:
        ValueError: ``n_prompt`` not an int in ``[0, T)`` (names ``n_prompt``), or any error of
        ``gpt_forward`` and ``lm_loss``.

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: the order matters: zero the gradients, then ``backward``, then ``step``; for ``n_prompt``
    pass ``logits[:, s:]`` and ``ids[:, s:]`` with ``s = max(n_prompt - 1, 0)`` to ``lm_loss``.
    """
    raise NotImplementedError("train_step: your code here (see the docstring)")


def filter_logits(logits, top_k=None, top_p=None):
    """ロジットの絞り込み (top-k / top-p): 確率の高いトークン以外のロジットを -inf にする。

    Keep the most likely tokens and set every other logit to ``-inf`` (top-k and/or nucleus top-p).

    * ``top_k``: keep the ``top_k`` largest logits. Ties (the course's one top-k rule, §37's
      ``sample_next_token`` too): every logit equal to the ``top_k``-th largest is kept as well (so
      more than ``top_k`` may survive when values tie at the boundary);
      ``top_k >= n_vocab`` keeps everything.
    * ``top_p``: with ``p = softmax(logits)``, keep the smallest set of most likely tokens whose total
      probability is ``>= top_p`` (always at least the most likely token). Ties: every token whose
      probability equals that of the least likely kept token is kept too.
    * both: ``top_k`` is applied first, then ``top_p`` on the probabilities of what remains
      (renormalised).
    * neither: the logits come back unchanged (as a new tensor).

    Args:
        logits: ``(..., n_vocab)`` float tensor (the last dimension is filtered independently per row).
        top_k: ``None`` or a positive int.
        top_p: ``None`` or a float with ``0 < top_p <= 1``.

    Returns:
        a new tensor of ``logits``' shape and dtype: kept entries unchanged, the others ``-inf``.
        The input is not modified.

    Raises:
        ValueError: ``top_k`` not an int >= 1 (a bool or a float is not; names ``top_k``) or ``top_p``
        outside ``(0, 1]`` (names ``top_p``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: a threshold per row does it: for top-k the ``top_k``-th largest value (``torch.topk``); for
    top-p sort the probabilities in descending order and look at their cumulative sum.
    """
    raise NotImplementedError("filter_logits: your code here (see the docstring)")


def generate(prompt, params, n_heads, n_new, temperature=0.0, top_k=None, seed=0):
    """自己回帰生成 (autoregressive generation): トークンを予測して追加することを繰り返す。

    Autoregressive generation: predict a token, append it, repeat ``n_new`` times.

    At every step the model sees only the last ``T_max`` tokens (the context is cropped to
    ``T_max = wpe.shape[0]``), and the next id is chosen from the logits at the last position:

    * ``temperature == 0``: greedy, ``argmax`` (the lowest id on ties);
    * ``temperature > 0``: ``filter_logits(logits / temperature, top_k)``, softmax, then one draw with
      ``torch.multinomial(probs, 1, generator=g)``.

    Seeding rule (the course's one rule for generation, as ``rnn_generate`` in §37): **step ``i``
    (``i = 0, 1, …``) draws its token with seed ``seed + i``**, i.e. with a fresh
    ``g = torch.Generator().manual_seed(seed + i)``. So the same arguments always give the same ids,
    and the token of step ``i`` is the one that a one-step ``generate`` from the prompt extended by
    the ``i`` tokens before it draws with seed ``seed + i``. Top-k ties follow the course's one rule
    too (``filter_logits``): every logit equal to the ``top_k``-th largest survives.

    Args:
        prompt: non-empty list of ints or 1-D integer tensor of token ids.
        params: GPT parameters as in ``gpt_forward``.
        n_heads: number of attention heads.
        n_new: number of tokens to generate (``>= 0``).
        temperature: ``>= 0``; 0 means greedy.
        top_k: ``None`` or a positive int, passed to ``filter_logits`` when sampling.
        seed: seed of the first step's generator; step ``i`` uses ``seed + i``.

    Returns:
        int64 tensor ``(n_new,)`` with the new ids only (the prompt is not included).

    Raises:
        ValueError: empty prompt (names ``prompt``), ``n_new < 0`` (names ``n_new``), ``temperature < 0``
        (names ``temperature``), or any error of ``gpt_forward``.

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: run the model under ``torch.no_grad()`` on ``ids[-T_max:]`` and keep only ``logits[0, -1]``.
    """
    raise NotImplementedError("generate: your code here (see the docstring)")


# --- Mixture of Experts -------------------------------------------------------------------


def moe_gate(x, W_gate, k):
    """ルーター (router): 混合エキスパート (Mixture of Experts) で各トークンの上位 k 個のエキスパート (expert) を選ぶ。

    Top-k router of a Mixture-of-Experts layer.

    ``probs = softmax(x W_gate)`` over all ``E`` experts; keep the ``k`` largest per token in
    descending order; renormalise them so that each token's ``k`` weights sum to 1. (This equals a
    softmax over the ``k`` selected logits.) The weights stay differentiable, so the router learns.

    Args:
        x: ``(N, d)`` tokens.
        W_gate: ``(d, E)`` router weights.
        k: experts per token, ``1 <= k <= E``.

    Returns:
        ``(weights, indices)``: ``weights (N, k)`` in ``x``'s dtype, each row descending and summing
        to 1; ``indices (N, k)`` int64, the chosen experts in the same order. Ties between exactly
        equal probabilities may be broken either way.

    Raises:
        ValueError: ``x`` not 2-D or empty (names ``x``), ``W_gate`` not ``(d, E)`` (names ``W_gate``),
        ``k`` not in ``[1, E]`` (names ``k``).

    Figure: chatgpt-book-ch6-42-2-mixture-of-experts.png
    Hint: ``torch.topk`` returns values and indices sorted in descending order.
    """
    raise NotImplementedError("moe_gate: your code here (see the docstring)")


def moe_layer(x, W_gate, experts, k):
    """MoE 層 (Mixture-of-Experts layer): 各トークンを上位 k 個のエキスパート (expert) だけで処理する。

    A sparse Mixture-of-Experts feed-forward layer: each token runs through its top-k experts only.

    ``weights, indices = moe_gate(x, W_gate, k)``; expert ``e`` is the ReLU feed-forward
    ``relu(x W1 + b1) W2 + b2``; ``y[n] = Σ_j weights[n, j] · expert_{indices[n, j]}(x[n])``.
    Each expert should see only the tokens routed to it (that is what makes the layer cheap).

    Args:
        x: ``(N, d)`` tokens.
        W_gate: ``(d, E)`` router weights.
        experts: list of ``E`` dicts ``{"W1": (d, d_ff), "b1": (d_ff,), "W2": (d_ff, d), "b2": (d,)}``.
        k: experts per token.

    Returns:
        ``(y, router_probs, indices)``: ``y (N, d)`` in ``x``'s dtype, ``router_probs (N, E)`` =
        ``softmax(x W_gate)`` over all experts (for the load-balancing loss), ``indices (N, k)`` int64.

    Raises:
        ValueError: ``len(experts) != E`` (names ``experts``), or any error of ``moe_gate``.

    Figure: chatgpt-book-ch6-42-2-mixture-of-experts.png
    Hint: for each expert find the (token, slot) pairs that chose it (``torch.where(indices == e)``),
    run the expert on those tokens and add ``weight * output`` into ``y`` with ``index_add``.
    """
    raise NotImplementedError("moe_layer: your code here (see the docstring)")


def load_balancing_loss(router_probs, indices, n_experts):
    """負荷分散損失 (load balancing loss): トークンをエキスパート (expert) に均等に振り分けさせる補助損失。

    Switch-Transformer auxiliary loss that pushes the router to spread tokens evenly over experts.

    ``loss = E · Σ_i f_i · P_i`` where ``f_i`` is the share of the ``N·k`` assignments in ``indices``
    that went to expert ``i`` (a count, not differentiable) and ``P_i`` is the mean router
    probability of expert ``i`` over the ``N`` tokens (differentiable). It is 1.0 when routing is
    perfectly uniform and grows to ``E`` when every token goes to one expert with probability 1.

    Args:
        router_probs: ``(N, E)`` softmax outputs of the router.
        indices: ``(N, k)`` integer expert indices chosen per token.
        n_experts: ``E``.

    Returns:
        0-dim tensor in ``router_probs``' dtype; gradients flow into ``router_probs``.

    Raises:
        ValueError: ``router_probs`` not ``(N, n_experts)`` (names ``router_probs``), ``indices`` not
        ``(N, k)`` or out of range (names ``indices``), ``n_experts < 1`` (names ``n_experts``).

    Figure: chatgpt-book-ch6-42-2-mixture-of-experts.png
    Hint: ``torch.bincount(indices.flatten(), minlength=E)`` counts the assignments per expert.
    """
    raise NotImplementedError("load_balancing_loss: your code here (see the docstring)")


# --- Beyond the book (bonus, 0 points) ------------------------------------------------------


def generate_with_kv_cache(prompt, params, n_heads, n_new, temperature=0.0, top_k=None, seed=0):
    """KV キャッシュ付き生成 (KV cache): 過去を再計算せずに generate と同じ ID を生成する (発展課題)。

    Bonus: ``generate`` with a key/value cache — the same ids, without recomputing the past.

    Same signature, arguments, sampling rule (one ``torch.multinomial`` draw per step; step ``i``
    draws with ``torch.Generator().manual_seed(seed + i)``, the course's one seeding rule) and return
    value as ``generate``; for the same arguments it returns the same ids. The prompt is processed
    once; each layer keeps the keys and values of every position seen so far, and each new token
    then needs one forward step of one position whose query attends to the cached keys and values.

    Write the cached attention yourself (no ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``,
    ``F.layer_norm``/``nn.LayerNorm`` or ``nn.Transformer*``); the given ``ln`` is fine.

    When the sequence grows beyond ``T_max`` the context window slides, every position embedding
    shifts and the cached keys and values are no longer valid: from then on each step recomputes the
    cropped context ``ids[-T_max:]`` from scratch, exactly as ``generate`` does.

    Args, Returns, Raises: as ``generate``.

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: per layer store ``K, V`` of shape ``(1, n_heads, t, d_head)`` and concatenate the new
    position's along ``t``; a new query may attend to every cached key, so it needs no mask.
    """
    raise NotImplementedError("generate_with_kv_cache: your code here (see the docstring)")


def expert_capacity_mask(indices, n_experts, capacity):
    """エキスパート容量 (expert capacity): 各エキスパート (expert) が受け付ける割り当てを capacity 個までにする (発展課題)。

    Bonus: Switch-style token dropping — each expert accepts at most ``capacity`` assignments.

    Assignments are taken in token order, and within a token in rank order (row-major over
    ``indices``: token 0 rank 0, token 0 rank 1, …, token 1 rank 0, …); an assignment is kept when
    fewer than ``capacity`` earlier assignments went to the same expert, otherwise it is dropped
    (the token skips that expert; in a Transformer its residual connection carries it on).

    Args:
        indices: ``(N, k)`` integer expert indices (as returned by ``moe_gate``).
        n_experts: ``E``; every index must lie in ``[0, E)``.
        capacity: ``>= 0`` assignments per expert.

    Returns:
        bool tensor ``(N, k)``: True = the assignment is kept.

    Raises:
        ValueError: ``indices`` not 2-D or out of range (names ``indices``), ``n_experts`` not an
        int >= 1 (names ``n_experts``), ``capacity`` not an int >= 0 (names ``capacity``); a bool or
        a float is not an int here.

    Figure: chatgpt-book-ch6-42-2-mixture-of-experts.png
    Hint: one-hot the flattened indices ``(N*k, E)``, a cumulative sum down the rows gives each
    assignment's place in its expert's queue.
    """
    raise NotImplementedError("expert_capacity_mask: your code here (see the docstring)")


# --- Beyond the book: a LLaMA-style block (bonus, 0 points) ---------------------------------
#
# Modern GPTs (LLaMA and its successors) keep the GPT-2 block's shape but change three parts:
# RMSNorm instead of LayerNorm, rotary position embeddings (RoPE) on q and k instead of a learned
# ``wpe``, and a gated feed-forward (SwiGLU) instead of GELU.


def rms_norm(x, weight, eps=1e-6):
    """RMS 正規化 (RMSNorm): 最後の次元の二乗平均平方根で割って重みを掛ける (発展課題)。

    Bonus: RMSNorm — ``x / sqrt(mean(x²) + eps) * weight`` over the last dimension.

    Unlike LayerNorm no mean is subtracted and there is no bias: only the root mean square of the
    features is divided out (one statistic instead of two).

    Args:
        x: ``(..., d)`` float tensor.
        weight: ``(d,)`` gain.
        eps: added to the mean square inside the square root.

    Returns:
        ``(..., d)`` in ``x``'s dtype.

    Raises:
        ValueError: ``weight`` is not ``(d,)`` (names ``weight``).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: ``torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps)``; do not call ``torch.nn.RMSNorm``.
    """
    x, weight = torch.as_tensor(x), torch.as_tensor(weight)
    raise NotImplementedError("rms_norm: your code here (see the docstring)")


def apply_rope(x, positions, base=10000.0):
    """回転位置埋め込み (RoPE): 隣り合う 2 要素の組を位置に応じて回転させる (発展課題)。

    Bonus: rotary position embedding (RoPE) on interleaved pairs, like §40's positional encoding.

    Feature pair ``(2i, 2i+1)`` of the vector at position ``p`` is turned by the angle ``p θ_i``,
    ``θ_i = base^(-2i/d)``::

        y[2i]   = x[2i] cos(p θ_i) - x[2i+1] sin(p θ_i)
        y[2i+1] = x[2i] sin(p θ_i) + x[2i+1] cos(p θ_i)

    A rotation keeps lengths, and the dot product of a query turned for position ``p`` with a key
    turned for position ``s`` depends on ``p - s`` only: the attention scores see *relative*
    positions.

    Args:
        x: ``(..., T, d)`` float tensor, ``d`` even.
        positions: ``(T,)`` integer positions of the ``T`` rows.
        base: the frequency base (> 0).

    Returns:
        ``(..., T, d)`` in ``x``'s dtype (angles computed in float64).

    Raises:
        ValueError: ``x`` has fewer than 2 dimensions or an odd ``d`` (names ``x``); ``positions`` is
        not ``(T,)`` (names ``positions``).

    Figure: chatgpt-book-ch6-40-3-positional-encoding.png
    Hint: ``x[..., 0::2]`` and ``x[..., 1::2]`` are the pairs' two halves; the angles are the outer
    product of ``positions`` and ``θ``; ``torch.stack([...], dim=-1).flatten(-2)`` interleaves back.
    """
    x, positions = torch.as_tensor(x), torch.as_tensor(positions)
    raise NotImplementedError("apply_rope: your code here (see the docstring)")


def swiglu(x, W_gate, W_up, W_down):
    """SwiGLU 順伝播層 (SwiGLU feed-forward): ゲート付きの順伝播層を計算する (発展課題)。

    Bonus: the SwiGLU feed-forward — ``(silu(x W_gate) * (x W_up)) W_down``.

    ``silu(z) = z * sigmoid(z)``; the gate ``silu(x W_gate)`` decides, feature by feature, how much
    of ``x W_up`` passes.

    Args:
        x: ``(..., d)``.
        W_gate, W_up: ``(d, d_ff)``.
        W_down: ``(d_ff, d)``.

    Returns:
        ``(..., d)`` in ``x``'s dtype.

    Raises:
        ValueError: a weight of the wrong shape (names it).

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: three matrix products and one elementwise product; ``torch.sigmoid`` is fine.
    """
    x, W_gate, W_up, W_down = (torch.as_tensor(t) for t in (x, W_gate, W_up, W_down))
    raise NotImplementedError("swiglu: your code here (see the docstring)")


def llama_block(x, params, n_heads):
    """LLaMA 型ブロック (LLaMA block): RMSNorm、RoPE 付き因果注意、SwiGLU からなるブロック (発展課題)。

    Bonus: one LLaMA-style block — pre-RMSNorm, causal attention with RoPE on q and k, SwiGLU.

    ``h = x + attn(rms_norm(x, norm1))``, then ``h + swiglu(rms_norm(h, norm2))``. ``attn`` splits
    ``a W_qkv`` into q, k, v (in that order, no biases), splits each into ``n_heads`` heads as
    ``causal_self_attention`` does, applies ``apply_rope`` to q and k of every head (positions
    ``0 .. T-1``), takes the causal ``softmax(q kᵀ / sqrt(d_head)) v`` and projects with ``W_o``.
    There is no position embedding: RoPE is the only place positions enter.

    Args:
        x: ``(B, T, d)``.
        params: ``{"norm1": {"weight": (d,)}, "attn": {"W_qkv": (d, 3d), "W_o": (d, d)},
            "norm2": {"weight": (d,)}, "mlp": {"W_gate": (d, d_ff), "W_up": (d, d_ff),
            "W_down": (d_ff, d)}}``; the norms use ``eps = 1e-6``.
        n_heads: an int that divides ``d`` into heads of even width ``d_head``.

    Returns:
        ``(B, T, d)`` in ``x``'s dtype; output ``t`` depends only on ``x[:, :t+1]``.

    Raises:
        ValueError: ``x`` not 3-D (names ``x``); ``n_heads`` not an int dividing ``d`` into heads of
        even width (names ``n_heads``); any error of the parts.

    Figure: chatgpt-book-ch6-42-1-masked-attention.png
    Hint: your ``causal_self_attention`` with RoPE inserted after the head split, and no biases;
    do not use ``F.scaled_dot_product_attention``.
    """
    x = torch.as_tensor(x)
    raise NotImplementedError("llama_block: your code here (see the docstring)")


# --- given code — you do not write this: a tiny GPT learns to sort digits (bonus, 0 points) --------
#
# Run it once gpt_forward, lm_loss and train_step (and, for the MoE half, moe_layer and
# load_balancing_loss) pass their tests. The task: ``SORT_DIGITS`` random digits, a separator, then the same digits sorted::
#
#     3 9 1 4 1 7 | 1 1 3 4 7 9
#
# The model reads the digits and the separator (the prompt) and writes the sorted digits one at a
# time (greedy decoding). Only the sorted half is in the loss (``n_prompt = SORT_DIGITS + 1`` in
# ``train_step``). Everything is seeded (``torch.Generator``s) and runs on one thread, and every
# function returns plain data (tensors, numbers, lists, dicts), so the grader can call it like any exercise.
#
# Mixture of Experts: ``use_moe=True`` replaces every block's feed-forward by your ``moe_layer``
# (``n_experts`` experts, top-``k`` routing) and adds ``aux_weight`` times your
# ``load_balancing_loss``. A router can collapse (a few experts get most tokens, learn the most and
# get chosen even more). ``router_skew > 0`` starts from such an unlucky router (a direction shared
# by every token points to expert 0): without the load-balancing term (``aux_weight=0``) expert 0
# keeps most of the load, with it the load spreads evenly within a few dozen steps. (With top-1
# routing the renormalised gate weight is always 1, so only the load-balancing loss moves the router.)

SORT_DIGITS = 6  # digits to sort
SORT_SEP = 10  # the separator id; ids 0..9 are the digits themselves
SORT_VOCAB = 11
SORT_HEADS = 4


def make_sort_data(n, n_digits=SORT_DIGITS, seed=0):
    """``n`` sequences ``digits | SORT_SEP | sorted digits``: int64 ``(n, 2 * n_digits + 1)`` (given)."""
    return _sort_batch(n, n_digits, torch.Generator().manual_seed(seed))


def _sort_batch(n, n_digits, g):
    digits = torch.randint(0, 10, (n, n_digits), generator=g)  # (n, n_digits)
    sep = torch.full((n, 1), SORT_SEP)
    return torch.cat([digits, sep, digits.sort(dim=1).values], dim=1)  # (n, 2 n_digits + 1)


def init_sort_params(
    n_layers=2,
    d=64,
    d_ff=256,
    T_max=2 * SORT_DIGITS + 1,
    use_moe=False,
    n_experts=4,
    gate_std=0.02,
    router_skew=0.0,
    seed=0,
):
    """GPT parameters in this module's layout (given): normal(0, 0.02) weights, zero biases.

    With ``use_moe=True`` each block has ``"moe": {"W_gate": (d, E), "experts": [expert, ...]}``
    instead of ``"mlp"``. All tensors are float32 leaves with ``requires_grad=True``.
    """
    gen = torch.Generator().manual_seed(seed)

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=gen) * std

    def ln_params():
        return {"gamma": torch.ones(d), "beta": torch.zeros(d)}

    proj_std = 0.02 / math.sqrt(2 * n_layers)  # GPT-2: residual projections scaled down by depth
    blocks = []
    for _ in range(n_layers):
        attn = {
            "W_qkv": normal(d, 3 * d),
            "b_qkv": torch.zeros(3 * d),
            "W_o": normal(d, d, std=proj_std),
            "b_o": torch.zeros(d),
        }
        block = {"ln1": ln_params(), "attn": attn, "ln2": ln_params()}
        if use_moe:
            experts = [
                {
                    "W1": normal(d, d_ff),
                    "b1": torch.zeros(d_ff),
                    "W2": normal(d_ff, d, std=proj_std),
                    "b2": torch.zeros(d),
                }
                for _ in range(n_experts)
            ]
            W_gate = normal(d, n_experts, std=gate_std)
            if router_skew:  # an unlucky start: a direction shared by every token points to expert 0
                u = normal(d, std=1.0)
                u = u / u.norm()
                block["ln2"]["beta"] = u.clone()
                W_gate[:, 0] += router_skew * u
            block["moe"] = {"W_gate": W_gate, "experts": experts}
        else:
            block["mlp"] = {
                "W_fc": normal(d, d_ff),
                "b_fc": torch.zeros(d_ff),
                "W_proj": normal(d_ff, d, std=proj_std),
                "b_proj": torch.zeros(d),
            }
        blocks.append(block)
    params = {"wte": normal(SORT_VOCAB, d), "wpe": normal(T_max, d), "blocks": blocks, "ln_f": ln_params()}
    for p in param_tensors(params):
        p.requires_grad_(True)
    return params


def param_tensors(tree):
    """Every tensor in a nested dict/list of parameters, in a fixed order (given)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    items = tree.values() if isinstance(tree, dict) else tree
    return [t for item in items for t in param_tensors(item)]


def detached(tree):
    """A copy of a nested dict/list of tensors without gradients: plain data to return (given)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: detached(v) for k, v in tree.items()}
    return [detached(v) for v in tree]


def run_train_steps(params, batches, n_heads, lr=0.1, optimizer="sgd", pad_id=None, n_prompt=0):
    """Train a copy of ``params`` with your ``train_step``, one step per batch (given).

    This is how a notebook or the grader calls ``train_step`` with plain data: the weights are
    copied into fresh leaves with ``requires_grad=True`` (``params`` itself is not modified), an
    optimiser is made over them (``"sgd"``: plain ``torch.optim.SGD(lr=lr)``; ``"adam"``:
    ``torch.optim.Adam(lr=lr)``), and ``train_step(params, opt, batches[i], n_heads, pad_id,
    n_prompt)`` runs for every batch in order. Gradients are never zeroed here: that is the step's job.

    Args:
        params: GPT parameters as in ``gpt_forward``.
        batches: ``(n_steps, B, T)`` integer tensor, or a list of ``(B, T)`` tensors.

    Returns:
        ``{"params": the trained weights (detached), "losses": what train_step returned, per step}``.
    """
    params = detached(params)
    tensors = param_tensors(params)
    for p in tensors:
        p.requires_grad_(True)
    if optimizer == "sgd":
        opt = torch.optim.SGD(tensors, lr=lr)
    elif optimizer == "adam":
        opt = torch.optim.Adam(tensors, lr=lr)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    losses = []
    for ids in batches:
        loss = train_step(params, opt, ids, n_heads, pad_id=pad_id, n_prompt=n_prompt)
        losses.append(loss.detach().clone() if isinstance(loss, torch.Tensor) else loss)  # plain data back
    return {"params": detached(params), "losses": losses}


def moe_gpt_forward(ids, params, n_heads, k=1):
    """``gpt_forward`` with your ``moe_layer`` as the feed-forward of every block (given).

    Returns:
        ``(logits (B, T, V), aux_loss, load)``: ``aux_loss`` = mean over blocks of your
        ``load_balancing_loss``; ``load (E,)`` = share of the token→expert assignments each expert
        received, averaged over blocks.
    """
    n_seq, T = ids.shape
    h = params["wte"][ids] + params["wpe"][:T]  # (B, T, d)
    aux, load = 0.0, 0.0
    for blk in params["blocks"]:
        h = h + causal_self_attention(ln(h, blk["ln1"]), blk["attn"], n_heads)
        x = ln(h, blk["ln2"]).reshape(n_seq * T, -1)  # (N, d): every token is routed on its own
        W_gate, experts = blk["moe"]["W_gate"], blk["moe"]["experts"]
        y, router_probs, indices = moe_layer(x, W_gate, experts, k)
        h = h + y.reshape(n_seq, T, -1)
        aux = aux + load_balancing_loss(router_probs, indices, len(experts))
        load = load + torch.bincount(indices.flatten(), minlength=len(experts)).float() / indices.numel()
    n = len(params["blocks"])
    logits = ln(h, params["ln_f"]) @ params["wte"].T  # (B, T, V), tied embedding
    return logits, aux / n, load / n


def train_sorting_gpt(
    seed=0,
    use_moe=False,
    steps=200,
    batch_size=64,
    lr=3e-3,
    n_digits=SORT_DIGITS,
    n_layers=2,
    d=64,
    d_ff=256,
    n_experts=4,
    k=1,
    aux_weight=0.01,
    gate_std=0.02,
    router_skew=0.0,
):
    """Train a tiny GPT built from your ``gpt_forward`` with your ``train_step`` (or, ``use_moe=True``,
    from your ``moe_layer`` and ``load_balancing_loss``) to sort ``n_digits`` digits (given; ~5 CPU-s; limit 30 CPU-s).

    Adam, a learning rate that warms up for 30 steps then decays to a tenth (cosine), gradient
    clipping at 1 for the MoE model, a fresh random batch every step (data from ``seed + 1``,
    weights from ``seed``).
    One PyTorch thread; the caller's thread count is restored.

    Returns:
        dict of plain data: ``"params"`` (trained, detached, in ``gpt_forward``'s layout),
        ``"losses"`` (the sorting loss per step), ``"seconds"``, ``"config"`` (the arguments) and,
        for ``use_moe=True``, ``"aux_losses"`` (per step) and ``"expert_load"`` (``E`` shares of the
        assignments on held-out data, averaged over blocks; uniform = ``1/E`` each).
    """
    config = dict(
        seed=seed, use_moe=use_moe, steps=steps, batch_size=batch_size, lr=lr, n_digits=n_digits, n_layers=n_layers,
        d=d, d_ff=d_ff, n_experts=n_experts, k=k, aux_weight=aux_weight, gate_std=gate_std, router_skew=router_skew,
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        params = init_sort_params(n_layers, d, d_ff, 2 * n_digits + 1, use_moe, n_experts, gate_std, router_skew, seed)
        opt = torch.optim.Adam(param_tensors(params), lr=lr)
        g = torch.Generator().manual_seed(seed + 1)
        losses, aux_losses = [], []
        for step in range(steps):
            warm = min(1.0, (step + 1) / 30)
            decay = 0.1 + 0.45 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr * warm * decay
            seq = _sort_batch(batch_size, n_digits, g)  # (B, 2n + 1)
            if not use_moe:  # your train_step: only the sorted half (after the n + 1 prompt tokens) is learned
                losses.append(train_step(params, opt, seq, SORT_HEADS, n_prompt=n_digits + 1))
                continue
            logits, aux, _ = moe_gpt_forward(seq, params, SORT_HEADS, k)
            loss = lm_loss(logits[:, n_digits:], seq[:, n_digits:])  # position t predicts token t + 1
            opt.zero_grad()
            (loss + aux_weight * aux).backward()
            torch.nn.utils.clip_grad_norm_(param_tensors(params), 1.0)
            opt.step()
            losses.append(loss.item())
            aux_losses.append(float(aux.detach()))
        result = {
            "params": detached(params),
            "losses": losses,
            "seconds": time.perf_counter() - start,
            "config": config,
        }
        if use_moe:
            with torch.no_grad():
                held_out = make_sort_data(512, n_digits, seed=seed + 2000)[:, :-1]
                _, _, load = moe_gpt_forward(held_out, result["params"], SORT_HEADS, k)
            result["aux_losses"] = aux_losses
            result["expert_load"] = load.tolist()
    finally:
        torch.set_num_threads(threads)
    return result


def greedy_sort(params, prompts, k=1):
    """Greedy decoding of a batch (given): ``prompts (B, n + 1)`` = digits and ``SORT_SEP`` ->
    ``(B, n)`` ids. For a dense GPT these are the ids of ``generate`` (temperature 0) on each prompt
    alone; a params dict with ``"moe"`` blocks runs ``moe_gpt_forward`` with top-``k`` routing.
    One PyTorch thread; the caller's thread count is restored."""
    ids = torch.as_tensor(prompts, dtype=torch.int64)
    n = ids.shape[1] - 1
    use_moe = "moe" in params["blocks"][0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is faster, above all on a busy machine
    try:
        with torch.no_grad():
            for _ in range(n):
                if use_moe:
                    logits = moe_gpt_forward(ids, params, SORT_HEADS, k)[0][:, -1]  # (B, V)
                else:
                    logits = gpt_forward(ids, params, SORT_HEADS)[:, -1]  # (B, V)
                ids = torch.cat([ids, logits.argmax(dim=-1, keepdim=True)], dim=1)
    finally:
        torch.set_num_threads(threads)
    return ids[:, n + 1 :]


def sort_accuracy(params, n=1000, seed=12345, k=1):
    """Share of ``n`` fresh sequences (from ``seed``) that greedy decoding sorts exactly (given)."""
    n_digits = params["wpe"].shape[0] // 2
    seq = make_sort_data(n, n_digits, seed=seed)
    out = greedy_sort(params, seq[:, : n_digits + 1], k)
    return (out == seq[:, n_digits + 1 :]).all(dim=1).float().mean().item()
