"""Thumbnails: each full image scaled down to a fixed width, deterministically."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

THUMB_WIDTH = 320


def make_thumbnail(src: Path, dst: Path, width: int = THUMB_WIDTH) -> None:
    """Scale ``src`` to ``width`` pixels wide (aspect kept, Lanczos filter) and write it to ``dst``."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        height = max(1, round(im.height * width / im.width))
        thumb = im.resize((width, height), Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    thumb.save(dst, format="PNG", optimize=False)
