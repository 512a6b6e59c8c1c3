"""Style, font, building blocks and saving shared by every figure of the chapter.

Every figure is a function ``draw() -> matplotlib.figure.Figure`` registered with ``@figure(name)``
under its file name from the book's index (see ``figures/index.py``). ``save`` writes a PNG whose
bytes depend only on the drawing: fixed size and DPI, no software/date metadata.

Diagrams are drawn in "diagram units" on axes with equal aspect (``diagram_axes``): ``box`` puts a
rounded box centred on a point, ``arrow`` joins two points, ``heatmap`` draws a labelled matrix.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib_fontja  # noqa: E402, F401  (registers the bundled IPAexGothic font as the default family)
import numpy as np  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from grader.sections import SOLUTIONS, Section  # noqa: E402
from grader.targets import TargetError, load_module_file  # noqa: E402

DPI = 150
WIDTH = 9.6  # inches: 1440 px at DPI
FIGURES_DIR = Path(__file__).resolve().parent

# One palette for the whole chapter: the same role keeps the same colour in every figure.
C = {
    "token": ("#E8F1FB", "#3B6EA8"),  # inputs / tokens (fill, edge)
    "rnn": ("#FDE9D9", "#C8621B"),  # RNN / LSTM cells
    "hidden": ("#E3F4E1", "#3A8F3A"),  # hidden states
    "attn": ("#EEE6F7", "#7B4FA8"),  # attention
    "out": ("#FFF4CC", "#B8860B"),  # outputs / predictions
    "ffn": ("#E0F3F3", "#2A8C8C"),  # feed-forward, experts
    "norm": ("#F5F5DC", "#8B8B5A"),  # layer norm, add
    "pad": ("#EEEEEE", "#9A9A9A"),  # padding, masked
    "mask": ("#FBE3E4", "#C0392B"),  # [MASK], errors, highlights
    "plain": ("#FFFFFF", "#444444"),
}
RED = "#D62728"
BLUE = "#1F5FA8"
GRAY = "#777777"

# IPAexGothic has a single (regular) weight: "bold" text is drawn with a thin outline instead.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def _bold(color="black", width=0.8):
    return [patheffects.withStroke(linewidth=width, foreground=color)]


plt.rcParams.update(
    {
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "font.size": 13,
        "axes.titlesize": 15,
        "axes.titleweight": "normal",
        "axes.labelsize": 13,
        "xtick.labelsize": 12,
        "ytick.labelsize": 12,
        "legend.fontsize": 12,
        "axes.unicode_minus": False,  # the Japanese font has no U+2212
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "image.interpolation": "nearest",
        "svg.hashsalt": "ch6",
        "path.simplify": True,
    }
)

# --- registry -------------------------------------------------------------------------------

REGISTRY: dict[str, Callable[[], plt.Figure]] = {}


def figure(name: str):
    """Register ``draw`` as the function that draws figure file ``name``."""

    def register(draw):
        if name in REGISTRY:
            raise ValueError(f"figure {name} registered twice")
        REGISTRY[name] = draw
        return draw

    return register


def new_figure(height: float, width: float = WIDTH) -> plt.Figure:
    return plt.figure(figsize=(width, height), dpi=DPI)


def save(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` as a PNG of fixed size whose bytes carry no date and no software version."""
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    plt.close(fig)


# --- reference solutions ----------------------------------------------------------------------

STANDINS_USED: list[str] = []


def reference(section: str):
    """The reference module of ``section`` (e.g. ``"sec40_transformer"``), or None if it is absent."""
    s = Section(section)
    path = s.module_file(SOLUTIONS)
    if not path.is_file():
        return None
    try:
        return load_module_file(path, s.module)
    except TargetError as e:
        print(f"figures: cannot load {path}: {e}", file=sys.stderr)
        return None


def ref_function(section: str, name: str, standin: Callable | None = None) -> Callable:
    """``name`` from the reference solution of ``section``; when it does not exist (yet), the
    clearly labelled local ``standin`` is used instead and reported at the end of the run."""
    module = reference(section)
    fn = getattr(module, name, None) if module is not None else None
    if fn is not None:
        return fn
    if standin is None:
        raise RuntimeError(f"{section}.{name} is missing and has no stand-in")
    STANDINS_USED.append(f"{section}.{name}")
    return standin


# --- diagram building blocks ------------------------------------------------------------------


