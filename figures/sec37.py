"""§37 回帰型ニューラルネットワーク (RNN): figures 37-1 … 37-8."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

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
    panel_title,
    ref_function,
    seeded,
    suptitle,
)

SEC = "sec37_rnn"


# --- local stand-ins, used only while the reference function does not exist yet -----------------


def _standin_image_to_vector(image):
    """LOCAL STAND-IN for rnn.image_to_vector: row-major flatten, scaled to [0, 1]."""
    return np.asarray(image).reshape(-1).astype(np.float64) / 255.0


def _standin_pad_sequences(seqs, pad_id=0, max_len=None):
    """LOCAL STAND-IN for rnn.pad_sequences: pad at the end to the longest sequence."""
    T = max_len or max(len(s) for s in seqs)
    ids = np.full((len(seqs), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    for b, s in enumerate(seqs):
        s = list(s)[:T]
        ids[b, : len(s)] = s
        mask[b, : len(s)] = True
    return ids, mask


def _standin_sample_next_token(logits, temperature=1.0, top_k=None, seed=0):
    """LOCAL STAND-IN for rnn.sample_next_token, greedy case only (temperature 0 → argmax)."""
    return int(np.argmax(logits))


# --- 37-1 ------------------------------------------------------------------------------------

HEART = np.array(
    [
        [0, 191, 64, 64, 191, 0],
        [191, 255, 255, 255, 255, 191],
        [255, 255, 255, 255, 255, 255],
        [128, 255, 255, 255, 255, 128],
        [0, 128, 255, 255, 128, 0],
        [0, 0, 64, 64, 0, 0],
    ],
    dtype=np.uint8,
)
ROW_COLORS = ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B"]


@figure("chatgpt-book-ch6-37-1-image-to-vector.png")
def image_to_vector_figure():
    image_to_vector = ref_function(SEC, "image_to_vector", _standin_image_to_vector)
    x = np.asarray(image_to_vector(HEART))
    H, W = HEART.shape
    fig = new_figure(4.6)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 11.5))
    s = 0.95  # pixel size
    x0, y0 = 2.0, 9.6
    label(ax, x0 + W * s / 2 - s / 2 + 0.3, 10.75, f"画像（{H}×{W} ピクセル、値 0〜255）", fontsize=14, weight="bold")
    for (i, j), v in np.ndenumerate(HEART):
        ax.add_patch(Rectangle((x0 + j * s - s / 2, y0 - i * s - s / 2), s, s, fc=str(v / 255), ec="#888888", lw=0.8))
        label(ax, x0 + j * s, y0 - i * s, str(v), fontsize=9, color="black" if v > 140 else "white")
    for i in range(H):  # row markers
        ax.add_patch(Rectangle((x0 - s / 2 - 0.35, y0 - i * s - s / 2), 0.22, s, fc=ROW_COLORS[i], ec="none"))
        label(ax, x0 - s / 2 - 0.75, y0 - i * s, f"{i + 1}", fontsize=10, color=ROW_COLORS[i])
    # explanation
    tx = 9.2
    label(ax, tx, 9.4, "① 1行目から順に、行を左から右へ一列に並べる（行優先）", fontsize=14, ha="left")
    label(ax, tx, 8.2, "② 255 で割って 0〜1 の範囲にそろえる", fontsize=14, ha="left")
    label(ax, tx, 7.0, f"→ {H}×{W} = {x.size} 次元のベクトル $\\mathbf{{x}}$", fontsize=14, ha="left", weight="bold")
    label(ax, tx, 5.8, "ニューラルネットワークはこのベクトルを入力として受け取る", fontsize=12, ha="left", color=GRAY)
    arrow(ax, (x0 + W * s - 0.2, 6.0), (12.0, 3.2), lw=2.4, rad=-0.15, mutation=22, color=BLUE)
    # the vector
    cw, vy = 0.6, 2.0
    vx0 = 12.4 - (x.size * cw) / 2 + cw / 2  # leaves room on the left for "x ="
    for k, v in enumerate(x):
        i = k // W
        cx = vx0 + k * cw
        ax.add_patch(Rectangle((cx - cw / 2, vy - 0.45), cw, 0.9, fc=str(float(v)), ec="#888888", lw=0.6))
        label(ax, cx, vy, f"{v:.2f}".lstrip("0") if v < 1 else "1", fontsize=7, color="black" if v > 0.55 else "white")
    for i in range(H):
        a, b = vx0 + i * W * cw - cw / 2, vx0 + (i + 1) * W * cw - cw / 2
        ax.plot([a + 0.05, b - 0.05], [vy - 0.65, vy - 0.65], color=ROW_COLORS[i], lw=4, solid_capstyle="butt")
        label(ax, (a + b) / 2, vy - 1.15, f"{i + 1}行目", fontsize=11, color=ROW_COLORS[i])
    label(ax, vx0 - cw / 2 - 0.25, vy, "$\\mathbf{x}$ =", fontsize=14, ha="right")
    return fig


# --- 37-2 ------------------------------------------------------------------------------------

SENTENCES = [
    ["今日", "は", "いい", "天気", "です"],
    ["猫", "が", "鳴く"],
    ["私", "は", "毎朝", "駅", "まで", "歩い", "て", "いる"],
    ["やあ"],
]


def vocabulary(sentences, first_id=1):
    vocab = {}
    for s in sentences:
        for w in s:
            vocab.setdefault(w, first_id + len(vocab))
    return vocab


@figure("chatgpt-book-ch6-37-2-padding-tokens.png")
def padding_figure():
    pad_sequences = ref_function(SEC, "pad_sequences", _standin_pad_sequences)
    vocab = vocabulary(SENTENCES)
    seqs = [[vocab[w] for w in s] for s in SENTENCES]
    ids, mask = pad_sequences(seqs, pad_id=0)
    ids, mask = np.asarray(ids), np.asarray(mask)
    B, T = ids.shape
    words = {i: w for w, i in vocab.items()}

    fig = new_figure(4.4)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 11))
    cw, ch = 1.0, 1.25
    top = 7.6
    label(ax, 3.9, 10.2, "可変長の文（トークンID列）", fontsize=14, weight="bold")
    label(ax, 14.2, 10.2, f"パディング後の ids（B={B}, T={T}）", fontsize=14, weight="bold")
    label(ax, 21.9, 10.2, "mask", fontsize=14, weight="bold")
    for b, s in enumerate(seqs):
        y = top - b * (ch + 0.35)
        label(ax, 0.4, y, f"文{b + 1}\n長さ{len(s)}", fontsize=9, color=GRAY)
        for t, i in enumerate(s):
            box(ax, 1.45 + t * cw, y, cw * 0.94, ch, "", role="token", radius=0.05)
            label(ax, 1.45 + t * cw, y + 0.22, words[i], fontsize=10)
            label(ax, 1.45 + t * cw, y - 0.33, str(i), fontsize=9, color=BLUE)
    arrow(ax, (9.0, 5.7), (10.2, 5.7), lw=2.5, mutation=22)
    label(ax, 9.6, 6.45, "末尾に\nPAD(0)", fontsize=10, color=GRAY)
    x0 = 10.9
    for b in range(B):
        y = top - b * (ch + 0.35)
        for t in range(T):
            real = bool(mask[b, t])
            box(ax, x0 + t * cw, y, cw * 0.94, ch, "", role="token" if real else "pad", radius=0.05)
            if real:
                label(ax, x0 + t * cw, y + 0.22, words[int(ids[b, t])], fontsize=10)
                label(ax, x0 + t * cw, y - 0.33, str(int(ids[b, t])), fontsize=9, color=BLUE)
            else:
                label(ax, x0 + t * cw, y + 0.22, "PAD", fontsize=8, color=GRAY)
                label(ax, x0 + t * cw, y - 0.33, str(int(ids[b, t])), fontsize=9, color=GRAY)
    mx0, mw = 20.35, 0.45
    for b in range(B):
        y = top - b * (ch + 0.35)
        for t in range(T):
            real = bool(mask[b, t])
            box(ax, mx0 + t * mw, y, mw * 0.9, ch, "", role="hidden" if real else "pad", radius=0.03)
            label(ax, mx0 + t * mw, y, "1" if real else "0", fontsize=9, color="black" if real else GRAY)
    yb = top - (B - 1) * (ch + 0.35) - 1.4
    label(ax, x0 - cw / 2, yb, "← 時刻 t = 0, 1, …, T−1 →", fontsize=11, color=GRAY, ha="left")
    label(ax, mx0 - mw / 2, yb, "1 = 本物, 0 = PAD", fontsize=11, color=GRAY, ha="left")
    label(
        ax,
        12.0,
        0.55,
        "一番長い文に合わせて末尾を PAD で埋め、B×T の長方形の配列にする。mask で本物のトークンだけを使う。",
        fontsize=12,
    )
    return fig


# --- shared drawing for unrolled RNNs -------------------------------------------------------


def rnn_cell(ax, x, y, text="RNN", w=1.6, h=1.1, role="rnn", fontsize=13, weight="bold"):
    return box(ax, x, y, w, h, text, role=role, fontsize=fontsize, weight=weight)


def token(ax, x, y, text, role="token", w=1.5, h=0.8, fontsize=13):
    return box(ax, x, y, w, h, text, role=role, fontsize=fontsize, radius=0.15)


# --- 37-3 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-37-3-rnn-sequence.png")
def rnn_sequence_figure():
    fig = new_figure(4.8)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 12))
    # folded RNN with its loop
    fx, fy = 2.4, 6.0
    rnn_cell(ax, fx, fy)
    token(ax, fx, 3.4, "$x_t$")
    token(ax, fx, 8.6, "$h_t$", role="hidden")
    arrow(ax, (fx, 3.8), (fx, 5.45))
    arrow(ax, (fx, 6.55), (fx, 8.2))
    hc = C["hidden"][1]
    ax.plot([fx + 0.8, fx + 1.5, fx + 1.5], [6.3, 6.3, 5.7], color=hc, lw=2.0, zorder=3)
    arrow(ax, (fx + 1.5, 5.7), (fx + 0.8, 5.7), color=hc, lw=2.0, shrink=0)
    label(ax, fx + 1.6, 6.75, "$h_{t-1}$", fontsize=12, color=hc)
    label(ax, fx, 10.5, "まとめて描くと", fontsize=13, color=GRAY)
    label(ax, 5.3, 6.0, "=", fontsize=30)
    # unrolled
    words = ["今日", "は", "いい", "天気"]
    xs = [9.0 + 3.6 * i for i in range(4)]
    label(ax, 14.4, 10.5, "時間方向に展開すると（同じ重みを各時刻で使い回す）", fontsize=13, color=GRAY)
    token(ax, 6.6, 6.0, "$h_0 = 0$", role="hidden", w=1.6)
    prev = (7.4, 6.0)
    for t, (x, w) in enumerate(zip(xs, words, strict=True)):
        rnn_cell(ax, x, 6.0)
        token(ax, x, 3.4, w)
        label(ax, x, 2.55, f"$x_{t + 1}$", fontsize=12, color=BLUE)
        token(ax, x, 8.6, f"$h_{t + 1}$", role="hidden")
        arrow(ax, (x, 3.8), (x, 5.45))
        arrow(ax, (x, 6.55), (x, 8.2))
        arrow(ax, prev, (x - 0.8, 6.0), color=C["hidden"][1], lw=2.4)
        if t:
            label(ax, (prev[0] + x - 0.8) / 2, 6.35, f"$h_{t}$", fontsize=12, color=C["hidden"][1])
        prev = (x + 0.8, 6.0)
    arrow(ax, prev, (prev[0] + 1.4, 6.0), color=C["hidden"][1], lw=2.4, ls="--")
    label(ax, 14.4, 1.2, "$h_t = \\tanh(x_t W_x + h_{t-1} W_h + b)$", fontsize=15)
    label(
        ax, 14.4, 0.35, "前の時刻の隠れ状態 $h_{t-1}$ を受け取り、1トークンずつ順番に処理する", fontsize=12, color=GRAY
    )
    return fig


# --- 37-4 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-37-4-rnn-variants.png")
def rnn_variants_figure():
    fig = new_figure(5.2)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 13))
    words = ["猫", "が", "鳴く"]
    # (a) stacked RNN
    label(ax, 6.0, 12.3, "(a) 多層RNN（層を積み重ねる）", fontsize=16)
    label(ax, 6.0, 11.3, "時刻ごとに複数のRNNセルを縦に重ねる", fontsize=12, color=GRAY)
    xs = [2.4 + 3.4 * i for i in range(3)]
    layer_y = [4.6, 7.4]
    for t, (x, w) in enumerate(zip(xs, words, strict=True)):
        token(ax, x, 2.2, w)
        arrow(ax, (x, 2.6), (x, layer_y[0] - 0.55))
        for li, y in enumerate(layer_y):
            rnn_cell(ax, x, y, f"層{li + 1}", fontsize=13, weight="normal")
            if li:
                arrow(ax, (x, layer_y[li - 1] + 0.55), (x, y - 0.55), color=C["hidden"][1], lw=2.0)
            if t:
                arrow(ax, (xs[t - 1] + 0.8, y), (x - 0.8, y), color=C["hidden"][1], lw=2.0)
        token(ax, x, 10.0, f"$y_{t + 1}$", role="out")
        arrow(ax, (x, layer_y[-1] + 0.55), (x, 9.6))
    label(ax, 6.0, 0.9, "下の層の出力 $h_t$ が上の層の入力になる", fontsize=12, color=GRAY)
    ax.plot([11.9, 11.9], [0.5, 12.0], color="#CCCCCC", lw=1.5)
    # (b) bidirectional RNN
    label(ax, 18.0, 12.3, "(b) 双方向RNN（前向き＋後ろ向き）", fontsize=16)
    label(ax, 18.0, 11.3, "前向き：文頭→文末、後ろ向き：文末→文頭", fontsize=12, color=GRAY)
    xs = [14.4 + 3.4 * i for i in range(3)]
    fwd_y, bwd_y = 4.6, 7.1
    for t, (x, w) in enumerate(zip(xs, words, strict=True)):
        token(ax, x, 2.2, w)
        arrow(ax, (x, 2.6), (x, fwd_y - 0.55))
        ax.plot([x, x, x - 1.2, x - 1.2], [2.6, 3.2, 3.2, bwd_y - 0.3], color="#888888", lw=1.4, zorder=3)
        arrow(ax, (x - 1.2, bwd_y - 0.3), (x - 0.95, bwd_y - 0.3), color="#888888", lw=1.4, shrink=0, mutation=10)
        rnn_cell(ax, x, fwd_y, "前向き", w=1.9, fontsize=12, weight="normal")
        rnn_cell(ax, x, bwd_y, "後ろ向き", role="attn", w=1.9, fontsize=12, weight="normal")
        if t:
            arrow(ax, (xs[t - 1] + 0.95, fwd_y), (x - 0.95, fwd_y), color=C["rnn"][1], lw=2.2)
            arrow(ax, (x - 0.95, bwd_y + 0.15), (xs[t - 1] + 0.95, bwd_y + 0.15), color=C["attn"][1], lw=2.2)
        box(ax, x, 9.6, 2.4, 0.85, "[$\\overrightarrow{h}_t$ ; $\\overleftarrow{h}_t$]", role="out", fontsize=12)
        ax.plot([x + 0.95, x + 1.2, x + 1.2], [fwd_y + 0.3, fwd_y + 0.3, 8.2], color=C["rnn"][1], lw=1.5, zorder=3)
        arrow(ax, (x + 1.2, 8.2), (x + 0.7, 9.15), color=C["rnn"][1], lw=1.5, shrink=0)
        arrow(ax, (x, bwd_y + 0.55), (x, 9.15), color=C["attn"][1], lw=1.5)
    label(ax, 18.0, 0.9, "各時刻で両方向の隠れ状態を連結：前後の文脈を両方見られる", fontsize=12, color=GRAY)
    return fig


# --- 37-5 ------------------------------------------------------------------------------------

GEN_VOCAB = ["吾輩", "は", "猫", "で", "ある", "犬", "が", "。"]
GEN_STEPS = ["<BOS>", "吾輩", "は", "猫", "で", "ある"]


@figure("chatgpt-book-ch6-37-5-rnn-text-generation.png")
def rnn_text_generation_figure():
    """Greedy generation: at each step the next-token distribution (made-up logits that favour the
    book's sentence) is turned into a token by ``sample_next_token(temperature=0)``, and that token
    is fed back as the next input."""
    sample_next_token = ref_function(SEC, "sample_next_token", _standin_sample_next_token)
    rng = seeded(375)
    fig = new_figure(5.6)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 14))
    n = len(GEN_STEPS) - 1
    xs = [3.3 + 4.5 * i for i in range(n)]
    label(ax, 12.0, 13.4, "1トークンずつ予測し、選んだトークンを次の時刻の入力に戻す", fontsize=14, weight="bold")
    inp, generated = GEN_STEPS[0], []
    for t, x in enumerate(xs):
        target = GEN_VOCAB.index(GEN_STEPS[t + 1])
        logits = rng.normal(0.0, 0.8, len(GEN_VOCAB))
        logits[target] = np.delete(logits, target).max() + rng.uniform(0.6, 2.0)
        chosen = int(sample_next_token(logits, temperature=0.0, seed=t))
        p = np.exp(logits - logits.max())
        p /= p.sum()
        token(ax, x, 1.4, inp, w=1.8)
        arrow(ax, (x, 1.8), (x, 2.95))
        rnn_cell(ax, x, 3.5)
        if t:
            arrow(ax, (xs[t - 1] + 0.8, 3.5), (x - 0.8, 3.5), color=C["hidden"][1], lw=2.2)
        arrow(ax, (x, 4.05), (x, 5.0))
        # bar chart of the next-token distribution (top 4)
        top = np.argsort(-p, kind="stable")[:4]
        ins = ax.inset_axes([x - 0.7, 5.1, 2.3, 3.6], transform=ax.transData)
        colors = [RED if k == chosen else "#9BB7D4" for k in top]
        ins.barh(range(4), p[top], color=colors)
        ins.set_yticks(range(4), [GEN_VOCAB[k] for k in top], fontsize=10)
        ins.invert_yaxis()
        ins.set_xlim(0, 1)
        ins.set_xticks([0, 0.5, 1], ["0", ".5", "1"], fontsize=8)
        ins.tick_params(length=2, pad=1)
        for k, v in enumerate(p[top]):
            ins.text(v + 0.03, k, f"{v:.2f}", va="center", fontsize=8)
        for side in ("top", "right"):
            ins.spines[side].set_visible(False)
        inp = GEN_VOCAB[chosen]
        generated.append(inp)
        token(ax, x, 10.3, inp, role="out", w=1.8)
        arrow(ax, (x, 8.95), (x, 9.9))
        if t + 1 < n:  # the chosen token becomes the next input
            gx = x + 2.35
            ax.plot([x + 0.9, gx, gx], [10.3, 10.3, 1.4], color=RED, lw=1.5, ls="--", zorder=3)
            arrow(ax, (gx, 1.4), (xs[t + 1] - 0.9, 1.4), color=RED, lw=1.5, shrink=0)
    label(ax, 0.9, 6.9, "次の\nトークン\nの確率", fontsize=10, color=GRAY)
    label(ax, 12.0, 12.1, "生成された文：" + " ".join(generated), fontsize=14, color=RED)
    label(ax, 0.9, 10.3, "出力", fontsize=11, color=GRAY)
    label(ax, 0.9, 1.4, "入力", fontsize=11, color=GRAY)
    return fig


# --- 37-6 ------------------------------------------------------------------------------------


def longest_paths(n_nodes, edges, sink):
    """Number of nonlinear steps on the longest path from every node to ``sink`` in a DAG whose
    nodes are numbered in topological order; ``edges`` = list of (src, dst)."""
    depth = np.full(n_nodes, -np.inf)
    depth[sink] = 0
    for src, dst in sorted(edges, key=lambda e: -e[0]):
        depth[src] = max(depth[src], depth[dst] + 1)
    return depth


def rnn_graph(T):
    """Inputs x_0..x_{T-1} are nodes 0..T-1, hidden states h_t are nodes T+t."""
    edges = [(t, T + t) for t in range(T)] + [(T + t - 1, T + t) for t in range(1, T)]
    return 2 * T, edges, 2 * T - 1


def transformer_graph(T, L):
    """Node (layer l, position t) = l*T + t; layer 0 are the inputs; every position of layer l
    reads every position of layer l-1 (self-attention) → depth L for every token."""
    edges = [((l - 1) * T + s, l * T + t) for l in range(1, L + 1) for t in range(T) for s in range(T)]
    return (L + 1) * T, edges, L * T + T - 1


@figure("chatgpt-book-ch6-37-6-transformer-layers.png")
def processing_depth_figure():
    import matplotlib.pyplot as plt

    T, L = 8, 3
    words = ["私", "は", "昨日", "駅", "で", "猫", "を", "見た"]
    d_rnn = longest_paths(*rnn_graph(T))[:T]
    d_tf = longest_paths(*transformer_graph(T, L))[:T]

    fig = new_figure(7.0)
    gs = fig.add_gridspec(
        2,
        2,
        width_ratios=[1.25, 1],
        height_ratios=[1.5, 1],
        left=0.02,
        right=0.98,
        top=0.87,
        bottom=0.09,
        wspace=0.12,
        hspace=0.25,
    )
    suptitle(fig, "各トークンが最後の出力までに通る非線形変換の数（処理の深さ）")
    # (a) RNN drawn as a staircase: the first token passes through every cell
    ax = diagram_axes(fig.add_subplot(gs[0, 0]), (-1.2, T + 0.6), (-0.9, T + 1.9))
    panel_title(ax, "(a) RNN：先頭トークンは T 個のセルを通る", fontsize=13)
    for t in range(T):
        on = True
        box(ax, t, t + 1, 0.75, 0.6, "", role="rnn", radius=0.05)
        ax.plot([t, t], [0.05, t + 0.7], color="#BBBBBB", lw=1, ls=":", zorder=1)
        label(ax, t, -0.35, words[t], fontsize=10)
        if t:
            arrow(ax, (t - 1 + 0.38, t), (t - 0.38, t + 1), color=RED if on else GRAY, lw=2.0, mutation=10)
    arrow(ax, (0, 0.05), (0, 0.7), color=RED, lw=2.0, mutation=10)
    label(ax, -0.75, (T + 1) / 2, "深さ", fontsize=11, color=GRAY, rotation=90)
    label(ax, T - 1, T + 1.6, "出力", fontsize=10, color=RED)
    # (b) Transformer: L layers, every position reads every position of the layer below
    ax = diagram_axes(fig.add_subplot(gs[1, 0]), (-1.2, T + 0.6), (-0.9, L + 1.0))
    panel_title(ax, f"(b) Transformer（{L}層）：どのトークンも {L} 層だけ", fontsize=13)
    for l in range(1, L + 1):
        for t in range(T):
            box(ax, t, l, 0.75, 0.45, "", role="attn", radius=0.05)
            for s in range(T):
                ax.plot([s, t], [l - 1 + (0.22 if l > 1 else 0.05), l - 0.22], color="#D5D5D5", lw=0.5, zorder=1)
    for t in range(T):
        label(ax, t, -0.35, words[t], fontsize=10)
    path = [(0, 0.05), (2, 1 - 0.22), (2, 1.22), (5, 2 - 0.22), (5, 2.22), (T - 1, 3 - 0.22)]
    ax.plot(*zip(*path, strict=True), color=RED, lw=2.2, zorder=4)
    label(ax, T - 1, L + 0.6, "出力", fontsize=10, color=RED)
    # (c) the depths, computed as longest paths in the two graphs
    ax = fig.add_subplot(gs[:, 1])
    pos = np.arange(T)
    ax.bar(pos - 0.2, d_rnn, 0.4, color=C["rnn"][1], label="RNN（1層）")
    ax.bar(pos + 0.2, d_tf, 0.4, color=C["attn"][1], label=f"Transformer（{L}層）")
    for p, v in zip(pos, d_rnn, strict=True):
        ax.text(p - 0.2, v + 0.1, f"{int(v)}", ha="center", fontsize=10)
    ax.set_xticks(pos, words)
    ax.set_xlabel("トークン（文中の位置）")
    ax.set_ylabel("最後の出力までの深さ（変換の回数）")
    ax.set_ylim(0, T + 1.2)
    ax.legend(loc="upper right", frameon=False)
    panel_title(ax, "(c) 処理の深さ（計算グラフの最長経路）", fontsize=13)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    plt.setp(ax.get_xticklabels(), fontsize=11)
    return fig


# --- 37-7 ------------------------------------------------------------------------------------


def _node(ax, x, y, text, r=0.32, fc="#FFFFFF", ec="#333333"):
    import matplotlib.patches as mpatches

    ax.add_patch(mpatches.Circle((x, y), r, fc=fc, ec=ec, lw=1.6, zorder=4))
    label(ax, x, y, text, fontsize=14, weight="bold")


def _line(ax, pts, color="#333333", lw=2.0, arrow_end=True):
    xs, ys = zip(*pts, strict=True)
    if arrow_end and len(pts) >= 2:
        ax.plot(xs[:-1], ys[:-1], color=color, lw=lw, zorder=3, solid_capstyle="round")
        arrow(ax, pts[-2], pts[-1], color=color, lw=lw, shrink=0)
    else:
        ax.plot(xs, ys, color=color, lw=lw, zorder=3, solid_capstyle="round")


@figure("chatgpt-book-ch6-37-7-rnn-vs-lstm.png")
def rnn_vs_lstm_figure():
    fig = new_figure(5.4)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (-1.5, 26.5), (-2.3, 10.3))
    hc, cc = C["hidden"][1], RED
    # --- RNN cell
    label(ax, 3.0, 9.6, "RNN", fontsize=17, weight="bold")
    box(ax, 3.0, 3.6, 5.2, 6.0, "", role="rnn", fc="#FFF8F2", radius=0.3, lw=1.5)
    _line(ax, [(-1.2, 1.2), (2.2, 1.2), (2.2, 3.05)], color=hc)
    _line(ax, [(1.0, -1.6), (1.0, 1.2)], color=BLUE, arrow_end=False)
    box(ax, 2.2, 3.6, 1.6, 1.0, "tanh", role="rnn", fontsize=13, weight="bold")
    _line(ax, [(2.2, 4.1), (2.2, 5.2), (4.2, 5.2), (4.2, 1.2), (7.2, 1.2)], color=hc)
    _line(ax, [(4.2, 5.2), (4.2, 8.4)], color=hc)
    label(ax, -1.2, 1.75, "$h_{t-1}$", fontsize=14, color=hc, ha="left")
    label(ax, 1.0, -2.0, "$x_t$", fontsize=14, color=BLUE)
    label(ax, 6.6, 1.75, "$h_t$", fontsize=14, color=hc)
    label(ax, 4.2, 8.85, "$h_t$", fontsize=14, color=hc)
    label(ax, 4.0, -1.75, "状態は $h$ の1本だけ", fontsize=12, color=GRAY)
    # --- LSTM cell
    ox = 10.0
    label(ax, ox + 7.5, 9.6, "LSTM", fontsize=17, weight="bold")
    box(ax, ox + 7.5, 3.6, 14.4, 6.0, "", role="rnn", fc="#FFF8F2", radius=0.3, lw=1.5)
    cy, by, gy = 5.6, 1.2, 2.9
    gx = {"f": ox + 2.2, "i": ox + 4.4, "g": ox + 6.9, "o": ox + 9.3}
    # cell state line
    _line(ax, [(ox - 0.9, cy), (gx["f"] - 0.32, cy)], color=cc, arrow_end=False)
    _line(ax, [(gx["f"] + 0.32, cy), (ox + 5.65 - 0.32, cy)], color=cc, arrow_end=False)
    _line(ax, [(ox + 5.65 + 0.32, cy), (ox + 15.9, cy)], color=cc)
    _node(ax, gx["f"], cy, "×")
    _node(ax, ox + 5.65, cy, "+")
    label(ax, ox - 0.9, cy + 0.5, "$c_{t-1}$", fontsize=14, color=cc, ha="left")
    label(ax, ox + 15.4, cy + 0.5, "$c_t$", fontsize=14, color=cc)
    label(ax, ox + 8.2, cy + 0.55, "セル状態 $c$（長期の記憶）", fontsize=12, color=cc)
    # input bus: h_{t-1} and x_t
    _line(ax, [(ox - 0.9, by), (gx["o"], by)], color=hc, arrow_end=False)
    _line(ax, [(ox + 0.9, -1.6), (ox + 0.9, by)], color=BLUE, arrow_end=False)
    label(ax, ox - 0.9, by + 0.5, "$h_{t-1}$", fontsize=14, color=hc, ha="left")
    label(ax, ox + 0.9, -2.0, "$x_t$", fontsize=14, color=BLUE)
    names = {
        "f": ("σ", "忘却ゲート\n$f$"),
        "i": ("σ", "入力ゲート\n$i$"),
        "g": ("tanh", "候補\n$g$"),
        "o": ("σ", "出力ゲート\n$o$"),
    }
    for k, x in gx.items():
        _line(ax, [(x, by), (x, gy - 0.45)], color=hc)
        box(ax, x, gy, 1.35 if k == "g" else 1.0, 0.9, names[k][0], role="attn" if k != "g" else "rnn", fontsize=13)
        label(ax, x + 0.12, 0.05, names[k][1], fontsize=10, va="top", color=C["attn"][1] if k != "g" else C["rnn"][1])
    # f → ×
    _line(ax, [(gx["f"], gy + 0.45), (gx["f"], cy - 0.32)])
    # i, g → × → +
    mx = ox + 5.65
    _node(ax, mx, 4.2, "×")
    _line(ax, [(gx["i"], gy + 0.45), (gx["i"], 4.2), (mx - 0.32, 4.2)])
    _line(ax, [(gx["g"], gy + 0.45), (gx["g"], 4.2), (mx + 0.32, 4.2)])
    _line(ax, [(mx, 4.52), (mx, cy - 0.32)])
    # c_t → tanh → × o → h_t
    tx = ox + 11.6
    _line(ax, [(tx, cy), (tx, 4.55)])
    box(ax, tx, 4.2, 1.35, 0.7, "tanh", role="rnn", fontsize=12)
    _node(ax, tx, gy, "×")
    _line(ax, [(tx, 3.85), (tx, gy + 0.32)])
    _line(ax, [(gx["o"] + 0.5, gy), (tx - 0.32, gy)])
    _line(ax, [(tx, gy - 0.32), (tx, by), (ox + 15.9, by)], color=hc)
    _line(ax, [(tx, by), (ox + 13.5, by), (ox + 13.5, 8.4)], color=hc)
    label(ax, ox + 15.4, by + 0.5, "$h_t$", fontsize=14, color=hc)
    label(ax, ox + 13.5, 8.85, "$h_t$", fontsize=14, color=hc)
    label(ax, ox + 8.6, -1.75, "ゲート（0〜1）が「忘れる・書き込む・読み出す」量を調整する", fontsize=12, color=GRAY)
    return fig


# --- 37-8 ------------------------------------------------------------------------------------


def encoder_decoder(ax, src, tgt_in, tgt_out, y=5.0, x0=1.6, dx=2.35, gap=1.2, context_label="$c$", feedback=True):
    """Draw an RNN encoder over ``src`` and a decoder fed ``tgt_in`` emitting ``tgt_out``.
    Returns the x positions of the encoder and decoder cells."""
    ex = [x0 + dx * i for i in range(len(src))]
    dxs = [ex[-1] + dx + gap + dx * i for i in range(len(tgt_in))]
    for t, (x, w) in enumerate(zip(ex, src, strict=True)):
        token(ax, x, y - 2.6, w, w=1.7)
        arrow(ax, (x, y - 2.2), (x, y - 0.55))
        rnn_cell(ax, x, y, "Enc", fontsize=12)
        if t:
            arrow(ax, (ex[t - 1] + 0.8, y), (x - 0.8, y), color=C["hidden"][1], lw=2.2)
    for t, (x, wi, wo) in enumerate(zip(dxs, tgt_in, tgt_out, strict=True)):
        token(ax, x, y - 2.6, wi, w=1.7)
        arrow(ax, (x, y - 2.2), (x, y - 0.55))
        rnn_cell(ax, x, y, "Dec", role="attn", fontsize=12)
        token(ax, x, y + 2.6, wo, role="out", w=1.7)
        arrow(ax, (x, y + 0.55), (x, y + 2.2))
        if t:
            arrow(ax, (dxs[t - 1] + 0.8, y), (x - 0.8, y), color=C["hidden"][1], lw=2.2)
        if feedback and t + 1 < len(tgt_in):  # the output becomes the next input
            gx = x + dx / 2
            ax.plot([x + 0.85, gx, gx], [y + 2.6, y + 2.6, y - 2.6], color=RED, lw=1.3, ls="--", zorder=3)
            arrow(ax, (gx, y - 2.6), (dxs[t + 1] - 0.85, y - 2.6), color=RED, lw=1.3, shrink=0, mutation=10)
    # context: the encoder's last state starts the decoder
    arrow(ax, (ex[-1] + 0.8, y), (dxs[0] - 0.8, y), color=RED, lw=3.2, mutation=20)
    label(ax, (ex[-1] + dxs[0]) / 2, y + 0.55, context_label, fontsize=15, color=RED)
    return ex, dxs


@figure("chatgpt-book-ch6-37-8-rnn-encoder-decoder.png")
def encoder_decoder_figure():
    fig = new_figure(4.0)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24.5), (0, 10.2))
    src = ["私", "は", "学生", "です"]
    ex, dxs = encoder_decoder(ax, src, ["<BOS>", "I", "am", "a", "student"], ["I", "am", "a", "student", "<EOS>"])
    label(
        ax, (ex[0] + ex[-1]) / 2, 9.3, "エンコーダー：日本語の文を読む", fontsize=14, weight="bold", color=C["rnn"][1]
    )
    label(ax, (dxs[0] + dxs[-1]) / 2, 9.3, "デコーダー：英語の文を書く", fontsize=14, weight="bold", color=C["attn"][1])
    label(ax, (ex[-1] + dxs[0]) / 2, 3.6, "文全体の\n要約ベクトル", fontsize=11, color=RED)
    label(
        ax,
        12.2,
        0.6,
        "デコーダーは自分の出力を次の入力に戻しながら（点線）、<EOS> が出るまで1語ずつ生成する",
        fontsize=12,
        color=GRAY,
    )
    return fig
