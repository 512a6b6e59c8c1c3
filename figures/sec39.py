"""§39 注意機構の計算: figures 39-1 … 39-4.

39-1 … 39-3 use one made-up sentence, 猫 が 魚 を 食べ た, with fixed seeded embeddings; its hidden
states come from a small tanh RNN (``rnn.rnn_forward``), and Q, K, V, the similarities and the
weighted sum from the §39 reference (``project_qkv``, ``attention_scores``, ``softmax_attention``,
``attention_with_residual``). 39-4 shows the attention map of a small encoder–decoder with
dot-product attention trained here on sequence reversal (or ``train_reversal_attention`` of the §39
reference, once it exists).
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from figures.common import (
    BLUE,
    GRAY,
    RED,
    C,
    arrow,
    diagram_axes,
    figure,
    heatmap,
    label,
    new_figure,
    panel_title,
    ref_function,
    reference,
    seeded,
    vector_cells,
)
from figures.sec37 import rnn_cell, token

SEC = "sec39_attention_math"
WORDS = ["猫", "が", "魚", "を", "食べ", "た"]
D, DK = 8, 4
QUERY = 4  # the query shown in detail: 食べ
QC, KC, VC = "#C0392B", "#1F5FA8", "#2E8B57"  # colours of Q, K, V


def _standin_rnn_forward(x, h0, W_x, W_h, b, mask=None):
    """LOCAL STAND-IN for rnn.rnn_forward (no mask)."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W_x + h @ W_h + b)
        hs.append(h)
    return np.stack(hs, 1), h


def sentence_states():
    """Seeded embeddings → RNN hidden states h (T, D) and projection weights W_q, W_k (D, dk), W_v (D, D)."""
    rnn_forward = ref_function("sec37_rnn", "rnn_forward", _standin_rnn_forward)
    rng = seeded(39)
    T = len(WORDS)
    x = rng.normal(0, 1.0, (1, T, D))
    W_x, W_h, b = rng.normal(0, 0.6, (D, D)), rng.normal(0, 0.4, (D, D)), np.zeros(D)
    hs, _ = rnn_forward(x, np.zeros((1, D)), W_x, W_h, b)
    h = np.asarray(hs)[0]
    W_q, W_k = rng.normal(0, 0.5, (D, DK)), rng.normal(0, 0.5, (D, DK))
    W_v = rng.normal(0, 0.5, (D, D))
    return h, W_q, W_k, W_v


def sentence_attention():
    am = reference(SEC)
    h, W_q, W_k, W_v = sentence_states()
    Q, K, V = am.project_qkv(h, W_q, W_k, W_v)
    scores = am.attention_scores(Q, K)
    out, weights = am.softmax_attention(Q, K, V)
    res, weights_r = am.attention_with_residual(h, W_q, W_k, W_v)
    assert np.allclose(weights, weights_r) and np.allclose(res, h + out)
    return dict(h=h, Q=Q, K=K, V=V, scores=scores, out=out, weights=weights, res=res)


