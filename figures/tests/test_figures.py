"""The chapter's figures: every file of the index exists with its thumbnail, is a sensible PNG, the
index page links resolve, and regenerating them from code reproduces the committed images.

Run with ``python -m pytest -q figures/tests`` (the regeneration test draws all 25 figures into a
temporary folder with ``python -m figures --out DIR``; it takes well under a minute on 2 cores).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from figures.index import INDEX, NAMES
from figures.readme import render_readme

FIGURES = Path(__file__).resolve().parent.parent
REPO = FIGURES.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Regenerated pixels may differ slightly across FreeType/platform builds; on the same machine they are identical.
MEAN_TOLERANCE = 0.01  # mean absolute difference per channel (pixel values in [0, 1])
PIXEL_TOLERANCE = 0.02  # at most this share of pixels may differ by more than 0.25
# CPU seconds for `python -m figures` (mostly one thread, so on 2 free cores wall time is about the same;
# CPU time rather than wall time keeps the check meaningful on a machine shared with other jobs).
TIME_BUDGET = float(os.environ.get("FIGURES_TIME_BUDGET", "60"))


def test_index_has_the_25_figures_of_the_book():
    assert len(INDEX) == 25
    assert len(set(NAMES)) == 25
    for name, section, ja, en in INDEX:
        assert re.fullmatch(r"chatgpt-book-ch6-(3[7-9]|4[0-2])-\d-[a-z0-9-]+\.png", name), name
        assert name.startswith(f"chatgpt-book-ch6-{section}-"), name
        assert ja and en, name
    assert "基本公正" not in "".join(ja for _, _, ja, _ in INDEX)  # the book's typo, fixed


@pytest.mark.parametrize("name", NAMES)
def test_figure_and_thumbnail_are_sensible_pngs(name):
    for path, (wmin, wmax) in ((FIGURES / name, (1200, 1600)), (FIGURES / "thumbs" / name, (300, 340))):
        assert path.is_file(), f"{path.relative_to(REPO)} is missing: run `python -m figures`"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
        img = imread(path)
        h, w = img.shape[:2]
        assert wmin <= w <= wmax, f"{path.relative_to(REPO)}: width {w} px not in [{wmin}, {wmax}]"
        assert 0.25 <= h / w <= 1.0, f"{path.relative_to(REPO)}: odd aspect {w}x{h}"
        assert img[..., :3].std() > 0.02, f"{path.relative_to(REPO)} is (almost) blank"
        data = path.read_bytes()
        assert b"tEXt" not in data and b"tIME" not in data, f"{path.name} carries text/time metadata"


def test_readme_is_the_generated_index_and_its_links_resolve():
    readme = (FIGURES / "README.md").read_text(encoding="utf-8")
    assert readme == render_readme(), "figures/README.md is stale: run `python -m figures`"
    links = re.findall(r"\]\(([^)\s]+\.png)\)", readme)
    assert len(links) == 2 * len(NAMES)  # each row: the thumbnail image and the link to the full image
    for link in links:
        assert (FIGURES / link).is_file(), f"README.md links to a missing file: {link}"
    for name, section, ja, en in INDEX:
        row = next(line for line in readme.splitlines() if f"`{name}`" in line)
        assert f"§{section}" in row and ja in row and en in row
        assert "[![" in row and f"(thumbs/{name})" in row and f"]({name})" in row


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "figures", "--out", str(out), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\n`python -m figures` regenerated 25 figures: {elapsed:.1f} s wall, {cpu:.1f} s CPU")
    return out, cpu


def test_regeneration_time(regenerated):
    _, cpu = regenerated
    assert cpu <= TIME_BUDGET, f"regenerating the figures took {cpu:.1f} CPU s > {TIME_BUDGET:.0f} s"


@pytest.mark.parametrize("name", NAMES)
def test_regenerated_images_match_the_committed_ones(regenerated, name):
    out, _ = regenerated
    for rel in (name, f"thumbs/{name}"):
        committed, fresh = imread(FIGURES / rel), imread(out / rel)
        assert committed.shape == fresh.shape, f"{rel}: size {committed.shape} vs regenerated {fresh.shape}"
        diff = np.abs(committed[..., :3].astype(np.float64) - fresh[..., :3])
        assert diff.mean() <= MEAN_TOLERANCE, f"{rel}: mean pixel difference {diff.mean():.4f}"
        assert (diff.max(-1) > 0.25).mean() <= PIXEL_TOLERANCE, f"{rel}: too many pixels differ"
    assert (out / "README.md").read_text(encoding="utf-8") == (FIGURES / "README.md").read_text(encoding="utf-8")