def diagram_axes(ax, xlim, ylim):
    """Axes in diagram units: equal aspect, no frame."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def box(ax, x, y, w, h, text="", role="plain", fontsize=14, lw=1.8, radius=0.08, weight="normal", color=None, **kw):
    """A rounded box of size ``w`` x ``h`` centred on ``(x, y)`` with ``text`` in the middle."""
    fc, ec = C[role]
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle=f"round,pad=0,rounding_size={radius}",
        fc=kw.pop("fc", fc),
        ec=kw.pop("ec", ec),
        lw=lw,
        zorder=kw.pop("zorder", 2),
        **kw,
    )
    ax.add_patch(patch)
    if text:
        label(ax, x, y, text, fontsize=fontsize, weight=weight, color=color or "black")
    return patch


def arrow(ax, p, q, color="#333333", lw=1.8, style="-|>", rad=0.0, shrink=2.0, ls="-", mutation=14, zorder=3):
    """An arrow from point ``p`` to point ``q`` (``rad`` bends it)."""
    a = FancyArrowPatch(
        p,
        q,
        arrowstyle=style,
        mutation_scale=mutation,
        color=color,
        lw=lw,
        ls=ls,
        shrinkA=shrink,
        shrinkB=shrink,
        connectionstyle=f"arc3,rad={rad}",
        zorder=zorder,
    )
    ax.add_patch(a)
    return a


def label(ax, x, y, text, fontsize=13, color="black", ha="center", va="center", weight="normal", **kw):
    """Text at ``(x, y)``; ``weight="bold"`` is emulated with an outline (the font has no bold face)."""
    if weight == "bold":
        kw["path_effects"] = _bold(color)
    return ax.text(x, y, text, fontsize=fontsize, color=color, ha=ha, va=va, zorder=6, **kw)


def vector_cells(ax, x, y, values, cell=0.3, horizontal=True, cmap="RdBu_r", vmax=None, edge="#555555"):
    """A small vector drawn as a strip of coloured cells starting at centre ``(x, y)`` of the first cell."""
    values = np.asarray(values, dtype=float)
    vmax = vmax or (np.abs(values).max() or 1.0)
    cm = plt.get_cmap(cmap)
    for i, v in enumerate(values):
        cx, cy = (x + i * cell, y) if horizontal else (x, y - i * cell)
        ax.add_patch(
            plt.Rectangle(
                (cx - cell / 2, cy - cell / 2), cell, cell, fc=cm(0.5 + 0.5 * v / vmax), ec=edge, lw=0.8, zorder=3
            )
        )


def relative_luminance(rgba) -> float:
    """WCAG 2 relative luminance of an RGB(A) colour with components in [0, 1] (sRGB, linearised)."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# The luminance at which black and white text contrast equally: (1 + 0.05) / (L + 0.05) = (L + 0.05) / 0.05.
EQUAL_CONTRAST = (1.05 * 0.05) ** 0.5 - 0.05  # ≈ 0.179


def text_color_on(rgba) -> str:
    """ "white" on a cell darker than ``EQUAL_CONTRAST``, else "black": the text colour of higher contrast."""
    return "white" if relative_luminance(rgba) < EQUAL_CONTRAST else "black"


def heatmap(
    ax,
    M,
    xlabels=None,
    ylabels=None,
    cmap="Blues",
    vmin=None,
    vmax=None,
    fmt="{:.2f}",
    annotate=True,
    fontsize=10,
    xrotation=0,
):
    """A labelled matrix; cells annotated with their value (white text on dark cells, see ``text_color_on``)."""
    M = np.asarray(M, dtype=float)
    vmin = M.min() if vmin is None else vmin
    vmax = M.max() if vmax is None else vmax
    im = ax.imshow(M, cmap=cmap, vmin=vmin, vmax=vmax, aspect="equal")
    if xlabels is not None:
        ax.set_xticks(range(M.shape[1]), xlabels, rotation=xrotation)
    else:
        ax.set_xticks([])
    if ylabels is not None:
        ax.set_yticks(range(M.shape[0]), ylabels)
    else:
        ax.set_yticks([])
    ax.tick_params(length=0)
    if annotate:
        for (i, j), v in np.ndenumerate(M):
            color = text_color_on(im.cmap(im.norm(v)))  # the cell's own colour, so diverging maps work too
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize, color=color)
    for s in ax.spines.values():
        s.set_visible(False)
    return im


def panel_title(ax, text, fontsize=14, loc="left", **kw):
    ax.set_title(text, fontsize=fontsize, loc=loc, path_effects=_bold(width=0.6), **kw)


def suptitle(fig, text, fontsize=16, y=0.97):
    fig.suptitle(text, fontsize=fontsize, y=y, path_effects=_bold(width=0.7))


def seeded(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