# --- 39-1 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-39-1-rnn-qkv-extraction.png")
def qkv_figure():
    a = sentence_attention()
    fig = new_figure(6.0)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 15))
    xs = [6.0 + 3.3 * i for i in range(len(WORDS))]
    vmax = 2.0
    rows = [("V", "値 $V = h\\,W_v$", VC, 12.8, a["V"]), ("K", "検索キー $K = h\\,W_k$", KC, 11.0, a["K"])]
    rows.append(("Q", "質問 $Q = h\\,W_q$", QC, 9.2, a["Q"]))
    for t, (x, w) in enumerate(zip(xs, WORDS, strict=True)):
        token(ax, x, 1.2, w, w=1.6)
        arrow(ax, (x, 1.6), (x, 2.95))
        rnn_cell(ax, x, 3.5, "RNN", w=1.6)
        if t:
            arrow(ax, (xs[t - 1] + 0.8, 3.5), (x - 0.8, 3.5), color=C["hidden"][1], lw=2.0)
        vector_cells(ax, x - 1.05, 5.6, a["h"][t], cell=0.3, vmax=vmax)
        arrow(ax, (x, 4.05), (x, 5.3))
        label(ax, x, 6.2, f"$h_{t + 1}$", fontsize=12, color=C["hidden"][1])
        bx = x - 1.5  # a bus from h up to the three projections
        ax.plot([x - 1.2, bx, bx], [5.6, 5.6, rows[0][3]], color="#777777", lw=1.5, zorder=2)
        for _, _, col, y, M in rows:
            n = M.shape[1]
            vector_cells(ax, x - (n - 1) * 0.15, y, M[t], cell=0.3, vmax=vmax, edge=col)
            arrow(ax, (bx, y), (x - n * 0.15 - 0.02, y), color=col, lw=1.5, shrink=0, mutation=10)
        label(ax, x + 0.95, 9.2, f"$q_{t + 1}$", fontsize=10, color=QC, ha="left")
        label(ax, x + 0.95, 11.0, f"$k_{t + 1}$", fontsize=10, color=KC, ha="left")
    for _, text, col, y, _ in rows:
        label(ax, 0.3, y, text, fontsize=13, color=col, ha="left")
    label(ax, 0.3, 5.6, "隠れ状態 $h$", fontsize=13, color=C["hidden"][1], ha="left")
    label(ax, 0.3, 3.5, "RNNブロック", fontsize=13, color=C["rnn"][1], ha="left")
    label(
        ax,
        12.0,
        14.45,
        "各トークンの隠れ状態 $h_t$ に3つの行列を掛けて、質問 $q_t$・検索キー $k_t$・値 $v_t$ を作る",
        fontsize=13,
        weight="bold",
    )
    label(
        ax, 12.0, 13.6, f"（$W_q, W_k$: {D}×{DK}、$W_v$: {D}×{D}、同じ行列を全トークンで共有）", fontsize=11, color=GRAY
    )
    return fig


# --- 39-2 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-39-2-attention-similarity.png")
def similarity_figure():
    a = sentence_attention()
    S = a["scores"]
    fig = new_figure(5.6)
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 1.15], left=0.07, right=0.99, top=0.84, bottom=0.08, wspace=0.08)
    ax = fig.add_subplot(gs[0])
    im = heatmap(ax, S, WORDS, WORDS, cmap="RdBu_r", vmin=-np.abs(S).max(), vmax=np.abs(S).max(), fontsize=10)
    ax.add_patch(Rectangle((-0.5, QUERY - 0.5), len(WORDS), 1, fill=False, ec=RED, lw=2.5))
    ax.set_xlabel("検索キー $K$（どのトークンを）", color=KC)
    ax.set_ylabel("質問 $Q$（どのトークンが）", color=QC)
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    fig.colorbar(im, ax=ax, shrink=0.7, pad=0.02)
    panel_title(ax, "類似度 $Q K^{\\top} / \\sqrt{d_k}$", fontsize=14, pad=42)
    # right: one query against every key
    ax = diagram_axes(fig.add_subplot(gs[1]), (0, 12), (0, 11.2))
    q = a["Q"][QUERY]
    label(ax, 6.0, 10.6, f"質問 $q_{QUERY + 1}$（「{WORDS[QUERY]}」）と各キーの内積", fontsize=13, weight="bold")
    qk_max = max(np.abs(a["Q"]).max(), np.abs(a["K"]).max())
    vector_cells(ax, 1.0, 9.2, q, cell=0.45, vmax=qk_max, edge=QC)
    label(ax, 3.0, 9.2, f"$q_{QUERY + 1}$", fontsize=13, color=QC, ha="left")
    smax = np.abs(S[QUERY]).max()
    for j, w in enumerate(WORDS):
        y = 7.7 - 1.2 * j
        vector_cells(ax, 1.0, y, a["K"][j], cell=0.45, vmax=qk_max, edge=KC)
        label(ax, 3.0, y, f"$k_{j + 1}$ {w}", fontsize=12, color=KC, ha="left")
        v = S[QUERY, j]
        ax.add_patch(Rectangle((8.4, y - 0.35), 2.4 * v / smax, 0.7, fc=RED if v > 0 else BLUE, alpha=0.8))
        label(
            ax,
            8.4 + 2.4 * v / smax + (0.15 if v > 0 else -0.15),
            y,
            f"{v:+.2f}",
            fontsize=11,
            ha="left" if v > 0 else "right",
        )
    ax.plot([8.4, 8.4], [0.3, 8.3], color="#555555", lw=1)
    label(ax, 6.0, 0.0, "値が大きいほど「質問に関係が深いキー」", fontsize=11, color=GRAY)
    return fig


