"""Figures of the report: Plotly figure dictionaries, their data as CSV, and how both are thinned.

A :class:`Figure` is what one plot container of the page shows: Plotly traces and layout (plain
dictionaries, rendered by plotly.js in the page), a title, a note saying what is drawn (and what
was left out), and a :class:`Table` of the data behind it, linked as a CSV ``data:`` URI.

Sizes (issue 27: the main job's report under 10 MB, a 36-run study under 30 MB, with plotly.js
itself 8.7 MB): a per-step series longer than :data:`MAX_POINTS` is drawn at every k-th step (the
last step always kept), k = ceil(n / MAX_POINTS); numbers drawn carry 6 significant digits. A CSV
holds the full data at full precision (Python's shortest round-trip repr) while its text fits its
share of :data:`CSV_BUDGET` (the page's CSV text, shared among the figures by
:func:`csv_limits`) and at most :data:`CSV_LIMIT` bytes; above that it holds every k-th row of
each series and its note says so.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS = 2000
CSV_LIMIT = 4_000_000
CSV_BUDGET = 10_000_000
DIGITS = 6
# Colours of layers (blocks) within one figure; groups are told apart by line style there.
PALETTE_BLOCKS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
                  "#8c8c8c", "#ccb974", "#64b5cd")


def nums(a, digits: int = DIGITS) -> list:
    """A float array as a JSON-ready list: ``digits`` significant digits, None where not finite
    (Plotly leaves a gap)."""
    a = np.asarray(a, dtype=float).ravel()
    fmt = f"%.{digits}g"
    return [float(fmt % v) if math.isfinite(v) else None for v in a.tolist()]


def ints(a) -> list:
    """An integer array (steps, epochs) as a list of Python ints."""
    return [int(v) for v in np.asarray(a).ravel().tolist()]


def stride(n: int, max_points: int = MAX_POINTS) -> int:
    """k such that every k-th of n points is at most max_points points."""
    return max(1, math.ceil(n / max_points))


def thin_index(n: int, k: int) -> np.ndarray:
    """Indices 0, k, 2k, ... and n - 1 (the last point always drawn)."""
    idx = np.arange(0, n, k)
    if n and idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def hover(name: str, xlabel: str, ylabel: str, yfmt: str = ".5g") -> str:
    """Plotly hover template: the trace's name, x and y with their axis names."""
    return f"{name}<br>{xlabel}: %{{x}}<br>{ylabel}: %{{y:{yfmt}}}<extra></extra>"


def line(x, y, name: str, color: str, xlabel: str, ylabel: str, width: float = 2.0,
         dash: str | None = None, legendgroup: str | None = None, showlegend: bool = True,
         opacity: float = 1.0, mode: str = "lines", integer_x: bool = True) -> dict:
    """A scatter trace (a line, or markers with mode='markers' / 'lines+markers')."""
    t = {"type": "scatter", "mode": mode, "name": name, "x": ints(x) if integer_x else nums(x),
         "y": nums(y), "line": {"color": color, "width": width},
         "marker": {"color": color, "size": 5}, "hovertemplate": hover(name, xlabel, ylabel),
         "showlegend": showlegend, "opacity": opacity}
    if dash:
        t["line"]["dash"] = dash
    if legendgroup:
        t["legendgroup"] = legendgroup
    return t


def axis(title: str, log: bool = False, **kw) -> dict:
    a = {"title": {"text": title}, "zeroline": False, "showline": True, "mirror": True,
         "ticks": "outside", "gridcolor": "#e5e5e5"}
    if log:
        a["type"] = "log"
    a.update(kw)
    return a


def rgba(color: str, alpha: float) -> str:
    """'#rrggbb' with an alpha channel, for bands."""
    c = color.lstrip("#")
    return f"rgba({int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha})"


def slider(per_step: list, ntraces: int, prefix: str) -> tuple:
    """A Plotly slider over steps: ``per_step`` lists (label, trace indices shown at it).

    Returns (slider dict, visible flags of the active position, the last one).
    """
    steps = []
    for label, idx in per_step:
        vis = [False] * ntraces
        for i in idx:
            vis[i] = True
        steps.append({"method": "restyle", "label": str(label), "args": [{"visible": vis}]})
    active = len(per_step) - 1
    return ({"active": active, "steps": steps, "pad": {"t": 50},
             "currentvalue": {"prefix": prefix}}, steps[active]["args"][0]["visible"])


