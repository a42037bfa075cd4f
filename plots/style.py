"""Drawing helpers shared by the figure families: style, seed bands, legends, saving PNG and SVG.

Figures are plain ``matplotlib.figure.Figure`` objects, not pyplot's: nothing here selects a
backend or registers figures globally, and the package's look (RC) applies only inside the
functions that draw (decorated with :func:`styled`) and in :func:`save`, never to the caller's
matplotlib settings.
"""

from __future__ import annotations

import functools
import hashlib
import os
import textwrap
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from plots.grouping import Group, Series

BAND_ALPHA = 0.25
FORMATS = ("png", "svg")
DPI = 110

RC = {
    "figure.dpi": DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": "small",
    "axes.titlesize": "medium",
    "svg.hashsalt": "bnlandscape",  # reproducible SVG ids
}


class SkipFigure(Exception):
    """A figure the given run files cannot support; the message says why (one line)."""


def styled(fn):
    """Draws `fn`'s figure with the package's matplotlib settings (RC), restored afterwards."""
    @functools.wraps(fn)
    def draw(*args, **kw):
        with matplotlib.rc_context(RC):
            return fn(*args, **kw)
    return draw


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 5.0, height: float = 3.6,
               sharex: bool = False, sharey=False) -> tuple[Figure, np.ndarray]:
    """A figure of nrows x ncols panels of width x height inches each; axes as a 2-D array."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width * ncols, height * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, axes


def draw_series(ax, s: Series | None, group: Group, label: str | None = None,
                linestyle: str | None = None, marker: str | None = None, alpha: float = 1.0,
                linewidth: float = 1.4):
    """Mean line of a seed average and, when several seeds, its +-1 sd band.

    The line's gid is ``mean:<label>`` and the band's ``band:<label>`` (for tests and for
    anyone post-processing the SVG). Returns (line, band or None).
    """
    if s is None:
        return None, None
    label = group.legend if label is None else label
    ls = group.linestyle if linestyle is None else linestyle
    if marker is None and len(s.x) <= 3:
        marker = "o"
    (line,) = ax.plot(s.x, s.mean, color=group.color, linestyle=ls, marker=marker,
                      markersize=4, label=label, alpha=alpha, linewidth=linewidth)
    line.set_gid(f"mean:{label}")
    band = None
    if s.nruns > 1:
        band = ax.fill_between(s.x, s.mean - s.std, s.mean + s.std, color=group.color,
                               alpha=BAND_ALPHA * alpha, linewidth=0)
        band.set_gid(f"band:{label}")
    return line, band


def draw_range(ax, x, lo, hi, group: Group, label: str, alpha: float = 0.35):
    """A min..max band (e.g. over step sizes), edged by thin lines of the group's colour."""
    band = ax.fill_between(x, lo, hi, color=group.color, alpha=alpha, linewidth=0, label=label)
    band.set_gid(f"range:{label}")
    ax.plot(x, lo, color=group.color, linewidth=0.7, linestyle=group.linestyle)
    ax.plot(x, hi, color=group.color, linewidth=0.7, linestyle=group.linestyle)
    return band


def legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(**kw)


def finish(fig: Figure, title: str) -> Figure:
    """Figure title (wrapped to the figure's width) and a tight layout."""
    width_chars = max(30, int(fig.get_figwidth() * 10))
    fig.suptitle("\n".join(textwrap.fill(line, width_chars) for line in title.split("\n")))
    fig.tight_layout()
    return fig


def message_panel(ax, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize="small",
            color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


MAX_NAME = 80  # characters of a figure's file name, extension aside


def short_name(name: str, limit: int = MAX_NAME) -> str:
    """`name` when at most `limit` characters; else its first characters and a hash of the whole
    (12 hex digits), `limit` characters in all: names built from many runs' differing settings
    stay readable in a listing, distinct and stable."""
    if len(name) <= limit:
        return name
    return name[:limit - 13].rstrip("-_.") + "-" + hashlib.sha1(name.encode()).hexdigest()[:12]


def save(fig: Figure, out_dir: str, name: str, formats: Sequence[str] = FORMATS) -> list[str]:
    """Writes out_dir/name.<fmt> for each format (name shortened by short_name) and closes the
    figure; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    name = short_name(name)
    paths = []
    with matplotlib.rc_context(RC):
        for fmt in formats:
            p = os.path.join(out_dir, f"{name}.{fmt}")
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(p, format=fmt, dpi=DPI, metadata=meta)
            paths.append(p)
    close(fig)
    return paths


def close(fig: Figure) -> None:
    """Done with `fig`. Nothing to release: figures are not registered with pyplot, so they go
    when their last reference does (kept so that callers need not know)."""


def maybe_log(ax, values, ratio: float = 50.0) -> None:
    """Logarithmic y axis when the finite values are all positive and span more than `ratio`."""
    parts = [np.asarray(a, float).ravel() for a in values if a is not None]
    v = np.concatenate(parts) if parts else np.array([])
    v = v[np.isfinite(v)]
    if v.size and v.min() > 0 and v.max() / v.min() > ratio:
        ax.set_yscale("log")
