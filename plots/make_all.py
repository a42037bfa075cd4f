"""Every figure that a set of bnlandscape run files supports, as PNG and SVG.

    /usr/bin/python3 plots/make_all.py RUN.h5 [RUN.h5 ...] --out DIR
    /usr/bin/python3 -m plots.make_all RUN.h5 [RUN.h5 ...] --out DIR [--families training,ics]

What the files lack is skipped with a one-line notice (``skip <figure or family>: <why>``);
a figure that fails to draw is reported (``error <figure>: ...``) and the others are still
written (``--strict`` stops instead). Exit code 0 when figures were written and none failed,
1 otherwise, 2 when no run file could be read. See plots/README.md for the figures.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from plots import FAMILIES, activations, cli, ics, landscape, spectrum, style, surface, training, variants
from plots.runs import Run, load_runs

MODULES = {
    "training": training,
    "landscape": landscape,
    "spectrum": spectrum,
    "activations": activations,
    "ics": ics,
    "variants": variants,
    "surface": surface,
}
assert tuple(MODULES) == FAMILIES


def dedup(notice: Callable[[str], None]) -> Callable[[str], None]:
    """The same notice once only (grouping notes repeat in every family)."""
    seen = set()

    def out(msg):
        if msg not in seen:
            seen.add(msg)
            notice(msg)
    return out


def plan_all(runs: Sequence[Run], notice: Callable[[str], None],
             families: Sequence[str] = FAMILIES) -> list[tuple]:
    """(figure name, make_figure) of every family's figures for `runs`."""
    plan = []
    for fam in families:
        plan += MODULES[fam].plan(runs, notice, context=runs)
    return plan


@dataclass
class Result:
    written: list  # paths of the files written
    failed: int  # figures that failed to draw
    runs: int  # run files read


def make_all(paths: Sequence[str], out_dir: str, notice: Callable[[str], None] = print,
             families: Sequence[str] = FAMILIES, formats: Sequence[str] = style.FORMATS,
             strict: bool = False, report: Callable[[str], None] | None = None) -> Result:
    """Writes every supported figure of the run files `paths` into out_dir; notices (one line
    each) go to `notice`, the files written to `report`."""
    notice = dedup(notice)
    runs = load_runs(paths, notice)
    if not runs:
        notice("no readable run file")
        return Result([], 0, 0)
    plan = plan_all(runs, notice, families)
    written, failed = cli.render(plan, out_dir, notice, formats, strict, report)
    return Result(written, failed, len(runs))


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(__doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(FAMILIES),
                   help=f"comma-separated figure families (default: all: {','.join(FAMILIES)})")
    args = p.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in families if f not in MODULES]
    if bad:
        p.error(f"unknown family {bad[0]!r} (known: {', '.join(FAMILIES)})")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]

    def notice(msg):
        print(msg, flush=True)

    res = make_all(args.runs, args.out, notice, families, formats, args.strict,
                   None if args.quiet else notice)
    if res.runs == 0:
        return 2
    n = len(res.written) // max(1, len(formats))
    print(f"{n} figures written to {args.out}" + (f", {res.failed} failed" if res.failed else ""),
          flush=True)
    return 1 if res.failed or not res.written else 0


if __name__ == "__main__":
    sys.exit(main())
