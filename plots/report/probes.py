"""Sections from /probes: Santurkar et al.'s Figure 4 panels over training, and curvature (top
eigenvalue against 2/lr, Hutchinson trace, per-layer top eigenvalues)."""

from __future__ import annotations

import numpy as np

from plots.report.charts import xy_figure
from plots.report.figures import PALETTE_BLOCKS, Figure, Section, Table, axis, line, nums, rgba
from plots.report.series import aligned_mean, group_traces

XL = "step (updates)"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _probe(col: str, reduce=None):
    def get(r):
        if not (r.has("probes/step") and r.has(f"probes/{col}")):
            return None
        v = np.asarray(r.get(f"probes/{col}"), float)
        if reduce is not None:
            v = reduce(v)
        if not np.isfinite(v).any():
            return None
        return r.get("probes/step"), v
    return get


def _rowwise(fn):
    def reduce(v):
        with np.errstate(all="ignore"):
            out = np.full(v.shape[0], np.nan)
            for i, row in enumerate(v):
                row = row[np.isfinite(row)]
                if row.size:
                    out[i] = fn(row)
            return out
    return reduce


def band(groups, col: str, fid: str, title: str, ylabel: str, note: str) -> Figure | None:
    """min..max over the step sizes of /probes/<col> [n, S], per group (mean over its runs)."""
    table = Table(["run", "group", "step", "step_size", col])
    traces = []
    for g in groups:
        runs = [r for r in g.runs if r.has(f"probes/{col}") and r.has("probes/step")
                and np.isfinite(np.asarray(r.get(f"probes/{col}"), float)).any()]
        if not runs:
            continue
        lo = aligned_mean([_probe(col, _rowwise(np.min))(r) for r in runs])
        hi = aligned_mean([_probe(col, _rowwise(np.max))(r) for r in runs])
        for r in runs:
            v = np.asarray(r.get(f"probes/{col}"), float)
            s = np.asarray(r.get("probes/step_sizes"), float) if r.has("probes/step_sizes") \
                else np.arange(v.shape[1], dtype=float)
            table.add(run=r.name, group=g.label, step=np.repeat(r.get("probes/step"), v.shape[1]),
                      step_size=np.tile(s, v.shape[0]), **{col: v})
        label = g.label + (f" (mean of {len(runs)} runs)" if len(runs) > 1 else "")
        traces.append(line(lo[0], lo[1], f"{label}: min over s", g.color, XL, ylabel, width=1.2,
                           legendgroup=g.label, showlegend=False))
        up = line(hi[0], hi[1], f"{label}: max over s", g.color, XL, ylabel, width=1.2,
                  legendgroup=g.label)
        up.update(fill="tonexty", fillcolor=rgba(g.color, 0.25), name=label)
        up["hovertemplate"] = up["hovertemplate"].replace(label + "<br>", label + ": max over s<br>")
        traces.append(up)
    return xy_figure(fid, title, traces, XL, ylabel, table, note)


def beta(groups) -> Figure | None:
    yl = "effective \u03b2-smoothness (gradient change / distance)"
    table = Table(["run", "group", "step", "beta_smoothness"])
    traces, _ = group_traces(groups, _probe("beta_smoothness"), XL, yl, table, "beta_smoothness")
    return xy_figure("landscape-beta", "Effective \u03b2-smoothness (Figure 4c)", traces, XL, yl,
                     table, "max over s of \u2016\u2207L(w) \u2212 \u2207L(w \u2212 s g)\u2016 / "
                     "\u2016s g\u2016 (/probes/beta_smoothness).")


def landscape_section(groups) -> Section | None:
    figs = [
        band(groups, "loss_path", "landscape-loss-range", "Loss along the gradient (Figure 4a)",
             "loss L(w \u2212 s g) (nats)",
             "Band: min..max over the step sizes s (/probes/step_sizes) of the loss at "
             "w \u2212 s g (/probes/loss_path); a narrower band is a smoother landscape."),
        band(groups, "grad_pred", "landscape-grad-pred", "Gradient predictiveness (Figure 4b)",
             "\u2016\u2207L(w) \u2212 \u2207L(w \u2212 s g)\u2016 (gradient norm units)",
             "Band: min..max over s of the change of the gradient along the gradient step "
             "(/probes/grad_pred)."),
        beta(groups),
    ]
    figs = [f for f in figs if f is not None]
    if not figs:
        return None
    return Section("landscape", "Loss landscape over training (Santurkar et al. 2018, Figure 4)",
                   "Measured by the probes on the probe set at every probed step; groups with "
                   "several runs show the mean of their runs' band edges.", figs)