# --- 39-3 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-39-3-attention-weighted-sum.png")
def weighted_sum_figure():
    a = sentence_attention()
    Wt = a["weights"]
    fig = new_figure(5.8)
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 1.45], left=0.07, right=0.995, top=0.84, bottom=0.06, wspace=0.05)
    ax = fig.add_subplot(gs[0])
    heatmap(ax, Wt, WORDS, WORDS, cmap="Purples", vmin=0, vmax=1, fontsize=10)
    ax.add_patch(Rectangle((-0.5, QUERY - 0.5), len(WORDS), 1, fill=False, ec=RED, lw=2.5))
    ax.set_xlabel("キー / 値（参照される側）")
    ax.set_ylabel("質問（参照する側）")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    panel_title(ax, "Attentionの重み = softmax（各行の和 = 1）", fontsize=13, pad=42)
    ax = diagram_axes(fig.add_subplot(gs[1]), (0, 16), (0, 10.6))
    label(ax, 8.0, 10.1, f"「{WORDS[QUERY]}」の出力 = 値の重み付き平均 + 元の $h$（残差）", fontsize=13, weight="bold")
    vmax = 1.5
    cell = 0.36
    for j, w in enumerate(WORDS):
        y = 8.6 - 1.05 * j
        wt = Wt[QUERY, j]
        label(
            ax,
            0.9,
            y,
            f"{wt:.2f}",
            fontsize=12,
            color=C["attn"][1],
            weight="bold" if wt == Wt[QUERY].max() else "normal",
        )
        ax.add_patch(Rectangle((1.6, y - 0.3), 1.5 * wt, 0.6, fc=C["attn"][1], alpha=0.8))
        label(ax, 3.25, y, "×", fontsize=13)
        vector_cells(ax, 3.9, y, a["V"][j], cell=cell, vmax=vmax, edge=VC)
        label(ax, 3.9 + D * cell, y, f"$v_{j + 1}$ {w}", fontsize=11, color=VC, ha="left")
    ax.plot([0.4, 8.6], [2.4, 2.4], color="#555555", lw=1.2)
    label(ax, 0.9, 1.75, "Σ", fontsize=18)
    vector_cells(ax, 3.9, 1.75, a["out"][QUERY], cell=cell, vmax=vmax, edge=C["attn"][1])
    label(ax, 3.9 + D * cell, 1.75, "重み付き平均", fontsize=11, color=C["attn"][1], ha="left")
    # residual
    x2 = 12.0
    label(ax, x2 + 1.3, 7.5, f"元の出力 $h_{QUERY + 1}$", fontsize=11, color=C["hidden"][1])
    vector_cells(ax, x2, 6.8, a["h"][QUERY], cell=cell, vmax=vmax, edge=C["hidden"][1])
    label(ax, x2 + 1.3, 5.9, "+", fontsize=18)
    vector_cells(ax, x2, 5.0, a["out"][QUERY], cell=cell, vmax=vmax, edge=C["attn"][1])
    arrow(ax, (8.4, 1.75), (x2 - 0.3, 4.8), color=C["attn"][1], lw=1.6, rad=0.25)
    ax.plot([x2 - 0.3, x2 + 2.9], [4.4, 4.4], color="#555555", lw=1.2)
    vector_cells(ax, x2, 3.7, a["res"][QUERY], cell=cell, vmax=vmax, edge=RED)
    label(ax, x2 + 1.3, 2.9, "ブロックの新しい出力", fontsize=11, color=RED)
    label(ax, x2 + 1.3, 2.3, "$h + \\mathrm{Attention}(h)$", fontsize=11, color=RED)
    return fig


# --- 39-4 ------------------------------------------------------------------------------------

REV_LEN, REV_VOCAB = 8, 10


