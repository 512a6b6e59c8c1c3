"""§38 注意機構: figures 38-1 … 38-3."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, Rectangle

from figures.common import (
    BLUE,
    GRAY,
    RED,
    C,
    arrow,
    box,
    diagram_axes,
    figure,
    label,
    new_figure,
    ref_function,
    seeded,
    vector_cells,
)
from figures.sec37 import encoder_decoder, rnn_cell, token

SEC = "sec38_attention"


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _standin_dot_product_attention(query, keys, values, mask=None):
    """LOCAL STAND-IN for attention.dot_product_attention (unscaled dot products, softmax, weighted sum)."""
    w = _softmax(np.einsum("bsh,bh->bs", keys, query))
    return np.einsum("bs,bsh->bh", w, values), w


# --- 38-1 Memory Network ----------------------------------------------------------------------

STORY = ["メアリーは寝室に行った。", "ジョンは庭に行った。", "メアリーは台所に移動した。", "ジョンは本を読んだ。"]
QUESTION = "メアリーはどこ？"


@figure("chatgpt-book-ch6-38-1-attention-mechanism.png")
def memory_network_figure():
    """Weights p = softmax(m_i · u) computed by ``memory_attention`` on seeded embeddings: the
    question vector u is built near the memory of sentence 3 (the latest sentence about メアリー)."""
    memory_attention = ref_function(SEC, "memory_attention", _standin_dot_product_attention)
    rng = seeded(381)
    D, N = 6, len(STORY)
    m = rng.normal(0, 0.7, (N, D))
    c = rng.normal(0, 0.7, (N, D))
    u = 0.9 * m[2] + 0.35 * m[0] + rng.normal(0, 0.15, D)
    o, p = memory_attention(u[None], m[None], c[None])
    o, p = np.asarray(o)[0], np.asarray(p)[0]

    fig = new_figure(5.4)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 13.5))
    label(ax, 3.3, 12.9, "記憶（文の集合）", fontsize=14, weight="bold")
    ys = [10.9 - 1.75 * i for i in range(N)]
    vmax = 2.0
    for i, (y, sent) in enumerate(zip(ys, STORY, strict=True)):
        box(ax, 3.3, y, 6.0, 1.0, f"$x_{i + 1}$: {sent}", role="token", fontsize=11)
        arrow(ax, (6.3, y + 0.2), (7.6, y + 0.25), lw=1.3)
        vector_cells(ax, 7.9, y + 0.25, m[i], cell=0.3, vmax=vmax)
        arrow(ax, (6.3, y - 0.2), (7.6, y - 0.35), lw=1.3)
        vector_cells(ax, 7.9, y - 0.35, c[i], cell=0.3, cmap="PuOr_r", vmax=vmax)
    label(ax, 8.65, 12.2, "$m_i$ = 埋め込みA\n$c_i$ = 埋め込みC", fontsize=10, color=GRAY)
    # question
    qy = 2.4
    box(ax, 3.3, qy, 6.0, 1.0, f"質問 $q$: {QUESTION}", role="out", fontsize=12)
    arrow(ax, (6.3, qy), (7.6, qy), lw=1.3)
    vector_cells(ax, 7.9, qy, u, cell=0.3, vmax=vmax)
    label(ax, 8.65, qy - 0.75, "$u$ = 埋め込みB", fontsize=10, color=GRAY)
    # scores → softmax bars
    bx = 12.2
    label(ax, bx + 1.6, 12.9, "注意の重み $p_i$", fontsize=14, weight="bold", color=C["attn"][1])
    label(ax, bx + 1.6, 12.2, "$p = \\mathrm{softmax}(m_i \\cdot u)$", fontsize=12, color=C["attn"][1])
    for i, y in enumerate(ys):
        arrow(ax, (9.9, y + 0.25), (bx - 0.1, y), lw=1.0, color=C["attn"][1])
        ax.add_patch(Rectangle((bx, y - 0.35), 3.2 * p[i], 0.7, fc=C["attn"][1], alpha=0.85))
        label(ax, bx + 3.2 * p[i] + 0.15, y, f"{p[i]:.2f}", fontsize=11, ha="left")
    arrow(ax, (9.9, qy + 0.2), (bx + 0.3, ys[-1] - 0.6), lw=1.2, color=BLUE, rad=0.15)
    label(ax, 11.6, 3.3, "$u$ と各 $m_i$ の\n内積で比較", fontsize=10, color=BLUE)
    # weighted sum of c → o, answer
    ox = 17.2
    gx = bx + 3.8  # a bracket gathers the weights p_i: the weighted sum starts from it
    ax.plot([gx - 0.2, gx, gx, gx - 0.2], [ys[0] + 0.4, ys[0] + 0.4, ys[-1] - 0.4, ys[-1] - 0.4],
            color=C["attn"][1], lw=1.6, zorder=3)  # fmt: skip
    gy = (ys[0] + ys[-1]) / 2
    arrow(ax, (gx, gy), (ox + 0.2, 7.15), lw=2.0, color=C["attn"][1])
    label(ax, ox + 1.2, 8.75, "$o = \\sum_i p_i c_i$", fontsize=13)
    vector_cells(ax, ox + 0.45, 7.0, o, cell=0.3, cmap="PuOr_r", vmax=vmax)
    # o + u: u comes from the question's vector along the bottom, into the sum
    sy, sr = 5.6, 0.28  # the sum node
    arrow(ax, (ox + 1.2, 6.75), (ox + 1.2, sy + sr), lw=2.0)
    ax.add_patch(Circle((ox + 1.2, sy), sr, fc="white", ec="#333333", lw=1.6, zorder=4))
    label(ax, ox + 1.2, sy, "+", fontsize=14)
    ux = gx + 0.25
    ax.plot([9.7, ux, ux], [qy - 0.3, qy - 0.3, sy], color=BLUE, lw=1.6, zorder=3)
    arrow(ax, (ux, sy), (ox + 1.2 - sr, sy), lw=1.6, color=BLUE, shrink=0.0)
    label(ax, (ux + ox + 1.2) / 2 - 0.1, sy + 0.4, "$u$", fontsize=13, color=BLUE)
    arrow(ax, (ox + 1.2, sy - sr), (ox + 1.2, 4.6), lw=2.0, shrink=0.0)
    box(ax, ox + 1.2, 4.0, 3.8, 1.0, "$W(o + u)$ → softmax", role="ffn", fontsize=11)
    arrow(ax, (ox + 1.2, 3.5), (ox + 1.2, 2.75), lw=2.0)
    box(ax, ox + 1.2, 2.2, 3.0, 1.0, "答え：台所", role="out", fontsize=14, weight="bold")
    label(
        ax,
        12.0,
        0.55,
        "質問に似た記憶ほど大きな重みで読み出す（＝シンプルなAttention）。重みは記憶 $m_i$ と質問 $u$ の内積で決まる",
        fontsize=11,
        color=GRAY,
    )
    return fig


# --- 38-2 encoder–decoder before attention ----------------------------------------------------

SRC = ["猫", "が", "魚", "を", "食べ", "た"]
TGT_IN = ["<BOS>", "The", "cat", "ate", "fish"]
TGT_OUT = ["The", "cat", "ate", "fish", "<EOS>"]


def _encoder_states(seed=382, H=5):
    """Hidden states of a small tanh RNN (seeded weights) over the source sentence."""
    rng = seeded(seed)
    E = rng.normal(0, 1.0, (len(SRC), H))
    W_x, W_h = rng.normal(0, 0.8, (H, H)), rng.normal(0, 0.5, (H, H))
    h, hs = np.zeros(H), []
    for t in range(len(SRC)):
        h = np.tanh(E[t] @ W_x + h @ W_h)
        hs.append(h)
    return np.array(hs)


@figure("chatgpt-book-ch6-38-2-rnn-translation.png")
def rnn_translation_figure():
    hs = _encoder_states()
    fig = new_figure(5.0)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 27.0), (0, 14.0))
    ex, dxs = encoder_decoder(
        ax, SRC, TGT_IN, TGT_OUT, y=6.2, x0=1.4, dx=2.2, gap=2.4, context_label="", feedback=False
    )
    for t, x in enumerate(ex):  # every encoder state, only the last one reaches the decoder
        last = t == len(ex) - 1
        vector_cells(ax, x - 0.6, 8.3, hs[t], cell=0.3, edge=RED if last else "#BBBBBB")
        if not last:
            ax.add_patch(Rectangle((x - 0.8, 8.1), 1.6, 0.4, fc="white", alpha=0.6, zorder=4))
        arrow(ax, (x, 6.75), (x, 8.05), lw=1.2, color=RED if last else "#BBBBBB")
        label(ax, x, 9.0, f"$h_{t + 1}$", fontsize=11, color=RED if last else GRAY)
    cx = (ex[-1] + dxs[0]) / 2
    box(ax, cx, 6.2, 1.3, 1.7, "", role="mask", lw=2.5, zorder=4)
    label(ax, cx, 6.2, "$c$", fontsize=18, color=RED)
    label(ax, cx, 8.3, "固定長の\nベクトル1本", fontsize=11, color=RED)
    label(ax, (ex[0] + ex[-1]) / 2, 11.3, "エンコーダー", fontsize=15, weight="bold", color=C["rnn"][1])
    label(ax, (dxs[0] + dxs[-1]) / 2, 11.3, "デコーダー", fontsize=15, weight="bold", color=C["attn"][1])
    label(
        ax,
        (ex[0] + ex[-1]) / 2,
        10.2,
        "途中の $h_1 … h_5$ はデコーダーから見えない",
        fontsize=11,
        color=GRAY,
    )
    label(
        ax,
        13.5,
        0.7,
        "入力文の情報はすべて最後の隠れ状態 $c$ に詰め込まれる：文が長くなるほど情報が失われやすい（ボトルネック）",
        fontsize=12,
        color=GRAY,
    )
    return fig


# --- 38-3 encoder–decoder with attention ------------------------------------------------------


@figure("chatgpt-book-ch6-38-3-seq2seq-attention.png")
def seq2seq_attention_figure():
    """One decoder step ("ate" → "fish") attends to every encoder state; the weights come from
    ``dot_product_attention`` with a decoder state that resembles the state of 魚 (seeded)."""
    dot_product_attention = ref_function(SEC, "dot_product_attention", _standin_dot_product_attention)
    hs = _encoder_states()
    rng = seeded(383)
    s = 2.2 * hs[2] + 0.9 * hs[4] + rng.normal(0, 0.2, hs.shape[1])  # decoder state while writing "fish"
    ctx, w = dot_product_attention(s[None], hs[None], hs[None])
    ctx, w = np.asarray(ctx)[0], np.asarray(w)[0]

    fig = new_figure(5.6)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 14))
    ey, dy = 3.6, 3.6
    ex = [1.5 + 2.15 * i for i in range(len(SRC))]
    for t, (x, wd) in enumerate(zip(ex, SRC, strict=True)):
        token(ax, x, 1.2, wd, w=1.6)
        arrow(ax, (x, 1.6), (x, ey - 0.55))
        rnn_cell(ax, x, ey, "Enc", w=1.5, fontsize=12)
        if t:
            arrow(ax, (ex[t - 1] + 0.75, ey), (x - 0.75, ey), color=C["hidden"][1], lw=2.0)
        vector_cells(ax, x - 0.6, 5.3, hs[t], cell=0.3)
        arrow(ax, (x, ey + 0.55), (x, 5.05), lw=1.2)
        label(ax, x, 5.95, f"$h_{t + 1}$", fontsize=11)
    # attention node
    ax_, ay = 8.0, 10.2
    for t, x in enumerate(ex):
        arrow(ax, (x, 6.25), (ax_ - 0.3, ay - 0.7), lw=0.6 + 9 * w[t], color=C["attn"][1], mutation=10)
        label(ax, x, 6.75, f"{w[t]:.2f}", fontsize=11, color=C["attn"][1], bbox=dict(fc="white", ec="none", pad=1.5))
    box(ax, ax_, ay, 4.8, 1.2, "注意：重み付き和", role="attn", fontsize=13)
    label(ax, ax_, 12.5, "文脈ベクトル $c_t = \\sum_i \\alpha_i h_i$", fontsize=13, color=C["attn"][1])
    vector_cells(ax, ax_ - 0.6, 11.5, ctx, cell=0.3)
    arrow(ax, (ax_, ay + 0.6), (ax_, 11.25), lw=1.2)
    label(ax, 1.0, 7.5, "重み $\\alpha_i$", fontsize=12, color=C["attn"][1], ha="left")
    # decoder
    dx = [15.0 + 2.3 * i for i in range(4)]
    for t, (x, wi, wo) in enumerate(zip(dx, TGT_IN[:4], TGT_OUT[:4], strict=True)):
        cur = t == 3
        token(ax, x, 1.2, wi, w=1.6)
        arrow(ax, (x, 1.6), (x, dy - 0.55))
        rnn_cell(ax, x, dy, "Dec", role="attn", w=1.5, fontsize=12)
        if t:
            arrow(ax, (dx[t - 1] + 0.75, dy), (x - 0.75, dy), color=C["hidden"][1], lw=2.0)
        token(ax, x, 9.4 if cur else 6.0, wo, role="out", w=1.6)
        arrow(ax, (x, dy + 0.55), (x, (8.2 if cur else 5.6)), lw=1.2)
    x = dx[3]
    box(ax, x, 7.65, 2.6, 0.9, "$[c_t ; s_t]$ → 出力", role="ffn", fontsize=11)
    arrow(ax, (x, 8.1), (x, 9.0), lw=1.2)
    arrow(ax, (ax_ + 2.4, ay), (x - 1.3, 7.8), lw=2.2, color=C["attn"][1], rad=-0.15)
    arrow(ax, (x - 0.5, dy + 0.55), (ax_ + 2.0, ay - 0.6), lw=1.4, color=BLUE, rad=0.25, ls="--")
    label(
        ax,
        (ex[0] + ex[-1]) / 2,
        13.4,
        "エンコーダー：全時刻の隠れ状態を残す",
        fontsize=13,
        weight="bold",
        color=C["rnn"][1],
    )
    label(
        ax, 18.5, 13.4, "デコーダー：毎時刻、必要な部分を注意で取り出す", fontsize=13, weight="bold", color=C["attn"][1]
    )
    label(ax, 18.5, 12.4, f"「fish」を出力する時刻では「魚」の重みが最大（{w.max():.2f}）", fontsize=11, color=GRAY)
    label(ax, 18.5, 11.6, "点線：デコーダーの状態 $s_t$ が質問になる", fontsize=11, color=BLUE)
    return fig
