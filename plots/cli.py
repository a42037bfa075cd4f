"""The command line: ``python3 -m plots RUN.h5 ... --out DIR`` (also plots/make_all.py and
``python3 -m plots.<family>``), the only place that changes the process's settings.

Every figure that a set of bnlandscape run files supports, as PNG and SVG. What the files lack
is skipped with a one-line notice (``skip <figure or family>: <why>``); a figure that fails to
draw is reported (``error <figure>: ...``) and the others are still written (``--strict`` stops
instead). Exit code 0 when figures were written and none failed, 1 otherwise, 2 when no run file
could be read. See plots/README.md for the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

DESCRIPTION = "Every figure that a set of bnlandscape run files supports, as PNG and SVG."


def configure_process() -> None:
    """What a reader run from the command line needs: files readable while a run writes them
    (older writers locked them; never set this for a writer) and drawing without a display."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    import matplotlib
    matplotlib.use("Agg")


def parser(families: Sequence[str], formats: Sequence[str],
           prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="bnlandscape run files")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the figures")
    p.add_argument("--formats", default=",".join(formats),
                   help="comma-separated file formats (default: png,svg)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first figure that fails to draw (default: report and go on)")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    p.add_argument("--families", default=",".join(families),
                   help=f"comma-separated figure families (default: all: {','.join(families)})")
    return p


def main(argv: Sequence[str] | None = None, families: Sequence[str] | None = None,
         prog: str | None = None) -> int:
    """Parses argv (default: sys.argv[1:]) and draws the figures. `families` (the front of one
    family, ``python3 -m plots.<family>``) stands for ``--families`` given last; `prog` names
    the command in messages (default: the script's file name)."""
    configure_process()
    from plots import registry, style  # after configure_process: h5py and matplotlib load here

    argv = list(sys.argv[1:] if argv is None else argv)
    if families is not None:
        argv += ["--families", ",".join(families)]
    p = parser(registry.FAMILIES, style.FORMATS, prog)
    args = p.parse_args(argv)
    chosen = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in chosen if f not in registry.MODULES]
    if bad:
        p.error(f"unknown family {bad[0]!r} (known: {', '.join(registry.FAMILIES)})")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]

    def notice(msg):
        print(msg, flush=True)

    res = registry.make_all(args.runs, args.out, notice, chosen, formats, args.strict,
                            None if args.quiet else notice)
    if res.runs == 0:
        return 2
    n = len(res.written) // max(1, len(formats))
    print(f"{n} figures written to {args.out}" + (f", {res.failed} failed" if res.failed else ""),
          flush=True)
    return 1 if res.failed or not res.written else 0
