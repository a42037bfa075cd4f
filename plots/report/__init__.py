"""An interactive, self-contained HTML report of bnlandscape run files (issue 27).

One HTML page per study: a header (what was compared, the runs' revisions and configurations,
the ``bnlandscape compare`` table), then one section per kind of data the runs hold (training
curves, Santurkar et al.'s Figure 4 panels, curvature, SLQ densities, loss surfaces, activations,
internal covariate shift). Figures are Plotly figures; plotly.js (Debian's python3-plotly) is
embedded once, so the page opens without a network. Every figure links its data as CSV.

Command line (from the repository root, Debian's Python)::

    /usr/bin/python3 -m plots.report RUNS_OR_DIRS... --out report.html [--watch SECONDS]

Depends on h5py, numpy and plotly's JavaScript only (no other ``plots`` module). Importing the
package has no side effects; :func:`main` is the command line.
"""

from __future__ import annotations


def main(argv=None) -> int:
    """The command line (``python3 -m plots.report --help``); returns the exit code."""
    from plots.report.cli import main as _main
    return _main(argv)
