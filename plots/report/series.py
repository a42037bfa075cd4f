"""Series of runs drawn per group: each seed as a thin line, the group's mean as a thick one."""

from __future__ import annotations

import warnings

import numpy as np

from plots.report.figures import line, stride, thin_index


def aligned_mean(pairs) -> tuple:
    """(x, mean) over the (x, y) pairs aligned on x (the union of their x); a run without a
    finite value at some x is left out there."""
    xs = np.unique(np.concatenate([np.asarray(x) for x, _ in pairs])) if pairs else np.array([])
    stack = np.full((len(pairs), len(xs)), np.nan)
    for i, (x, y) in enumerate(pairs):
        stack[i, np.searchsorted(xs, np.asarray(x))] = np.asarray(y, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return xs, np.nanmean(stack, axis=0)


def group_traces(groups, get, xlabel: str, ylabel: str, table=None, qty: str = "value",
                 decimate: bool = False) -> tuple:
    """Traces of every group: a thin line per run and, for groups of two or more runs, the
    thick mean over them (one run: the run itself, thick). ``get(run)`` returns (x, y) or None.

    Adds every run's full series to ``table`` (columns run, group, x, qty) when given.
    Returns (traces, k): k > 1 when per-step series were drawn at every k-th point.
    """
    traces, kmax = [], 1
    for g in groups:
        pairs = [(r, get(r)) for r in g.runs]
        pairs = [(r, p) for r, p in pairs if p is not None and len(p[0])]
        if not pairs:
            continue
        for r, (x, y) in pairs:
            if table is not None:
                table.add(run=r.name, group=g.label, **{table.columns[2]: x, qty: y})
        many = len(pairs) > 1
        for r, (x, y) in pairs:
            k = stride(len(x)) if decimate else 1
            kmax = max(kmax, k)
            idx = thin_index(len(x), k)
            traces.append(line(np.asarray(x)[idx], np.asarray(y)[idx], r.legend, g.color,
                               xlabel, ylabel, width=0.8 if many else 2.2,
                               opacity=0.45 if many else 1.0, legendgroup=g.label,
                               showlegend=True))
        if many:
            x, m = aligned_mean([p for _, p in pairs])
            k = stride(len(x)) if decimate else 1
            idx = thin_index(len(x), k)
            traces.append(line(x[idx], m[idx], f"{g.label}: mean of {len(pairs)} runs", g.color,
                               xlabel, ylabel, width=3.0, legendgroup=g.label))
    return traces, kmax


def thinning_note(k: int) -> str:
    """The figure note's sentence on thinning (empty when every point is drawn)."""
    return (f" Drawn at one step in {k} (and the last) to keep the page small; hover values "
            f"are the run file's at those steps." if k > 1 else "")
