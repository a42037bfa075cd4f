"""Command line of the report: build the page from run files and directories, once or while the
runs are being written (``--watch SECONDS``).

Exit codes: 0 when the page was written, 2 when no input could be read as a run file (no page is
written then, except in watch mode, which waits for runs to appear).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from plots.report import density, internals, probes, surface, training
from plots.report.header import header_html, run_compare
from plots.report.page import page, plotly_js
from plots.report.reading import FINAL_STATUSES, compared_what, expand_inputs, group_runs, load


@dataclass
class Built:
    """A generated page and what went into it."""
    html: str
    runs: list
    errors: list
    sections: list

    @property
    def done(self) -> bool:
        """Every input read and every run finished (watch mode stops then)."""
        return bool(self.runs) and not self.errors and all(r.status in FINAL_STATUSES for r in self.runs)


def sections_of(runs, groups) -> list:
    """The sections the runs have data for, in page order."""
    out = [training.section(groups), probes.landscape_section(groups),
           probes.curvature_section(groups), density.section(groups), surface.section(runs),
           internals.activations_section(groups), internals.ics_section(groups)]
    return [s for s in out if s is not None]


def build(inputs, group_by: str = "bn", refresh: int | None = None, live: str = "",
          compare: bool = True, js: str | None = None) -> Built:
    """Reads the inputs (files and directories of ``*.h5``) and builds the page."""
    runs, errors = load(expand_inputs(inputs))
    groups = group_runs(runs)
    doc, msg = (run_compare([r.path for r in runs if r.trained], group_by) if compare
                else (None, "No compare table (not requested)."))
    title = "bnlandscape report: " + compared_what(groups)
    secs = sections_of(runs, groups)
    head = header_html(title, runs, groups, errors, doc, msg, live)
    return Built(page(title, head, secs, refresh, js), runs, errors, secs)


def write_atomic(path: str, text: str) -> None:
    """Writes text to path through a temporary file and a rename, so that a browser reloading
    the page never reads half of it."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _summary(built: Built, out: str, seconds: float) -> str:
    figs = sum(len(s.figures) for s in built.sections)
    return (f"report: {out} ({os.path.getsize(out) / 1e6:.1f} MB, {len(built.runs)} run files, "
            f"{len(built.sections)} sections, {figs} figures, {seconds:.1f} s)")


def watch(inputs, out: str, seconds: float, group_by: str = "bn", max_rounds: int | None = None,
          log=print) -> int:
    """Regenerates the page every ``seconds`` (the page reloads itself as often) until every
    run has finished (then writes a last page without the reload) or ``max_rounds`` pages."""
    js = plotly_js()
    rounds = 0
    while True:
        t0 = time.monotonic()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        built = build(inputs, group_by, refresh=max(1, round(seconds)), js=js,
                      live=f"Live: regenerated at {stamp}, every {seconds:g} s while the runs "
                           f"are written; this page reloads itself.")
        for p, why in built.errors:
            log(f"report: cannot read {p} ({why}); retrying in {seconds:g} s")
        if built.done:
            built = build(inputs, group_by, js=js)
            write_atomic(out, built.html)
            log(_summary(built, out, time.monotonic() - t0) + "; every run finished")
            return 0
        write_atomic(out, built.html)
        log(_summary(built, out, time.monotonic() - t0))
        rounds += 1
        if max_rounds is not None and rounds >= max_rounds:
            return 0
        time.sleep(max(0.0, seconds - (time.monotonic() - t0)))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m plots report",
        description="One self-contained interactive HTML page (Plotly, no network needed) of "
                    "bnlandscape run files: header with the compare table, training curves, "
                    "Figure 4 panels, curvature, SLQ densities, surfaces, activations and ICS "
                    "(each section only when the runs have its data).")
    p.add_argument("inputs", nargs="+", metavar="RUNS_OR_DIRS",
                   help="run files (HDF5), or directories whose *.h5 files are read")
    p.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--watch", type=float, metavar="SECONDS", default=None,
                   help="regenerate the page every SECONDS while the runs are written (the page "
                        "reloads itself); stops when every run has finished, or on Ctrl-C")
    p.add_argument("--group-by", default="bn",
                   help="config key of the compare table's groups (default bn)")
    p.add_argument("--no-compare", action="store_true",
                   help="leave out the compare table (no bnlandscape binary is run)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.watch is not None:
        if args.watch <= 0:
            print("report: --watch needs a positive number of seconds", file=sys.stderr)
            return 2
        try:
            return watch(args.inputs, args.out, args.watch, args.group_by)
        except KeyboardInterrupt:
            print(f"report: stopped; {args.out} holds the last page")
            return 0
    t0 = time.monotonic()
    built = build(args.inputs, args.group_by, compare=not args.no_compare)
    for p, why in built.errors:
        print(f"report: skip {p}: {why}", file=sys.stderr)
    if not built.runs:
        print("report: no readable run file; nothing written", file=sys.stderr)
        return 2
    write_atomic(args.out, built.html)
    print(_summary(built, args.out, time.monotonic() - t0))
    return 0
