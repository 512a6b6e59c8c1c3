"""The index page ``figures/README.md``: section, thumbnail linking to the full image, captions."""

from __future__ import annotations

from figures.index import INDEX

HEADER = """# 第6章の図 / Figures of Chapter 6

第6章（Transformer）の25枚の図です。すべてコードで描かれています（matplotlib、同梱の日本語フォント
IPAexGothic via `matplotlib-fontja`）。サムネイルをクリックすると元の画像が開きます。

The chapter's 25 figures, all drawn by code. Click a thumbnail for the full image.
Data figures are computed with the reference solutions (`solutions/`): padding, processing depth,
attention weights, the attention map of a model trained on sequence reversal, positional encodings,
per-head attention, BERT masking, the causal mask and mixture-of-experts routing.

Regenerate every image, thumbnail and this page (deterministic, well under a minute on 2 cores):

```
python -m figures              # writes into figures/
python -m figures --out DIR    # writes into DIR (the tests compare DIR with figures/)
python -m pytest -q figures/tests
```

| 節 | 図 | ファイル / File | キャプション | Caption |
|---|---|---|---|---|
"""


def render_readme() -> str:
    rows = []
    for name, section, ja, en in INDEX:
        short = name.removeprefix("chatgpt-book-ch6-").removesuffix(".png")
        thumb = f"[![{short}](thumbs/{name})]({name})"
        rows.append(f"| §{section} | {thumb} | `{name}` | {ja} | {en} |")
    return HEADER + "\n".join(rows) + "\n"