def lambda_max(groups) -> Figure | None:
    yl = "top Hessian eigenvalue \u03bb_max (nats per unit parameter\u00b2)"
    table = Table(["run", "group", "step", "lambda_max", "eos_threshold"])
    top = _probe("eigvals", lambda v: v[:, 0] if v.ndim == 2 and v.shape[1] else v)
    traces, _ = group_traces(groups, top, XL, yl)
    if not traces:
        return None
    for g in groups:
        runs = [r for r in g.runs if r.has("probes/eigvals") and r.has("probes/step")]
        for r in runs:
            ev = np.asarray(r.get("probes/eigvals"), float)
            eos = r.get_or_nan("probes/eos_threshold", len(ev))
            table.add(run=r.name, group=g.label, step=r.get("probes/step"),
                      lambda_max=ev[:, 0] if ev.ndim == 2 else ev, eos_threshold=eos)
        if runs and runs[0].has("probes/eos_threshold"):
            x, thr = runs[0].get("probes/step"), np.asarray(runs[0].get("probes/eos_threshold"), float)
            if np.isfinite(thr).any():
                traces.append(line(x, thr, f"{g.label}: 2/lr (edge of stability)", g.color, XL, yl,
                                   width=1.5, dash="dash", legendgroup=g.label))
    return Figure("curvature-lambda-max", "Top Hessian eigenvalue against 2/lr", traces,
                  {"xaxis": axis(XL), "yaxis": axis(yl)}, table,
                  "Lanczos top eigenvalue of the probe loss's Hessian (/probes/eigvals[:, 0]); "
                  "dashed: the edge-of-stability threshold 2/lr ((2 + 2\u00b7momentum)/lr, "
                  "/probes/eos_threshold). NaN (not converged) are gaps.")


def trace(groups) -> Figure | None:
    yl = "Hessian trace tr(H) (Hutchinson estimate)"
    table = Table(["run", "group", "step", "trace", "trace_stderr"])
    traces = []
    for g in groups:
        for r in g.runs:
            got = _probe("trace")(r)
            if got is None:
                continue
            se = r.get_or_nan("probes/trace_stderr", len(got[1]))
            table.add(run=r.name, group=g.label, step=got[0], trace=got[1], trace_stderr=se)
            t = line(got[0], got[1], r.legend, g.color, XL, yl, width=1.6, mode="lines+markers",
                     legendgroup=g.label)
            t["error_y"] = {"type": "data", "array": nums(se), "visible": True, "color": g.color,
                            "thickness": 1}
            traces.append(t)
    return xy_figure("curvature-trace", "Hessian trace", traces, XL, yl, table,
                     "Hutchinson estimate of tr(H) over Rademacher samples (/probes/trace), "
                     "error bars: its standard error (/probes/trace_stderr).")


def layer_curvature(groups) -> Figure | None:
    yl = "top eigenvalue of the block's Hessian H_bb (log scale)"
    table = Table(["run", "group", "step", "block", "kind", "layer_lambda_max"])
    traces = []
    for gi, g in enumerate(groups):
        runs = [r for r in g.runs if r.has("probes/layer_eigvals") and r.has("probes/step")]
        if not runs:
            continue
        blocks = runs[0].attr("probes/layer_eigvals", "blocks") or []
        kinds = runs[0].attr("probes/layer_eigvals", "block_kinds") or []
        for r in runs:
            v = np.asarray(r.get("probes/layer_eigvals"), float)
            for b in range(v.shape[1]):
                table.add(run=r.name, group=g.label, step=r.get("probes/step"),
                          block=str(blocks[b]) if b < len(blocks) else str(b),
                          kind=str(kinds[b]) if b < len(kinds) else "", layer_lambda_max=v[:, b, 0])
        nb = np.asarray(runs[0].get("probes/layer_eigvals")).shape[1]
        for b in range(nb):
            pairs = [(r.get("probes/step"), np.asarray(r.get("probes/layer_eigvals"), float)[:, b, 0])
                     for r in runs if np.asarray(r.get("probes/layer_eigvals")).shape[1] > b]
            x, m = aligned_mean(pairs)
            name = f"{g.label} \u00b7 {blocks[b] if b < len(blocks) else b}" + \
                   (f" ({kinds[b]})" if b < len(kinds) else "")
            traces.append(line(x, m, name, PALETTE_BLOCKS[b % len(PALETTE_BLOCKS)], XL, yl,
                               width=2.0, dash=DASHES[gi % len(DASHES)]))
    return xy_figure("curvature-layers", "Per-layer curvature", traces, XL, yl, table,
                     "Top eigenvalue of each parameter block's diagonal Hessian block "
                     "(/probes/layer_eigvals[:, b, 0]); colour: block, line style: group (mean "
                     "over its runs). By Cauchy interlacing each is at most \u03bb_max.", log=True)


def curvature_section(groups) -> Section | None:
    figs = [f for f in (lambda_max(groups), trace(groups), layer_curvature(groups)) if f]
    if not figs:
        return None
    return Section("curvature", "Curvature over training",
                   "Hessian of the probe loss at every probed step.", figs)

