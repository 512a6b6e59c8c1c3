"""§41 BERT: figures 41-1 … 41-3."""

from __future__ import annotations

import numpy as np

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
)
from figures.sec37 import token

SEC = "sec41_bert"
SPECIAL = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"]


def _standin_mask_tokens(ids, mask_id, vocab_size, special_ids, mask_prob=0.15, seed=0):
    """LOCAL STAND-IN for bert.mask_tokens (80/10/10 rule, NumPy generator)."""
    import torch

    ids = torch.as_tensor(ids)
    rng = np.random.default_rng(seed)
    special = np.isin(ids.numpy(), list(special_ids))
    selected = (rng.random(ids.shape) < mask_prob) & ~special
    r = rng.random(ids.shape)
    allowed = np.setdiff1d(np.arange(vocab_size), list(special_ids))
    inputs = ids.numpy().copy()
    inputs[selected & (r < 0.8)] = mask_id
    rand = selected & (r >= 0.8) & (r < 0.9)
    inputs[rand] = rng.choice(allowed, rand.sum())
    labels = np.where(selected, ids.numpy(), -100)
    return torch.as_tensor(inputs), torch.as_tensor(labels)


def _standin_build_pair_input(tokens_a, tokens_b, cls_id, sep_id):
    """LOCAL STAND-IN for bert.build_pair_input."""
    import torch

    ids = [cls_id, *tokens_a, sep_id] + ([*tokens_b, sep_id] if tokens_b is not None else [])
    seg = [0] * (len(tokens_a) + 2) + ([1] * (len(tokens_b) + 1) if tokens_b is not None else [])
    return torch.tensor(ids), torch.tensor(seg)


# --- 41-1 ------------------------------------------------------------------------------------


def _document_stack(ax, x, y, n=4, w=1.5, h=1.9):
    for k in range(n):
        dx = 0.25 * k
        box(ax, x + dx, y - dx, w, h, "", role="plain", radius=0.05, zorder=2 + k, lw=1.3)
        for j in range(4):
            ax.plot([x + dx - 0.5, x + dx + 0.5], [y - dx + 0.55 - 0.35 * j] * 2, color="#AAAAAA", lw=1.2, zorder=2 + k)


@figure("chatgpt-book-ch6-41-1-bert-finetuning-flow.png")
def bert_flow_figure():
    fig = new_figure(5.6)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 14))
    label(ax, 6.2, 13.3, "① 事前学習（大量・ラベルなし）", fontsize=15, weight="bold", color=C["attn"][1])
    label(ax, 18.2, 13.3, "② ファインチューニング（少量・ラベル付き）", fontsize=14, weight="bold", color=C["ffn"][1])
    _document_stack(ax, 1.6, 8.3)
    label(ax, 2.0, 5.6, "Wikipedia・書籍など\n大量のテキスト", fontsize=11, color=GRAY)
    arrow(ax, (3.0, 7.9), (4.4, 7.9), lw=2.5, mutation=20)
    box(ax, 6.2, 9.1, 3.7, 1.1, "Masked言語モデル", role="mask", fontsize=11)
    box(ax, 6.2, 6.8, 3.3, 1.1, "次文章予測", role="out", fontsize=11)
    label(ax, 6.2, 5.6, "穴埋め・文のつながり\n（正解は文章自体から作れる）", fontsize=10, color=GRAY, va="top")
    arrow(ax, (7.9, 7.9), (9.3, 7.9), lw=2.5, mutation=20)
    box(ax, 11.0, 7.9, 3.2, 4.4, "", role="attn", radius=0.25, lw=2.5)
    label(ax, 11.0, 9.2, "BERT", fontsize=20, weight="bold", color=C["attn"][1])
    label(ax, 11.0, 7.9, "基盤モデル", fontsize=13)
    label(ax, 11.0, 6.8, "（Transformer\nエンコーダー）", fontsize=10, color=GRAY)
    tasks = [
        ("文書分類（感情分析）", "「この映画は最高」→ 肯定"),
        ("質問応答", "文中から答えの範囲を抜き出す"),
        ("固有表現抽出", "各トークンに「人名・地名…」"),
    ]
    for k, (task, example) in enumerate(tasks):
        y = 10.6 - 3.1 * k
        arrow(ax, (12.6, 7.9), (13.5, y), lw=2.0, color=C["ffn"][1])
        box(ax, 14.7, y, 2.3, 1.4, "BERT", role="attn", fontsize=12)
        box(ax, 16.55, y, 1.4, 1.4, "出力層", role="ffn", fontsize=10)
        arrow(ax, (17.25, y), (17.8, y), lw=1.5)
        label(ax, 17.9, y + 0.35, task, fontsize=12, ha="left", weight="bold", color=C["ffn"][1])
        label(ax, 17.9, y - 0.4, example, fontsize=10, ha="left", color=GRAY)
    label(
        ax,
        12.0,
        1.0,
        "事前学習で言語の一般的な知識を身につけたモデルに、小さな出力層を足して各タスクの少量データで調整する",
        fontsize=12,
        color=GRAY,
    )
    return fig