def _csv_cell(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return repr(f) if math.isfinite(f) else "nan"
    return str(v)


def _csv_column(arr: np.ndarray) -> list:
    """The cells of a numeric column: floats as their shortest round-trip repr, non-finite as
    ``nan`` (as ``bnlandscape export``), integers as such."""
    if arr.dtype.kind == "f":
        cells = list(map(repr, arr.astype(float).tolist()))
        if not np.isfinite(arr).all():
            for i in np.flatnonzero(~np.isfinite(arr)).tolist():
                cells[i] = "nan"
        return cells
    if arr.dtype.kind in "iub":
        return list(map(str, arr.astype(np.int64).tolist()))
    return [_csv_cell(x) for x in arr.tolist()]


@dataclass
class Table:
    """The data of a figure in long form: blocks of rows under one header.

    Each block is a dict column -> array (one value per row) or scalar (repeated on every row,
    e.g. the run's name); every block has all the columns.
    """
    columns: list
    blocks: list = field(default_factory=list)

    def add(self, **cols) -> None:
        missing = [c for c in self.columns if c not in cols]
        if missing:
            raise ValueError(f"table block lacks columns {missing}")
        self.blocks.append(cols)

    @staticmethod
    def _nrows(b: dict) -> int:
        return max((len(np.asarray(v).ravel()) for v in b.values()
                    if not np.isscalar(v) and not isinstance(v, str)), default=1)

    def _rows(self, b: dict, idx: np.ndarray) -> list:
        cols = []
        for c in self.columns:
            v = b[c]
            if isinstance(v, str) or np.isscalar(v):
                cols.append([_csv_cell(v)] * len(idx))
            else:
                cols.append(_csv_column(np.asarray(v).ravel()[idx]))
        return [",".join(row) for row in zip(*cols)]

    def _text(self, k: int = 1) -> str:
        out = [",".join(self.columns)]
        for b in self.blocks:
            n = self._nrows(b)
            out.extend(self._rows(b, thin_index(n, k) if k > 1 else np.arange(n)))
        return "\n".join(out) + "\n"

    def full_size(self) -> int:
        """Length of the complete CSV text: exact for blocks of up to 400 rows, else estimated
        from 200 rows spread over the block (so that a CSV that will be thinned is not first
        written out whole)."""
        if getattr(self, "_size", None) is None:
            size = len(",".join(self.columns)) + 1
            for b in self.blocks:
                n = self._nrows(b)
                sample = np.arange(n) if n <= 400 else np.unique(np.linspace(0, n - 1, 200).astype(int))
                rows = self._rows(b, sample)
                size += round(sum(len(r) + 1 for r in rows) * n / max(len(sample), 1))
            self._size = size
        return self._size

    def csv(self, limit: int = CSV_LIMIT) -> tuple:
        """(text, k): the CSV text, every k-th row of each block (k = 1: all of it), at most
        about ``limit`` characters."""
        k = max(1, math.ceil(self.full_size() / max(limit, 1)))
        text = self._text(k)
        while len(text) > limit * 1.05 and k < 10 ** 6:
            k = max(k + 1, math.ceil(k * len(text) / max(limit, 1)))
            text = self._text(k)
        return text, k


def csv_limits(sizes, budget: int = CSV_BUDGET, cap: int = CSV_LIMIT) -> list:
    """Per-figure CSV limits that sum to at most ``budget``: the small CSVs whole, the rest of
    the budget shared equally among the larger ones (each at most ``cap``)."""
    limits = [0] * len(sizes)
    remaining, left = budget, len(sizes)
    for i in sorted(range(len(sizes)), key=lambda j: sizes[j]):
        limits[i] = int(min(sizes[i], cap, remaining / left))
        remaining -= limits[i]
        left -= 1
    return limits


def data_uri(text: str) -> str:
    """A CSV text as a ``data:text/csv`` URI (base64 of its UTF-8 bytes)."""
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode()).decode("ascii")


@dataclass
class Figure:
    """One plot of the page: Plotly traces and layout, a title and note, and its data table."""
    fid: str
    title: str
    traces: list
    layout: dict
    table: Table | None = None
    note: str = ""
    height: int = 420
    frames: list | None = None

    def plotly_json(self) -> str:
        """{data, layout} as JSON, safe inside a <script> element."""
        layout = {"margin": {"l": 70, "r": 20, "t": 30, "b": 60}, "height": self.height,
                  "hovermode": "closest", "plot_bgcolor": "white",
                  "legend": {"font": {"size": 11}}}
        layout.update(self.layout)
        doc = {"data": self.traces, "layout": layout}
        return json.dumps(doc, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")

    def csv(self, limit: int = CSV_LIMIT) -> tuple:
        """(data URI, note) of the CSV link (None without a table); the note says when the CSV
        holds only every k-th row."""
        if self.table is None:
            return None, ""
        text, k = self.table.csv(limit)
        note = "" if k == 1 else (f"The CSV holds one row in {k} of each series, to keep the "
                                  f"page small (the full data: bnlandscape export RUN --format csv).")
        return data_uri(text), note


@dataclass
class Section:
    """A titled part of the page: an anchor id, an introduction and its figures."""
    sid: str
    title: str
    intro: str
    figures: list
