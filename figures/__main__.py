"""``python -m figures [--out DIR] [--only NAME ...]``: draw the figures, their thumbnails and the index page."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from figures import common, sec37, sec38, sec39, sec40, sec41, sec42  # noqa: F401  (registers the figures)
from figures.index import NAMES
from figures.readme import render_readme
from figures.thumbs import make_thumbnail


def build(out: Path, only: list[str] | None = None, verbose: bool = True) -> list[Path]:
    out = Path(out)
    (out / "thumbs").mkdir(parents=True, exist_ok=True)
    missing = [n for n in NAMES if n not in common.REGISTRY]
    if missing and not only:
        raise SystemExit(f"figures without a drawing function: {missing}")
    written = []
    for name in NAMES:
        if (only and not any(o in name for o in only)) or name not in common.REGISTRY:
            continue
        t0 = time.perf_counter()
        fig = common.REGISTRY[name]()
        common.save(fig, out / name)
        make_thumbnail(out / name, out / "thumbs" / name)
        written.append(out / name)
        if verbose:
            print(f"{time.perf_counter() - t0:6.2f} s  {name}")
    if not only:
        (out / "README.md").write_text(render_readme(), encoding="utf-8")
    if common.STANDINS_USED:
        print("local stand-ins used (reference function missing): " + ", ".join(sorted(set(common.STANDINS_USED))))
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m figures", description=__doc__)
    p.add_argument("--out", type=Path, default=common.FIGURES_DIR, help="output folder (default: figures/)")
    p.add_argument("--only", nargs="*", default=None, help="draw only figures whose name contains one of these")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    written = build(args.out, args.only, verbose=not args.quiet)
    print(f"{len(written)} figures in {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