# --- 41-2 ------------------------------------------------------------------------------------

MLM_WORDS = ["[CLS]", "今日", "は", "天気", "が", "良い", "ので", "公園", "を", "散歩", "し", "た", "[SEP]"]
FILLER = ["犬", "本", "走る", "駅", "赤い", "夜", "川", "食べる"]


def _mlm_vocab():
    vocab = SPECIAL + [w for w in MLM_WORDS if w not in SPECIAL] + FILLER
    return vocab, {w: i for i, w in enumerate(vocab)}


def _masking_example(mask_tokens, vocab, ids, special):
    """The first seed (deterministic search) whose masking of the example sentence shows all three
    cases: replaced by [MASK], replaced by a random token, and left unchanged."""
    import torch

    for seed in range(2000):
        inp, lab = mask_tokens(torch.tensor([ids]), 3, len(vocab), special, mask_prob=0.3, seed=seed)
        inp, lab = inp[0].numpy(), lab[0].numpy()
        sel = lab != -100
        kinds = {("mask" if inp[t] == 3 else "same" if inp[t] == ids[t] else "random") for t in np.flatnonzero(sel)}
        if kinds == {"mask", "random", "same"} and sel.sum() <= 5:
            return inp, lab, seed
    raise RuntimeError("no seed shows all three masking cases")


