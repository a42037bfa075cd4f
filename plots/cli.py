"""The command-line front shared by make_all and the per-family modules.

A family module has ``plan(runs, notice) -> [(name, make_figure), ...]``: the figures its runs
support, each drawn only when ``make_figure()`` is called (it may raise SkipFigure). Families
say what they cannot draw through ``notice`` (one line each).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable, Sequence

from plots import style
from plots.runs import SkipFigure


def render(plan: Sequence[tuple], out_dir: str, notice: Callable[[str], None],
           formats: Sequence[str] = style.FORMATS, strict: bool = False,
           report: Callable[[str], None] | None = None) -> tuple[list[str], int]:
    """Draws and writes every figure of `plan`; returns (paths written, figures that failed)."""
    written, failed = [], 0
    for name, make in plan:
        try:
            fig = make()
        except SkipFigure as e:
            notice(f"skip {name}: {e}")
            continue
        except Exception as e:  # one broken figure must not stop the others
            if strict:
                raise
            failed += 1
            notice(f"error {name}: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
            continue
        paths = style.save(fig, out_dir, name, formats)
        written += paths
        if report:
            report(f"wrote {' '.join(paths)}")
    return written, failed


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="bnlandscape run files")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the figures")
    p.add_argument("--formats", default=",".join(style.FORMATS),
                   help="comma-separated file formats (default: png,svg)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first figure that fails to draw (default: report and go on)")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    return p


def run_families(families: Sequence, argv: Sequence[str] | None, description: str) -> int:
    """The front of one family module: parses argv, draws the family's figures (as make_all
    does). Exit code: 0 when figures were written and none failed, 1 when a figure failed or
    none could be drawn, 2 when no run file could be read."""
    from plots import make_all
    names = [f.FAMILY for f in families]
    return make_all.main(list(sys.argv[1:] if argv is None else argv)
                         + ["--families", ",".join(names)])
