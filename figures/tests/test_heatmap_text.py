"""Cell text of ``figures.common.heatmap``: white on dark cells, black on light ones, judged by the
cell's own colour (its relative luminance), so that diverging colour maps, whose pale cells sit in
the middle of the value range, get black text on their pale cells."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from figures.common import EQUAL_CONTRAST, heatmap, relative_luminance, text_color_on


def cell_text_colors(M, **kw):
    fig, ax = plt.subplots()
    heatmap(ax, M, **kw)
    colors = [t.get_color() for t in ax.texts]
    plt.close(fig)
    return colors


def test_relative_luminance_of_black_white_and_pure_green():
    # oracle: the WCAG 2 definition: 0 for black, 1 for white, 0.7152 for pure green
    assert relative_luminance((0, 0, 0, 1)) == 0.0
    assert relative_luminance((1, 1, 1, 1)) == pytest.approx(1.0, rel=1e-12)
    assert relative_luminance((0, 1, 0)) == pytest.approx(0.7152, rel=1e-12)
    assert EQUAL_CONTRAST == pytest.approx(0.179, abs=1e-3)


def test_diverging_map_gets_black_text_on_its_pale_middle():
    # oracle: RdBu_r is dark blue at -1, white at 0, dark red at +1; a value-threshold rule ("upper 40 %
    # of the range is dark") gives black on dark blue and white on the pale red at 0.3
    M = np.array([[-1.0, -0.3, 0.0, 0.3, 1.0]])
    got = cell_text_colors(M, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    assert got == ["white", "black", "black", "black", "white"], got


def test_sequential_map_gets_white_text_only_on_dark_cells():
    # oracle: Blues goes from near-white (0) to dark navy (1)
    got = cell_text_colors(np.array([[0.0, 0.5, 1.0]]), cmap="Blues", vmin=0.0, vmax=1.0)
    assert got == ["black", "black", "white"], got


@pytest.mark.parametrize("cmap", ["RdBu_r", "PuOr_r", "Purples", "Greens", "viridis"])
def test_text_colour_is_the_one_of_higher_contrast(cmap):
    # property: for every cell colour the chosen text has the higher WCAG contrast ratio
    cm = plt.get_cmap(cmap)
    for x in np.linspace(0, 1, 41):
        L = relative_luminance(cm(x))
        white, black = 1.05 / (L + 0.05), (L + 0.05) / 0.05
        assert text_color_on(cm(x)) == ("white" if white > black else "black"), (cmap, x)
