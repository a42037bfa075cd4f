"""Hessian eigenvalue densities by stochastic Lanczos quadrature (/density), one curve per group at
each probed step, with a slider over the steps."""

from __future__ import annotations

import math

import numpy as np

from plots.report.figures import Figure, Section, Table, axis, hover, nums, slider

GRID = 240
SIGMA = 0.01      # Gaussian width, as a fraction of the step's eigenvalue span (plots/spectrum.py)
FLOOR = 1e-7      # of the peak: the log axis would otherwise reach the Gaussians' 1e-300 tails
MAX_STEPS = 40    # slider positions (evenly spread over the probed steps; the CSV has them all)


def smoothed(nodes, weights, grid, sigma: float) -> np.ndarray:
    """sum_i w_i N(t; theta_i, sigma^2) / sum_i w_i on `grid` over the finite nodes of positive
    weight (the mean over the runs' starts, each of whose weights sums to 1)."""
    x = np.asarray(nodes, float).ravel()
    w = np.asarray(weights, float).ravel()
    ok = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w = x[ok], w[ok]
    if w.sum() <= 0:
        return np.zeros_like(grid)
    z = (grid[None, :] - x[:, None]) / sigma
    return (w[:, None] * np.exp(-0.5 * z * z)).sum(axis=0) / (w.sum() * sigma * math.sqrt(2 * math.pi))


def _row(r, step: int):
    steps = np.asarray(r.get("density/step"))
    i = np.flatnonzero(steps == step)
    return None if i.size == 0 else (r.get("density/nodes")[i[-1]], r.get("density/weights")[i[-1]])


def density(groups) -> Figure | None:
    have = [(g, [r for r in g.runs if r.has("density/step") and r.has("density/nodes")
                 and r.has("density/weights")]) for g in groups]
    have = [(g, rs) for g, rs in have if rs]
    if not have:
        return None
    table = Table(["run", "group", "step", "start", "i", "node", "weight"])
    for g, rs in have:
        for r in rs:
            nodes = np.asarray(r.get("density/nodes"), float)
            w = np.asarray(r.get("density/weights"), float)
            m = int(r.attr("density", "steps", nodes.shape[1]) or nodes.shape[1])
            n, c = nodes.shape
            table.add(run=r.name, group=g.label, step=np.repeat(r.get("density/step"), c),
                      start=np.tile(np.arange(c) // m, n), i=np.tile(np.arange(c) % m, n),
                      node=nodes, weight=w)
    steps = np.unique(np.concatenate([np.asarray(r.get("density/step")) for _, rs in have for r in rs]))
    if len(steps) > MAX_STEPS:
        steps = steps[np.unique(np.linspace(0, len(steps) - 1, MAX_STEPS).round().astype(int))]
    xl, yl = "Hessian eigenvalue (nats per unit parameter\u00b2)", "density (smoothed, log scale)"
    traces, per_step, peak = [], [], 0.0
    for step in steps.tolist():
        rows = [(g, [x for x in (_row(r, step) for r in rs) if x is not None]) for g, rs in have]
        finite = [np.asarray(n, float)[np.isfinite(n)] for _, xs in rows for n, _ in xs]
        finite = np.concatenate(finite) if finite else np.array([])
        idx = []
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            span = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
            grid = np.linspace(lo - 0.05 * span, hi + 0.05 * span, GRID)
            for g, xs in rows:
                if not xs:
                    continue
                phi = np.mean([smoothed(n, w, grid, SIGMA * span) for n, w in xs], axis=0)
                peak = max(peak, float(phi.max()))
                name = f"{g.label}" + (f" (mean of {len(xs)} runs)" if len(xs) > 1 else "")
                idx.append(len(traces))
                traces.append({"type": "scatter", "mode": "lines", "name": name, "x": nums(grid),
                               "y": phi, "line": {"color": g.color, "width": 2},
                               "visible": False, "hovertemplate": hover(f"{name}, step {step}", xl, yl)})
        per_step.append((step, idx))
    per_step = [(s, i) for s, i in per_step if i]
    if not traces or peak <= 0:
        return None
    floor = peak * FLOOR
    for t in traces:
        t["y"] = nums(np.maximum(t["y"], floor))
    slide, visible = slider(per_step, len(traces), "probed step: ")
    for t, v in zip(traces, visible):
        t["visible"] = v
    layout = {"xaxis": axis(xl), "yaxis": axis(yl, log=True,
                                                range=[math.log10(floor), math.log10(peak * 3)]),
              "sliders": [slide],
              "margin": {"l": 70, "r": 20, "t": 30, "b": 120}}
    return Figure("density-slq", "Hessian eigenvalue density (SLQ)", traces, layout, table,
                  "sum over Ritz values \u03b8 of weight w \u00b7 N(t; \u03b8, \u03c3\u00b2), \u03c3 = 1% of "
                  "the step's eigenvalue span, averaged over the runs' Lanczos starts and over a "
                  "group's runs (/density/nodes, /density/weights); values below 1e-7 of the peak "
                  f"are drawn at that floor. Slider: the probed step (at most {MAX_STEPS}, evenly spread). "
                  "CSV: the raw nodes and weights of every probe.",
                  height=520)


def section(groups) -> Section | None:
    fig = density(groups)
    if fig is None:
        return None
    return Section("density", "Hessian spectrum",
                   "Stochastic Lanczos quadrature (Ghorbani et al. 2019) at every probed step.", [fig])
