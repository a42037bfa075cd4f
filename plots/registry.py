"""The figure families and the drawing of a plan: every figure a set of run files supports.

A family module has ``FAMILY`` (its name) and ``plan(runs, notice, context) -> [(name,
make_figure), ...]``: the figures its runs support, each drawn only when ``make_figure()`` is
called (it may raise SkipFigure). Families say what they cannot draw through ``notice`` (one
line each). Above the families; below the command line (plots.cli).
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, Sequence

from plots import activations, curvature, ics, landscape, spectrum, style, surface, training, variants
from plots.runs import Run, load_runs
from plots.style import SkipFigure

MODULES = {m.FAMILY: m for m in (training, landscape, spectrum, curvature, activations, ics, variants,
                                 surface)}
FAMILIES = tuple(MODULES)


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
        try:
            plan += MODULES[fam].plan(runs, notice, context=runs)
        except Exception as e:  # one family that cannot plan must not stop the others
            notice(f"error {fam}: {one_line(e)}")
    return plan


def one_line(e: BaseException) -> str:
    """``Type: message`` on one line (a multi-line message joined), for the notices."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


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
            # One line, as every other notice; BNL_PLOTS_TRACEBACK=1 adds the traceback.
            notice(f"error {name}: {one_line(e)}")
            if os.environ.get("BNL_PLOTS_TRACEBACK"):
                traceback.print_exc(file=sys.stderr)
            continue
        try:
            paths = style.save(fig, out_dir, name, formats)
        except Exception as e:
            if strict:
                raise
            failed += 1
            notice(f"error {name}: {one_line(e)}")
            continue
        written += paths
        if report:
            report(f"wrote {' '.join(paths)}")
    return written, failed


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
    written, failed = render(plan, out_dir, notice, formats, strict, report)
    return Result(written, failed, len(runs))
