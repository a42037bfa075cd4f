"""Every figure that a set of bnlandscape run files supports, as PNG and SVG.

    /usr/bin/python3 plots/make_all.py RUN.h5 [RUN.h5 ...] --out DIR
    /usr/bin/python3 -m plots.make_all RUN.h5 [RUN.h5 ...] --out DIR [--families training,ics]

The same as ``python3 -m plots`` (plots.cli), kept for scripts that call it by this name; from
Python, ``make_all(paths, out_dir)`` (plots.registry). See plots/README.md for the figures.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from plots.cli import main  # noqa: E402
from plots.registry import FAMILIES, MODULES, Result, make_all, plan_all  # noqa: E402

__all__ = ["FAMILIES", "MODULES", "Result", "main", "make_all", "plan_all"]

if __name__ == "__main__":
    sys.exit(main())
