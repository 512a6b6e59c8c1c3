"""§40 トランスフォーマー: figures 40-1 … 40-5."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch, Rectangle, Wedge

from figures.common import (
    BLUE,
    GRAY,
    RED,
    C,
    arrow,
    box,
    diagram_axes,
    figure,
    heatmap,
    label,
    new_figure,
    panel_title,
    ref_function,
    seeded,
    vector_cells,
)
from figures.sec37 import rnn_cell, token

SEC = "sec40_transformer"
HEAD_COLORS = ["#C0392B", "#1F5FA8", "#2E8B57", "#B8860B"]


def _standin_positional_encoding(seq_len, d_model, base=10000.0):
    """LOCAL STAND-IN for transformer.positional_encoding (interleaved sin/cos), returns NumPy."""
    p = np.arange(seq_len)[:, None]
    i = np.arange(d_model)[None, :]
    angle = p / base ** ((i - i % 2) / d_model)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


def _standin_multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    """LOCAL STAND-IN for transformer.multi_head_attention (NumPy, no mask)."""
    x_q, x_kv = np.asarray(x_q, dtype=np.float64), np.asarray(x_kv, dtype=np.float64)
    B, T, d = x_q.shape
    dh = d // n_heads

    def heads(y):
        return y.reshape(B, -1, n_heads, dh).transpose(0, 2, 1, 3)

    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    q = heads(x_q @ P["W_q"] + P["b_q"])
    k = heads(x_kv @ P["W_k"] + P["b_k"])
    v = heads(x_kv @ P["W_v"] + P["b_v"])
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    out = (w @ v).transpose(0, 2, 1, 3).reshape(B, T, d) @ P["W_o"] + P["b_o"]
    return out, w


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


# --- 40-1 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-40-1-lstm-vs-transformer.png")
def lstm_vs_transformer_figure():
    fig = new_figure(5.0)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 12.5))
    words = ["私", "は", "猫", "が", "好き"]
    # LSTM
    label(ax, 5.8, 11.8, "LSTM（RNN）：1トークンずつ順番に", fontsize=15, weight="bold", color=C["rnn"][1])
    xs = [1.4 + 2.25 * i for i in range(5)]
    for t, (x, w) in enumerate(zip(xs, words, strict=True)):
        token(ax, x, 2.0, w, w=1.5)
        arrow(ax, (x, 2.4), (x, 4.45))
        rnn_cell(ax, x, 5.0, "LSTM", w=1.6, fontsize=11)
        token(ax, x, 8.0, f"$h_{t + 1}$", role="hidden", w=1.5)
        arrow(ax, (x, 5.55), (x, 7.6))
        if t:
            arrow(ax, (xs[t - 1] + 0.8, 5.0), (x - 0.8, 5.0), color=C["hidden"][1], lw=2.2)
        label(ax, x, 3.3, f"{t + 1}", fontsize=11, color=RED, bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec=RED))
    label(ax, 5.8, 10.4, "前の時刻の計算が終わるまで次に進めない", fontsize=12, color=GRAY)
    label(ax, 5.8, 0.6, "遠いトークンの情報は何ステップも受け渡される", fontsize=12, color=GRAY)
    ax.plot([12.0, 12.0], [0.3, 12.2], color="#CCCCCC", lw=1.5)
    # Transformer
    label(ax, 18.1, 11.8, "Transformer：全トークンを同時に", fontsize=15, weight="bold", color=C["attn"][1])
    xs = [13.6 + 2.25 * i for i in range(5)]
    box(ax, 18.1, 5.0, 11.0, 1.4, "", role="attn", radius=0.2)
    label(ax, 18.1, 5.0, "Self-Attention（＋フィードフォワード）", fontsize=13)
    for x, w in zip(xs, words, strict=True):
        token(ax, x, 2.0, w, w=1.5)
        arrow(ax, (x, 2.4), (x, 4.25))
        token(ax, x, 8.0, "出力", role="hidden", w=1.5, fontsize=12)
        arrow(ax, (x, 5.75), (x, 7.6))
    for i, xi in enumerate(xs):  # every token looks at every token in one step
        for j, xj in enumerate(xs):
            if i != j:
                ax.plot([xj, xi], [2.45, 4.25], color=C["attn"][1], lw=0.7, alpha=0.5, zorder=1)
    label(ax, 18.1, 10.4, "各トークンが他の全トークンを直接参照（並列に計算できる）", fontsize=12, color=GRAY)
    label(ax, 18.1, 0.6, "どんなに遠いトークンも1ステップで届く", fontsize=12, color=GRAY)
    return fig


# --- 40-2 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-40-2-transformer-block.png")
def transformer_block_figure():
    fig = new_figure(7.2)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 18))
    cx = 9.0
    # input
    token(ax, cx, 1.0, "入力トークン列", w=4.2, fontsize=12)
    arrow(ax, (cx, 1.4), (cx, 2.3))
    box(ax, cx, 2.8, 4.2, 1.0, "埋め込み", role="token", fontsize=12)
    ax.add_patch(Circle((cx, 4.3), 0.38, fc="white", ec="#333333", lw=1.6, zorder=4))
    label(ax, cx, 4.3, "+", fontsize=16)
    arrow(ax, (cx, 3.3), (cx, 3.92))
    box(ax, cx - 4.6, 4.3, 4.2, 1.0, "位置エンコーディング", role="out", fontsize=11)
    arrow(ax, (cx - 2.5, 4.3), (cx - 0.38, 4.3))
    # block frame
    ax.add_patch(
        FancyBboxPatch(
            (cx - 3.6, 5.2),
            7.2,
            10.2,
            boxstyle="round,pad=0,rounding_size=0.3",
            fc="#FAFAFA",
            ec="#888888",
            lw=1.5,
            ls="--",
            zorder=1,
        )
    )
    label(ax, cx - 4.5, 10.3, "× N", fontsize=18, weight="bold")
    ys = {"mha": 7.4, "an1": 9.3, "ffn": 11.7, "an2": 13.6}
    bw = 6.4
    arrow(ax, (cx, 4.68), (cx, ys["mha"] - 0.7))
    for k in (-1.4, 0, 1.4):  # Q, K, V
        ax.plot([cx, cx + k, cx + k], [5.9, 5.9, ys["mha"] - 0.7], color="#333333", lw=1.6, zorder=3)
        arrow(ax, (cx + k, 6.3), (cx + k, ys["mha"] - 0.7), shrink=0)
    for k, q in zip((-1.4, 0, 1.4), ("Q", "K", "V"), strict=True):
        label(ax, cx + k + 0.35, 6.4, q, fontsize=11, color=GRAY)
    box(ax, cx, ys["mha"], bw, 1.4, "マルチヘッド Attention", role="attn", fontsize=14)
    box(ax, cx, ys["an1"], bw, 0.9, "加算 & 層正規化", role="norm", fontsize=12)
    box(ax, cx, ys["ffn"], bw, 1.4, "フィードフォワード（2層MLP）", role="ffn", fontsize=12)
    box(ax, cx, ys["an2"], bw, 0.9, "加算 & 層正規化", role="norm", fontsize=12)
    arrow(ax, (cx, ys["mha"] + 0.7), (cx, ys["an1"] - 0.45))
    arrow(ax, (cx, ys["an1"] + 0.45), (cx, ys["ffn"] - 0.7))
    arrow(ax, (cx, ys["ffn"] + 0.7), (cx, ys["an2"] - 0.45))
    arrow(ax, (cx, ys["an2"] + 0.45), (cx, 16.5))
    token(ax, cx, 17.0, "出力（次のブロックへ）", role="hidden", w=4.6, fontsize=12)
    # residual connections
    for y0, y1 in ((5.7, ys["an1"]), (ys["an1"] + 0.9, ys["an2"])):
        ax.plot([cx, cx + 3.45, cx + 3.45], [y0, y0, y1], color=RED, lw=2.0, zorder=3)
        arrow(ax, (cx + 3.45, y1), (cx + 3.2, y1), color=RED, lw=2.0, shrink=0)
    # annotations
    nx = 14.0
    notes = [
        (ys["mha"], C["attn"][1], "各トークンが文中の他のトークンを参照し、\n関係の深い情報を取り込む"),
        (ys["an1"], C["norm"][1], "入力を足し戻し（残差接続）、\n各トークンのベクトルを正規化"),
        (ys["ffn"], C["ffn"][1], "トークンごとに同じMLPで変換\n（トークン間のやりとりはない）"),
        (ys["an2"] + 1.3, RED, "赤線：残差接続（入力をそのまま足す）\n深く積んでも学習しやすくなる"),
        (3.0, C["out"][1], "位置エンコーディング：語順の情報を足す\n（Attentionだけでは語順が分からない）"),
    ]
    for y, col, text in notes:
        label(ax, nx, y, text, fontsize=12, color=col, ha="left")
    return fig


# --- 40-3 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-40-3-positional-encoding.png")
def positional_encoding_figure():
    positional_encoding = ref_function(SEC, "positional_encoding", _standin_positional_encoding)
    T, d = 50, 64
    pe = _numpy(positional_encoding(T, d))
    fig = new_figure(7.4)
    gs = fig.add_gridspec(
        2,
        2,
        width_ratios=[1.1, 1],
        height_ratios=[1.2, 1],
        left=0.07,
        right=0.98,
        top=0.93,
        bottom=0.04,
        hspace=0.35,
        wspace=0.22,
    )
    ax = fig.add_subplot(gs[0, 0])
    im = ax.imshow(pe, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xlabel("次元 $i$")
    ax.set_ylabel("位置 $p$")
    fig.colorbar(im, ax=ax, pad=0.02)
    panel_title(ax, f"(a) 位置エンコーディング（{T}位置 × {d}次元）", fontsize=13)
    ax = fig.add_subplot(gs[0, 1])
    for i, col in zip((0, 8, 16), HEAD_COLORS[:3], strict=True):
        ax.plot(np.arange(T), pe[:, i], color=col, lw=1.8, label=f"次元 {i}")
    ax.set_xlabel("位置 $p$")
    ax.set_ylim(-1.15, 1.6)
    ax.legend(ncol=3, loc="upper center", frameon=False, fontsize=10, handlelength=1.2, columnspacing=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    panel_title(ax, "(b) 次元ごとに周期の違う sin / cos", fontsize=13)
    # (c) addition
    words = ["私", "は", "猫", "が", "好き"]
    dd = 16
    pe_s = _numpy(positional_encoding(len(words), dd))
    emb = seeded(403).normal(0, 0.6, (len(words), dd))
    ax = diagram_axes(fig.add_subplot(gs[1, :]), (0, 24), (0, 7.2))
    panel_title(ax, f"(c) トークンの埋め込みに、その位置のベクトルを足す（{dd}次元の例）", fontsize=13)
    cell, gap = 0.36, 1.0
    starts = [2.6 + k * (dd * cell + gap) for k in range(3)]
    for t, w in enumerate(words):
        y = 5.9 - 1.2 * t
        token(ax, 1.0, y, w, w=1.3, h=0.75)
        label(ax, 1.0, y - 0.6, f"位置 {t}", fontsize=9, color=GRAY)
        for k, vec in enumerate((emb[t], pe_s[t], emb[t] + pe_s[t])):
            vector_cells(ax, starts[k] + cell / 2, y, vec, cell=cell, vmax=1.5)
        label(ax, starts[1] - gap / 2, y, "+", fontsize=16)
        label(ax, starts[2] - gap / 2, y, "=", fontsize=16)
    for k, (text, col) in enumerate(
        (("埋め込み", BLUE), ("位置エンコーディング", C["out"][1]), ("Transformerへの入力", C["attn"][1]))
    ):
        label(ax, starts[k] + dd * cell / 2, 6.85, text, fontsize=12, color=col)
    return fig


# --- 40-4 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-40-4-hdd-head.png")
def hdd_head_figure():
    fig = new_figure(5.6)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 14))
    # top view
    label(ax, 5.6, 13.3, "上から見たHDD", fontsize=15, weight="bold")
    ax.add_patch(
        FancyBboxPatch(
            (0.5, 1.2), 10.2, 11.2, boxstyle="round,pad=0,rounding_size=0.4", fc="#D9D9D9", ec="#555555", lw=1.8
        )
    )
    cx, cy, r = 5.0, 7.6, 4.2
    ax.add_patch(Circle((cx, cy), r, fc="#C8CED6", ec="#555555", lw=1.5, zorder=2))
    for rr in np.linspace(1.3, r - 0.2, 9):  # tracks
        ax.add_patch(Circle((cx, cy), rr, fill=False, ec="#9AA3AE", lw=0.7, zorder=3))
    ax.add_patch(Circle((cx, cy), 0.9, fc="#777777", ec="#444444", lw=1.2, zorder=4))
    ax.add_patch(Wedge((cx, cy), 3.2, 20, 40, width=0.45, fc=RED, alpha=0.5, zorder=3))
    # actuator arm and head
    px, py = 9.0, 2.6
    hx, hy = cx + 3.2 * np.cos(np.radians(30)), cy + 3.2 * np.sin(np.radians(30))
    ax.add_patch(Circle((px, py), 0.7, fc="#666666", ec="#333333", zorder=5))
    ax.plot([px, hx], [py, hy], color="#444444", lw=7, solid_capstyle="round", zorder=5)
    ax.add_patch(Rectangle((hx - 0.3, hy - 0.3), 0.6, 0.6, fc=RED, ec="#7A1010", zorder=6))
    label(ax, hx + 0.2, hy + 1.2, "読み取りヘッド", fontsize=12, color=RED, weight="bold")
    label(ax, 3.0, 2.2, "プラッタ（磁気ディスク）", fontsize=11)
    label(ax, px - 1.8, py - 0.9, "アーム", fontsize=11)
    label(ax, cx - 2.3, cy - 2.0, "トラック", fontsize=11, color="#3D4650")
    arrow(ax, (cx - 2.3, cy - 1.6), (cx - 2.0, cy - 0.9), lw=1.0, mutation=8)
    ax.add_patch(Wedge((cx, cy), r + 0.45, 100, 150, width=0.08, fc="#333333"))
    arrow(
        ax,
        (cx + (r + 0.45) * np.cos(np.radians(150)), cy + (r + 0.45) * np.sin(np.radians(150))),
        (cx + (r + 0.5) * np.cos(np.radians(158)), cy + (r + 0.5) * np.sin(np.radians(158))),
        lw=1.5,
        mutation=10,
    )
    label(ax, 1.3, 11.8, "回転", fontsize=11, ha="left")
    # side view: several platters, one head per surface
    label(ax, 17.5, 13.3, "横から見ると：ヘッドが何本もある", fontsize=15, weight="bold")
    sx0, sx1 = 12.8, 20.0
    ax.add_patch(Rectangle((15.9, 2.2), 0.5, 9.0, fc="#777777", ec="#444444", zorder=2))
    label(ax, 16.15, 1.6, "回転軸", fontsize=11)
    ys = [9.6, 6.6, 3.6]
    k = 0
    for y in ys:
        ax.add_patch(Ellipse(((sx0 + sx1) / 2, y), sx1 - sx0, 0.7, fc="#C8CED6", ec="#555555", lw=1.3, zorder=3))
        for side in (+1, -1):
            hy_ = y + side * 0.75
            col = HEAD_COLORS[k % 4]
            ax.plot([23.0, 18.6], [hy_, hy_], color="#444444", lw=4, solid_capstyle="round", zorder=4)
            ax.add_patch(Rectangle((18.2, hy_ - 0.22), 0.55, 0.44, fc=col, ec="#333333", zorder=5))
            label(ax, 21.3, hy_ + (0.4 if side > 0 else -0.4), f"ヘッド{k + 1}", fontsize=10, color=col)
            k += 1
    ax.add_patch(Rectangle((23.0, 2.6), 0.5, 8.0, fc="#666666", ec="#333333", zorder=4))
    label(
        ax,
        17.5,
        0.75,
        "ヘッドごとに別の面・場所を同時に読む\n→ マルチ「ヘッド」Attention：ヘッドごとに別の観点で文を読む",
        fontsize=11,
        color=GRAY,
    )
    return fig


# --- 40-5 ------------------------------------------------------------------------------------

MHA_WORDS = ["私", "は", "昨日", "猫", "を", "見た"]


def multihead_weights(n_heads=4, d=16, seed=405):
    """Per-head attention weights of ``multi_head_attention`` on the sentence: seeded embeddings plus
    positional encodings, seeded RANDOM projections (nothing is trained; scaled up so that each head
    has a clear pattern). The figure says so under its schematic."""
    import torch

    mha = ref_function(SEC, "multi_head_attention", _standin_multi_head_attention)
    pe = ref_function(SEC, "positional_encoding", _standin_positional_encoding)
    rng = seeded(seed)
    T = len(MHA_WORDS)
    x = rng.normal(0, 1.0, (1, T, d)) + 1.5 * _numpy(pe(T, d))[None]
    params = {}
    for n in ("q", "k", "v", "o"):
        params[f"W_{n}"] = rng.normal(0, 0.55 if n in "qk" else 0.3, (d, d))
        params[f"b_{n}"] = np.zeros(d)
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    X = torch.tensor(x, dtype=torch.float64)
    _, w = mha(X, X, tensors, n_heads)
    return _numpy(w)[0]  # (h, T, T)


@figure("chatgpt-book-ch6-40-5-multihead-attention.png")
def multihead_figure():
    W = multihead_weights()
    h = W.shape[0]
    fig = new_figure(6.6)
    # top: schematic
    ax = diagram_axes(fig.add_axes([0.0, 0.55, 1.0, 0.45]), (0, 24), (0, 6.6))
    box(ax, 2.2, 3.0, 3.4, 1.1, "入力 $x$（$d$次元）", role="token", fontsize=12)
    label(
        ax,
        12.0,
        6.1,
        "マルチヘッドAttention：Q・K・Vを $h$ 個に分け、各ヘッドが別々に注意を計算して最後に連結する",
        fontsize=13,
        weight="bold",
    )
    xs = [7.6 + 2.9 * i for i in range(h)]
    for i, x in enumerate(xs):
        col = HEAD_COLORS[i]
        arrow(ax, (3.9, 3.0), (x - 1.15, 4.2 - 0.8 * i), color=col, lw=1.5)
        box(ax, x, 4.2 - 0.8 * i, 2.2, 0.7, f"ヘッド{i + 1}", fc="white", ec=col, fontsize=11, color=col)
        arrow(ax, (x + 1.1, 4.2 - 0.8 * i), (19.2, 3.0), color=col, lw=1.5)
    label(
        ax,
        12.0,
        0.6,
        f"各ヘッドは $d/h$ 次元（ここでは $d$=16, $h$={h} → 4次元ずつ）で Q・K・V を作る",
        fontsize=11,
        color=GRAY,
    )
    box(ax, 20.3, 3.0, 2.2, 1.1, "連結\n→ $W_o$", role="attn", fontsize=11)
    arrow(ax, (21.4, 3.0), (22.3, 3.0))
    label(ax, 23.1, 3.0, "出力", fontsize=12)
    # bottom: the weights of every head
    for i in range(h):
        ax = fig.add_axes([0.075 + i * 0.235, 0.05, 0.2, 0.4])
        heatmap(
            ax, W[i], MHA_WORDS, MHA_WORDS if i == 0 else None, cmap="Greys", vmin=0, vmax=1, fmt="{:.1f}", fontsize=8
        )
        ax.tick_params(axis="x", labelsize=10, rotation=90)
        ax.tick_params(axis="y", labelsize=10)
        for s in ax.spines.values():
            s.set_visible(True)
            s.set_color(HEAD_COLORS[i])
            s.set_linewidth(2.5)
        ax.set_title(f"ヘッド{i + 1} の重み", fontsize=12, color=HEAD_COLORS[i])
    fig.text(0.008, 0.25, "質問（行）→ キー（列）", rotation=90, va="center", fontsize=11, color=GRAY)
    fig.text(
        0.5,
        0.515,
        "下の重みは学習していないランダムな重み（シード固定）で計算した例：模様に意味はなく、ヘッドごとに違う重みになることを示す",
        ha="center",
        va="center",
        fontsize=10,
        color=GRAY,
    )
    return fig