@figure("chatgpt-book-ch6-41-2-bert-masked-lm.png")
def masked_lm_figure():
    import torch

    mask_tokens = ref_function(SEC, "mask_tokens", _standin_mask_tokens)
    vocab, index = _mlm_vocab()
    special = [0, 1, 2, 3]
    ids = [index[w] for w in MLM_WORDS]
    inp, lab, _ = _masking_example(mask_tokens, vocab, ids, special)
    # statistics of the rule on a large batch
    g = torch.Generator().manual_seed(41)
    big = torch.randint(4, 1000, (512, 128), generator=g)
    bi, bl = mask_tokens(big, 3, 1000, special, mask_prob=0.15, seed=7)
    sel = bl != -100
    n_sel = int(sel.sum())
    share_mask = float(((bi == 3) & sel).sum()) / n_sel
    share_same = float(((bi == big) & sel).sum()) / n_sel
    share_rand = 1.0 - share_mask - share_same

    fig = new_figure(6.0)
    ax = diagram_axes(fig.add_axes([0.0, 0.0, 0.72, 1.0]), (0, 17.3), (0, 14.4))
    xs = [0.75 + 1.3 * t for t in range(len(ids))]
    rows = {"orig": 12.2, "inp": 8.9, "bert": 6.3, "pred": 3.4}
    label(ax, 8.6, 13.7, "文の一部を隠し、元のトークンを当てる（穴埋め問題）", fontsize=14, weight="bold")
    label(ax, 0.05, rows["orig"] + 0.85, "元の文", fontsize=11, color=GRAY, ha="left")
    label(ax, 0.05, rows["inp"] + 0.85, "BERTへの入力", fontsize=11, color=GRAY, ha="left")
    box(
        ax,
        (xs[0] + xs[-1]) / 2,
        rows["bert"],
        xs[-1] - xs[0] + 1.3,
        1.3,
        "BERT（Transformerエンコーダー）",
        role="attn",
        fontsize=13,
    )
    for t, x in enumerate(xs):
        w = MLM_WORDS[t]
        token(ax, x, rows["orig"], w, w=1.2, h=0.8, fontsize=10, role="pad" if w in SPECIAL else "token")
        selected = lab[t] != -100
        shown = vocab[int(inp[t])]
        if not selected:
            role, note = ("pad" if w in SPECIAL else "token"), ""
        elif inp[t] == 3:
            role, note = "mask", "[MASK]"
        elif inp[t] == ids[t]:
            role, note = "out", "そのまま"
        else:
            role, note = "ffn", "ランダム"
        arrow(
            ax,
            (x, rows["orig"] - 0.4),
            (x, rows["inp"] + 0.4),
            lw=1.0 if not selected else 2.0,
            color=RED if selected else "#BBBBBB",
        )
        token(ax, x, rows["inp"], shown, w=1.2, h=0.8, fontsize=9 if len(shown) > 3 else 10, role=role)
        if note:
            label(ax, x, rows["inp"] - 0.75, note, fontsize=8, color=RED, bbox=dict(fc="white", ec="none", pad=0.5))
        arrow(ax, (x, rows["inp"] - 0.4), (x, rows["bert"] + 0.65), lw=1.0, color="#888888")
        if selected:
            arrow(ax, (x, rows["bert"] - 0.65), (x, rows["pred"] + 0.45), lw=2.0, color=RED)
            token(ax, x, rows["pred"], vocab[int(lab[t])], role="out", w=1.2, h=0.8, fontsize=10)
            label(ax, x, rows["pred"] - 0.8, "正解", fontsize=9, color=RED)
    label(ax, 0.05, rows["pred"] + 0.85, "予測する位置だけ\n損失を計算", fontsize=10, color=RED, ha="left")
    label(
        ax,
        8.6,
        1.0,
        "選ばれた位置（ここでは確率 30%）の正解ラベル＝元のトークン、それ以外は −100（損失に含めない）",
        fontsize=10,
        color=GRAY,
    )
    # right: the 15 % / 80-10-10 rule, measured
    ax = fig.add_axes([0.79, 0.2, 0.19, 0.55])
    shares = [share_mask, share_rand, share_same]
    ax.bar(range(3), [100 * s for s in shares], color=[C["mask"][1], C["ffn"][1], C["out"][1]])
    for k, s in enumerate(shares):
        ax.text(k, 100 * s + 2, f"{100 * s:.1f}%", ha="center", fontsize=11)
    ax.set_xticks(range(3), ["[MASK]", "ランダム", "そのまま"], fontsize=10)
    ax.set_ylim(0, 100)
    ax.set_ylabel("割合 (%)", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    panel_title(
        ax, f"512×128トークンで実測\n選択率 {100 * n_sel / big.numel():.1f}%（規則15%）", fontsize=11, loc="center"
    )
    return fig


# --- 41-3 ------------------------------------------------------------------------------------

NSP_PAIRS = [
    (["今日", "は", "雨", "だ"], ["傘", "を", "持っ", "て", "行こ", "う"], True),
    (["今日", "は", "雨", "だ"], ["ペンギン", "は", "鳥", "で", "ある"], False),
]


@figure("chatgpt-book-ch6-41-3-next-sentence-prediction.png")
def nsp_figure():
    build_pair_input = ref_function(SEC, "build_pair_input", _standin_build_pair_input)
    vocab = SPECIAL + sorted({w for a, b, _ in NSP_PAIRS for w in a + b})
    index = {w: i for i, w in enumerate(vocab)}
    fig = new_figure(6.2)
    ax = diagram_axes(fig.add_axes([0, 0, 1, 1]), (0, 24), (0, 15.5))
    label(
        ax,
        12.0,
        15.0,
        "2つの文をつなげて入力し、文Bが文Aの本当の続きかどうかを [CLS] の出力で判定する",
        fontsize=13,
        weight="bold",
    )
    for k, (a, b, is_next) in enumerate(NSP_PAIRS):
        y0 = 10.3 - 6.6 * k
        ids, seg = build_pair_input([index[w] for w in a], [index[w] for w in b], index["[CLS]"], index["[SEP]"])
        ids, seg = ids.tolist(), seg.tolist()
        xs = [1.0 + 1.35 * t for t in range(len(ids))]
        for x, i, s in zip(xs, ids, seg, strict=True):
            w = vocab[i]
            role = "pad" if w in SPECIAL else ("token" if s == 0 else "out")
            token(ax, x, y0, w, w=1.25, h=0.8, fontsize=9 if len(w) > 3 else 11, role=role)
            label(ax, x, y0 - 0.8, f"$E_{'AB'[s]}$", fontsize=10, color=BLUE if s == 0 else C["out"][1])
            arrow(ax, (x, y0 + 0.4), (x, y0 + 1.25), lw=1.0, color="#888888")
        box(ax, (xs[0] + xs[-1]) / 2, y0 + 1.9, xs[-1] - xs[0] + 1.25, 1.2, "BERT", role="attn", fontsize=14)
        verdict = "IsNext（続きである）" if is_next else "NotNext（無関係な文）"
        bx = xs[-1] + 3.4
        ax.plot([xs[0], xs[0], bx], [y0 + 2.5, y0 + 3.3, y0 + 3.3], color=RED, lw=2.0, zorder=3)
        arrow(ax, (bx, y0 + 3.3), (bx, y0 + 2.4), lw=2.0, color=RED, shrink=0)
        label(ax, xs[0] + 1.5, y0 + 3.75, "[CLS] の出力 → 分類器（2クラス）", fontsize=11, color=RED, ha="left")
        box(ax, bx, y0 + 1.9, 4.0, 1.0, verdict, role="out" if is_next else "mask", fontsize=11)
        label(ax, bx, y0 + 0.9, "正例（50%）" if is_next else "負例：別の文書から（50%）", fontsize=10, color=GRAY)
        label(ax, 0.3, y0 + 3.75, f"例{k + 1}", fontsize=12, weight="bold", ha="left")
    label(
        ax,
        12.0,
        0.5,
        "$E_A$, $E_B$：どちらの文のトークンかを示すセグメント埋め込み（文A=青、文B=黄）",
        fontsize=11,
        color=GRAY,
    )
    return fig
