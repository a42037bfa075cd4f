"""Loss surfaces around a checkpoint (/surface, Li et al. 2018): per 2-D surface file an
interactive 3-D surface and a contour map (the training trajectory on it when the run it was
made from kept several checkpoints); the 1-D surfaces as lines in one figure."""

from __future__ import annotations

import numpy as np

from plots.report.figures import PALETTE_BLOCKS, Figure, Section, Table, axis, line, nums
from plots.report.reading import read_trajectory

ZL = "loss (nats)"
HOVER_GRID = "\u03b1 (x): %{y:.4g}<br>\u03b2 (y): %{x:.4g}<br>loss: %{z:.5g} nats<extra></extra>"


def _describe(r) -> str:
    a = r.dattrs.get("surface", {})
    frm = a.get("directions_from") or ""
    return (f"{a.get('directions', '?')} directions" + (f" from {frm}" if frm else "") +
            f", {a.get('surface_set', '?')} set, {a.get('surface_size', '?')} examples, "
            f"BN mode {a.get('probe_bn_mode', '?')}; centre {r.attrs.get('checkpoint_group', '?')} "
            f"of {r.attrs.get('checkpoint_file', '?')}")


def _grid(r):
    return np.asarray(r.get("surface/alpha"), float), np.asarray(r.get("surface/beta"), float), \
        np.asarray(r.get("surface/loss"), float)


def _matrix(z) -> list:
    return [nums(row) for row in z]


def _colour_cap(z) -> float | None:
    f = z[np.isfinite(z)]
    return float(np.percentile(f, 95)) if f.size else None


def _table2d(r, alpha, beta, loss) -> Table:
    t = Table(["file", "alpha", "beta", "loss", "acc"])
    acc = np.asarray(r.get("surface/acc"), float) if r.has("surface/acc") else np.full(loss.shape, np.nan)
    t.add(file=r.name, alpha=np.repeat(alpha, len(beta)), beta=np.tile(beta, len(alpha)),
          loss=loss, acc=acc)
    return t


def surface3d(r, n: int, traj) -> Figure:
    alpha, beta, loss = _grid(r)
    cap = _colour_cap(loss)
    tr = [{"type": "surface", "x": nums(beta), "y": nums(alpha), "z": _matrix(loss),
           "colorscale": "Viridis", "cmax": cap, "colorbar": {"title": {"text": ZL}},
           "hovertemplate": HOVER_GRID}]
    if traj is not None:
        steps, a, b = traj
        ia = np.clip(np.searchsorted(alpha, a), 0, len(alpha) - 1)
        ib = np.clip(np.searchsorted(beta, b), 0, len(beta) - 1)
        tr.append({"type": "scatter3d", "mode": "lines+markers", "name": "trajectory",
                   "x": nums(b), "y": nums(a), "z": nums(loss[ia, ib]), "text": [f"step {s}" for s in steps],
                   "line": {"color": "#d62728", "width": 4}, "marker": {"size": 3, "color": "#d62728"},
                   "hovertemplate": "%{text}<br>\u03b1: %{y:.4g}<br>\u03b2: %{x:.4g}<extra></extra>"})
    scene = {"xaxis": {"title": {"text": "\u03b2 (direction y)"}},
             "yaxis": {"title": {"text": "\u03b1 (direction x)"}},
             "zaxis": {"title": {"text": ZL}}}
    return Figure(f"surface-3d-{n}", f"Loss surface (3-D): {r.name}", tr,
                  {"scene": scene, "margin": {"l": 0, "r": 0, "t": 30, "b": 0}},
                  _table2d(r, alpha, beta, loss),
                  f"L(\u03b8 + \u03b1x + \u03b2y) over the grid (/surface/loss); {_describe(r)}. "
                  "Drag to turn it; colour capped at the 95th percentile. NaN cells (not computed "
                  "yet) are holes.", height=560)


