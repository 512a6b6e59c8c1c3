"""§42 GPT: figures 42-1 (GPT's structure with the causal mask) and 42-2 (mixture of experts)."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from figures.common import (
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
)
from figures.sec37 import token

SEC = "sec42_gpt"
GPT_WORDS = ["吾輩", "は", "猫", "で", "ある", "。"]
EXPERT_COLORS = ["#C0392B", "#1F5FA8", "#2E8B57", "#B8860B"]


def _standin_causal_mask(seq_len):
    """LOCAL STAND-IN for gpt.causal_mask: True on and below the diagonal."""
    import torch

    return torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool))


def _standin_moe_gate(x, W_gate, k):
    """LOCAL STAND-IN for gpt.moe_gate: softmax over experts, top-k, renormalised."""
    import torch

    probs = torch.softmax(x @ W_gate, dim=-1)
    w, idx = probs.topk(k, dim=-1)
    return w / w.sum(-1, keepdim=True), idx


# --- 42-1 ------------------------------------------------------------------------------------


@figure("chatgpt-book-ch6-42-1-masked-attention.png")
def gpt_figure():
    causal_mask = ref_function(SEC, "causal_mask", _standin_causal_mask)
    T = len(GPT_WORDS)
    mask = causal_mask(T).numpy()
    rng = seeded(421)
    scores = rng.normal(0, 1.2, (T, T))
    s = np.where(mask, scores, -np.inf)
    weights = np.exp(s - s.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)

    fig = new_figure(6.6)
    # left: the GPT stack
    ax = diagram_axes(fig.add_axes([0.0, 0.0, 0.42, 1.0]), (0, 10), (0, 16.5))
    cx = 5.2
    label(ax, cx, 16.0, "GPTの基本構成", fontsize=15, weight="bold")
    token(ax, cx, 1.0, "入力：" + " ".join(GPT_WORDS), w=5.6, fontsize=12)  # the 6 tokens of the mask
    arrow(ax, (cx, 1.4), (cx, 2.1))
    box(ax, cx, 2.7, 5.4, 1.0, "トークン埋め込み + 位置埋め込み", role="token", fontsize=10)
    ax.add_patch(
        FancyBboxPatch(
            (cx - 3.1, 3.9),
            6.2,
            7.0,
            boxstyle="round,pad=0,rounding_size=0.3",
            fc="#FAFAFA",
            ec="#888888",
            lw=1.5,
            ls="--",
        )
    )
    label(ax, cx - 3.75, 7.4, "× N", fontsize=16, weight="bold")
    layers = [
        (4.8, "層正規化", "norm", 0.7),
        (6.0, "マスク付き Self-Attention", "attn", 1.1),
        (7.5, "層正規化", "norm", 0.7),
        (8.8, "フィードフォワード（MLP）", "ffn", 1.1),
    ]
    arrow(ax, (cx, 3.2), (cx, 4.45))
    for k, (y, text, role, h) in enumerate(layers):
        box(ax, cx, y, 5.0, h, text, role=role, fontsize=11)
        if k + 1 < len(layers):
            arrow(ax, (cx, y + h / 2), (cx, layers[k + 1][0] - layers[k + 1][3] / 2))
    for y0, y1 in ((4.15, 6.85), (6.85, 9.65)):  # residual connections (pre-LN)
        ax.plot([cx, cx + 2.8, cx + 2.8], [y0, y0, y1], color=RED, lw=1.8, zorder=3)
        ax.plot([cx + 2.8, cx], [y1, y1], color=RED, lw=1.8, zorder=3)
    arrow(ax, (cx, 9.35), (cx, 11.4))
    box(ax, cx, 11.9, 5.0, 0.8, "層正規化", role="norm", fontsize=11)
    arrow(ax, (cx, 12.3), (cx, 12.85))
    box(ax, cx, 13.3, 5.0, 0.8, "線形層（埋め込みと共有）+ softmax", role="out", fontsize=9)
    arrow(ax, (cx, 13.7), (cx, 14.4))
    token(ax, cx, 14.9, "各位置で次のトークンの確率", role="out", w=5.6, fontsize=11)  # position t predicts t + 1
    # right: causal mask and masked attention weights
    ax = fig.add_axes([0.47, 0.12, 0.24, 0.66])
    heatmap(ax, mask.astype(float), GPT_WORDS, GPT_WORDS, cmap="Greens", vmin=0, vmax=1.6, annotate=False)
    for (i, j), m in np.ndenumerate(mask):
        ax.text(j, i, "○" if m else "×", ha="center", va="center", fontsize=12, color="#1B5E20" if m else RED)
    ax.tick_params(axis="x", rotation=90)
    ax.set_xlabel("参照されるトークン（キー）", fontsize=11)
    ax.set_ylabel("参照するトークン（質問）", fontsize=11)
    panel_title(ax, "因果マスク causal_mask", fontsize=13, loc="center")
    ax = fig.add_axes([0.75, 0.12, 0.24, 0.66])
    shown = np.where(mask, weights, np.nan)
    heatmap(ax, np.nan_to_num(shown), GPT_WORDS, None, cmap="Purples", vmin=0, vmax=1, annotate=False)
    for (i, j), v in np.ndenumerate(weights):
        if mask[i, j]:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9, color="white" if v > 0.6 else "black")
        else:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="#EEEEEE", ec="white", lw=0.5))
    ax.tick_params(axis="x", rotation=90)
    ax.set_xlabel("参照されるトークン（キー）", fontsize=11)
    panel_title(ax, "マスク後の注意の重み", fontsize=13, loc="center")
    fig.text(
        0.73,
        0.97,
        "各トークンは自分自身とそれより前のトークンだけを\n参照する（未来は見えない）\n→ 左から右へ1トークンずつ文章を生成できる",
        ha="center",
        va="top",
        fontsize=12,
        linespacing=1.4,
        color=GRAY,
    )
    return fig


# --- 42-2 ------------------------------------------------------------------------------------

MOE_WORDS = ["私", "は", "東京", "で", "数学", "を", "学ぶ", "。"]


@figure("chatgpt-book-ch6-42-2-mixture-of-experts.png")
def moe_figure():
    import torch

    moe_gate = ref_function(SEC, "moe_gate", _standin_moe_gate)
    E, k, d = 4, 2, 8
    rng = seeded(422)
    x = torch.tensor(rng.normal(0, 1.0, (len(MOE_WORDS), d)))
    W_gate = torch.tensor(rng.normal(0, 0.9, (d, E)))
    weights, indices = moe_gate(x, W_gate, k)
    weights, indices = weights.detach().numpy(), indices.numpy()
    probs = torch.softmax(x @ W_gate, -1).numpy()
    routing = np.zeros((len(MOE_WORDS), E))
    for n in range(len(MOE_WORDS)):
        routing[n, indices[n]] = weights[n]
    show = 4  # the token drawn in the diagram: 数学

    fig = new_figure(6.0)
    ax = diagram_axes(fig.add_axes([0.0, 0.0, 0.6, 1.0]), (0, 14.4), (0, 14.4))
    label(ax, 7.2, 13.7, f"1トークンごとに、ルーターが {E} 個の専門家から {k} 個を選ぶ", fontsize=13, weight="bold")
    token(ax, 1.6, 7.0, f"「{MOE_WORDS[show]}」\n$x$", w=2.2, h=1.5, fontsize=12)
    arrow(ax, (2.7, 7.0), (3.6, 7.0))
    box(ax, 4.8, 7.0, 2.2, 1.4, "ルーター\nsoftmax", role="attn", fontsize=11)
    ys = [11.2, 8.4, 5.6, 2.8]
    for e, y in enumerate(ys):
        chosen = e in indices[show]
        col = EXPERT_COLORS[e]
        w = routing[show, e]
        arrow(ax, (5.9, 7.0), (8.0, y), color=col if chosen else "#CCCCCC", lw=1.0 + 5 * w, ls="-" if chosen else "--")
        box(
            ax,
            9.2,
            y,
            2.4,
            1.4,
            f"専門家 {e + 1}\np={probs[show, e]:.2f}",
            fc="white" if not chosen else C["ffn"][0],
            ec=col if chosen else "#BBBBBB",
            fontsize=11,
            color="black" if chosen else "#AAAAAA",
        )
        if chosen:
            arrow(ax, (10.4, y), (12.0, 7.2 if y > 7 else 6.8), color=col, lw=1.0 + 5 * w)
            label(ax, 11.4, y + (-0.7 if y > 7 else 0.7), f"×{w:.2f}", fontsize=11, color=col, weight="bold")
        else:
            label(ax, 9.2, y - 1.0, "計算しない", fontsize=9, color="#AAAAAA")
    ax.add_patch(Circle((12.5, 7.0), 0.5, fc="white", ec="#333333", lw=1.6, zorder=4))
    label(ax, 12.5, 7.0, "Σ", fontsize=15)
    arrow(ax, (13.0, 7.0), (13.9, 7.0))
    label(ax, 14.1, 7.0, "$y$", fontsize=14, ha="left")
    label(
        ax,
        7.2,
        0.7,
        f"上位{k}個の確率を足して1になるよう正規化した重みで、選ばれた専門家の出力を混ぜる",
        fontsize=10,
        color=GRAY,
    )
    # right: routing of every token
    ax = fig.add_axes([0.66, 0.14, 0.3, 0.66])
    heatmap(ax, routing, [f"専門家{e + 1}" for e in range(E)], MOE_WORDS, cmap="Greens", vmin=0, vmax=1, fontsize=10)
    for (n, e), v in np.ndenumerate(routing):
        if v == 0:
            ax.add_patch(Rectangle((e - 0.5, n - 0.5), 1, 1, fc="#F2F2F2", ec="white"))
    ax.add_patch(Rectangle((-0.5, show - 0.5), E, 1, fill=False, ec=RED, lw=2.2))
    ax.tick_params(axis="x", rotation=45, labelsize=10)
    for lab_, col in zip(ax.get_xticklabels(), EXPERT_COLORS, strict=True):
        lab_.set_color(col)
    panel_title(ax, f"moe_gate によるルーティング（top-{k}）", fontsize=12, loc="center")
    counts = np.bincount(indices.ravel(), minlength=E)
    fig.text(0.81, 0.012, "担当トークン数：" + "、".join(f"{c}" for c in counts), ha="center", fontsize=11, color=GRAY)
    return fig