def train_reversal_local(seed=0, steps=140, hidden=64, batch=48, lr=1e-2, snapshots=(0, 30)):
    """A tiny PyTorch encoder–decoder with dot-product attention, trained on sequence reversal.

    Encoder: embedding + bidirectional GRU → states ``(B, L, H)``; decoder: GRU cell fed the previous
    target digit; at each step ``weights = softmax(enc · s_t)`` (dot-product attention),
    ``ctx = weights · enc``, ``logits = out(tanh(comb([ctx; s_t])))``. Teacher forcing, Adam, seeded
    data and initialisation, one thread (so the result is the same on every run).

    Returns a dict: ``losses`` (per step), ``accuracy`` (per digit, 1000 held-out sequences),
    ``src``/``pred`` (one held-out example), ``attention`` ``{step: (L, L)}`` for that example
    (output step × input position) at the steps in ``snapshots`` and at the end.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        L, V, H = REV_LEN, REV_VOCAB, hidden

        class Reverser(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(V, 32)
                self.enc = nn.GRU(32, H // 2, batch_first=True, bidirectional=True)
                self.demb = nn.Embedding(V + 1, 32)  # + BOS
                self.cell = nn.GRUCell(32, H)
                self.comb = nn.Linear(2 * H, H)
                self.out = nn.Linear(H, V)

            def forward(self, src, tgt_in):
                enc, _ = self.enc(self.emb(src))  # (B, L, H)
                s = enc.mean(1)  # (B, H)
                logits, atts = [], []
                for t in range(tgt_in.shape[1]):
                    s = self.cell(self.demb(tgt_in[:, t]), s)
                    w = torch.softmax(torch.einsum("blh,bh->bl", enc, s), -1)  # dot-product attention
                    ctx = torch.einsum("bl,blh->bh", w, enc)
                    logits.append(self.out(torch.tanh(self.comb(torch.cat([ctx, s], -1)))))
                    atts.append(w)
                return torch.stack(logits, 1), torch.stack(atts, 1)

        def batch_of(n):
            src = torch.randint(0, V, (n, L), generator=g)
            tgt = src.flip(1)
            return src, tgt, torch.cat([torch.full((n, 1), V), tgt[:, :-1]], 1)

        model = Reverser()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        test_src, test_tgt, test_in = batch_of(1000)

        def attention_now():
            with torch.no_grad():
                _, att = model(test_src[:1], test_in[:1])
            return att[0].numpy().copy()

        attention, losses = {}, []
        for step in range(steps):
            if step in snapshots:
                attention[step] = attention_now()
            src, tgt, tin = batch_of(batch)
            logits, _ = model(src, tin)
            loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        attention[steps] = attention_now()
        with torch.no_grad():  # greedy decoding of the held-out set
            enc_logits, _ = model(test_src, test_in)
        pred = enc_logits.argmax(-1)
        return dict(
            losses=np.array(losses),
            accuracy=float((pred == test_tgt).float().mean()),
            src=test_src[0].numpy(),
            pred=pred[0].numpy(),
            attention=attention,
        )
    finally:
        torch.set_num_threads(threads)


@figure("chatgpt-book-ch6-39-4-attention-learning.png")
def attention_learning_figure():
    r = train_reversal_local()
    steps = sorted(r["attention"])
    fig = new_figure(4.9)
    gs = fig.add_gridspec(
        1,
        len(steps) + 1,
        width_ratios=[1] * len(steps) + [1.25],
        left=0.05,
        right=0.985,
        top=0.78,
        bottom=0.14,
        wspace=0.45,
    )
    src = [str(d) for d in r["src"]]
    out = [str(d) for d in r["pred"]]
    for k, step in enumerate(steps):
        ax = fig.add_subplot(gs[k])
        heatmap(ax, r["attention"][step], src, out, cmap="Purples", vmin=0, vmax=1, annotate=False)
        ax.set_xlabel("入力（エンコーダー）", fontsize=11)
        if k == 0:
            ax.set_ylabel("出力（デコーダー）", fontsize=11)
        name = "学習前" if step == 0 else ("学習の途中" if step < steps[-1] else "学習後")
        panel_title(ax, f"{name}（{step}ステップ）", fontsize=12, loc="center")
    ax = fig.add_subplot(gs[-1])
    ax.plot(np.arange(1, len(r["losses"]) + 1), r["losses"], color=C["attn"][1], lw=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("学習ステップ", fontsize=11)
    ax.set_ylabel("損失", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    panel_title(ax, f"正解率 {r['accuracy'] * 100:.1f}%\n（未知の1000系列、1桁ごと）", fontsize=12, loc="center")
    fig.suptitle(
        "数字列を逆順にするタスクで学習した注意の重み：学習が進むと逆対角線（出力 i は入力 L−1−i を見る）が現れる",
        fontsize=13,
        y=0.96,
    )
    return fig