def contour(r, n: int, traj) -> Figure:
    alpha, beta, loss = _grid(r)
    tr = [{"type": "contour", "x": nums(beta), "y": nums(alpha), "z": _matrix(loss),
           "colorscale": "Viridis", "zmax": _colour_cap(loss), "ncontours": 30,
           "colorbar": {"title": {"text": ZL}},
           "hovertemplate": HOVER_GRID},
          {"type": "scatter", "mode": "markers", "name": "checkpoint (\u03b1 = \u03b2 = 0)",
           "x": [0], "y": [0], "marker": {"symbol": "x", "size": 10, "color": "white",
                                          "line": {"color": "black", "width": 1}},
           "hovertemplate": "checkpoint<extra></extra>"}]
    note = ""
    if traj is not None:
        steps, a, b = traj
        tr.append({"type": "scatter", "mode": "lines+markers", "name": "trajectory",
                   "x": nums(b), "y": nums(a), "text": [f"step {s}" for s in steps],
                   "line": {"color": "#d62728", "width": 2}, "marker": {"size": 5},
                   "hovertemplate": "%{text}<br>\u03b1: %{y:.4g}<br>\u03b2: %{x:.4g}<extra></extra>"})
        note = (f" Red: the {len(steps)} checkpoints of the run, projected onto (x, y) by least "
                "squares (random directions capture little of the path).")
    return Figure(f"surface-contour-{n}", f"Loss contours: {r.name}", tr,
                  {"xaxis": axis("\u03b2 (coefficient of direction y)"),
                   "yaxis": axis("\u03b1 (coefficient of direction x)"), "showlegend": True,
                   "legend": {"x": 0, "y": -0.25, "orientation": "h"}},
                  _table2d(r, alpha, beta, loss),
                  f"Loss contours, checkpoint at the origin; {_describe(r)}." + note, height=520)


def lines1d(runs) -> Figure | None:
    xl = "\u03b1 (coefficient of direction x)"
    table = Table(["file", "alpha", "loss", "acc"])
    traces = []
    for i, r in enumerate(runs):
        alpha = np.asarray(r.get("surface/alpha"), float)
        loss = np.asarray(r.get("surface/loss"), float)
        acc = np.asarray(r.get("surface/acc"), float) if r.has("surface/acc") else np.full(loss.shape, np.nan)
        table.add(file=r.name, alpha=alpha, loss=loss, acc=acc)
        name = f"{r.name} ({r.dattrs.get('surface', {}).get('directions', '?')})"
        traces.append(line(alpha, loss, name, PALETTE_BLOCKS[i % len(PALETTE_BLOCKS)], xl, ZL,
                           integer_x=False, mode="lines+markers"))
    if not traces:
        return None
    return Figure("surface-1d", "1-D loss surfaces", traces,
                  {"xaxis": axis(xl), "yaxis": axis(ZL)}, table,
                  "L(\u03b8 + \u03b1x) (/surface/loss); "
                  + "; ".join(f"{r.name}: {_describe(r)}" for r in runs) + ".")


def section(runs) -> Section | None:
    surfaces = [r for r in runs if r.is_surface and r.has("surface/alpha")]
    two = [r for r in surfaces if r.has("surface/beta") and np.asarray(r.get("surface/loss")).ndim == 2]
    one = [r for r in surfaces if not r.has("surface/beta") and np.asarray(r.get("surface/loss")).ndim == 1]
    figs = []
    for n, r in enumerate(two):
        try:
            traj = read_trajectory(r)
        except Exception:  # noqa: BLE001 (a trajectory is optional; the surface is still drawn)
            traj = None
        figs += [surface3d(r, n, traj), contour(r, n, traj)]
    f1 = lines1d(one)
    if f1 is not None:
        figs.append(f1)
    if not figs:
        return None
    return Section("surfaces", "Loss surfaces (Li et al. 2018)",
                   "Loss around a checkpoint along one or two directions in parameter space.", figs)
