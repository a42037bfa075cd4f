"""Inside the network: activation distributions (/activations) and internal covariate shift
(/ics, Santurkar et al. 2018, Definition 2.1)."""

from __future__ import annotations

import numpy as np

from plots.report.figures import PALETTE_BLOCKS, Figure, Section, Table, axis, hover, line, nums, slider
from plots.report.series import aligned_mean

XL = "step (updates)"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SITES = ("pre_norm", "post_norm", "post_relu")
MAX_SNAPSHOTS = 12


def sites(r) -> list:
    """(layer, site) pairs of r's /activations, in layer order then SITES order."""
    found = {tuple(k.split("/")[1:3]) for k in r.data
             if k.startswith("activations/") and k.endswith("/hist") and k.count("/") == 3}
    return sorted(found, key=lambda ls: (ls[0], SITES.index(ls[1]) if ls[1] in SITES else 9))


def _with_acts(groups):
    out = [(g, [r for r in g.runs if sites(r)]) for g in groups]
    return [(g, rs) for g, rs in out if rs]


def spread(groups) -> Figure | None:
    have = _with_acts(groups)
    if not have:
        return None
    yl = "standard deviation of the activations (activation units)"
    table = Table(["run", "group", "layer", "site", "step", "mean", "std", "zero_fraction"])
    traces, colours = [], {}
    for gi, (g, rs) in enumerate(have):
        for r in rs:
            for layer, site in sites(r):
                p = f"activations/{layer}/{site}/"
                n = len(r.get(p + "step"))
                table.add(run=r.name, group=g.label, layer=layer, site=site, step=r.get(p + "step"),
                          mean=r.get_or_nan(p + "mean", n), std=r.get_or_nan(p + "std", n),
                          zero_fraction=r.get_or_nan(p + "zero_fraction", n))
        for layer, site in sites(rs[0]):
            p = f"activations/{layer}/{site}/"
            pairs = [(r.get(p + "step"), r.get(p + "std")) for r in rs if r.has(p + "std")]
            if not pairs:
                continue
            colour = colours.setdefault((layer, site), PALETTE_BLOCKS[len(colours) % len(PALETTE_BLOCKS)])
            x, m = aligned_mean(pairs)
            traces.append(line(x, m, f"{g.label} \u00b7 {layer} {site}", colour, XL, yl,
                               dash=DASHES[gi % len(DASHES)], mode="lines+markers"))
    return Figure("activations-std", "Activation spread over training", traces,
                  {"xaxis": axis(XL), "yaxis": axis(yl)}, table,
                  "Standard deviation over the fixed batch's values of each layer's output before "
                  "normalisation (pre_norm), after it (post_norm) and after the ReLU (post_relu) "
                  "(/activations/<layer>/<site>/std); colour: layer and site, line style: group "
                  "(mean over its runs). CSV: mean, std and zero fraction of every run.")


def histograms(groups) -> Figure | None:
    have = _with_acts(groups)
    if not have:
        return None
    xl, yl = "activation value (activation units)", "fraction of values per unit (log scale)"
    table = Table(["run", "layer", "site", "step", "bin", "bin_lo", "bin_hi", "count"])
    shown = [(g, rs[0]) for g, rs in have]
    for g, r in shown:
        for layer, site in sites(r):
            p = f"activations/{layer}/{site}/"
            h, e = np.asarray(r.get(p + "hist")), np.asarray(r.get(p + "bin_edges"), float)
            n, b = h.shape
            nz = h.ravel() > 0
            table.add(run=r.name, layer=layer, site=site,
                      step=np.repeat(r.get(p + "step"), b)[nz], bin=np.tile(np.arange(b), n)[nz],
                      bin_lo=np.tile(e[:-1], n)[nz], bin_hi=np.tile(e[1:], n)[nz], count=h.ravel()[nz])
    steps = np.unique(np.concatenate([np.asarray(r.get(f"activations/{l}/{s}/step"))
                                      for _, r in shown for l, s in sites(r)]))
    if len(steps) > MAX_SNAPSHOTS:
        steps = steps[np.unique(np.linspace(0, len(steps) - 1, MAX_SNAPSHOTS).round().astype(int))]
    traces, per_step, colours = [], [], {}
    for step in steps.tolist():
        idx = []
        for gi, (g, r) in enumerate(shown):
            for layer, site in sites(r):
                p = f"activations/{layer}/{site}/"
                i = np.flatnonzero(np.asarray(r.get(p + "step")) == step)
                if i.size == 0:
                    continue
                h = np.asarray(r.get(p + "hist"))[i[-1]].astype(float)
                e = np.asarray(r.get(p + "bin_edges"), float)
                total = h.sum() + float(r.get(p + "underflow")[i[-1]]) + float(r.get(p + "overflow")[i[-1]])
                dens = np.where(h > 0, h / max(total, 1.0) / np.diff(e), np.nan)
                colour = colours.setdefault((layer, site), PALETTE_BLOCKS[len(colours) % len(PALETTE_BLOCKS)])
                name = f"{g.label} \u00b7 {layer} {site}"
                idx.append(len(traces))
                traces.append({"type": "scatter", "mode": "lines", "name": name,
                               "x": nums(0.5 * (e[:-1] + e[1:])), "y": nums(dens),
                               "line": {"color": colour, "width": 1.5, "shape": "hvh",
                                        "dash": DASHES[gi % len(DASHES)]},
                               "visible": False, "hovertemplate": hover(f"{name}, step {step}", xl, yl)})
        if idx:
            per_step.append((step, idx))
    if not traces:
        return None
    slide, visible = slider(per_step, len(traces), "snapshot at step: ")
    for t, v in zip(traces, visible):
        t["visible"] = v
    return Figure("activations-hist", "Activation histograms", traces,
                  {"xaxis": axis(xl), "yaxis": axis(yl, log=True), "sliders": [slide],
                   "margin": {"l": 70, "r": 20, "t": 30, "b": 120}}, table,
                  f"Histograms of each layer's outputs on the fixed batch (/activations/.../hist, "
                  f"counts / all values / bin width; empty bins are gaps), of the first run of each "
                  f"group; slider: the snapshot (at most {MAX_SNAPSHOTS}, evenly spread). CSV: every "
                  f"snapshot's non-zero bin counts (bin b holds bin_lo <= v < bin_hi).", height=520)


def ics(groups, col: str) -> Figure | None:
    have = [(g, [r for r in g.runs if r.has(f"ics/{col}") and r.has("ics/step")]) for g in groups]
    have = [(g, rs) for g, rs in have if rs]
    if not have:
        return None
    yl = ("\u2016G \u2212 G'\u2016\u2082 (loss gradient per parameter)" if col == "l2"
          else "cos(G, G') (dimensionless)")
    table = Table(["run", "group", "step", "layer", col])
    traces = []
    for gi, (g, rs) in enumerate(have):
        layers = rs[0].attr(f"ics/{col}", "layers") or rs[0].attr("ics", "layers") or []
        for r in rs:
            v = np.asarray(r.get(f"ics/{col}"), float)
            for j in range(v.shape[1]):
                table.add(run=r.name, group=g.label, step=r.get("ics/step"),
                          layer=str(layers[j]) if j < len(layers) else str(j), **{col: v[:, j]})
        for j in range(np.asarray(rs[0].get(f"ics/{col}")).shape[1]):
            x, m = aligned_mean([(r.get("ics/step"), np.asarray(r.get(f"ics/{col}"), float)[:, j])
                                 for r in rs])
            name = f"{g.label} \u00b7 {layers[j] if j < len(layers) else j}"
            traces.append(line(x, m, name, PALETTE_BLOCKS[j % len(PALETTE_BLOCKS)], XL, yl,
                               dash=DASHES[gi % len(DASHES)], mode="lines+markers"))
    what = "distance" if col == "l2" else "cosine"
    return Figure(f"ics-{col}", f"Internal covariate shift ({what})", traces,
                  {"xaxis": axis(XL), "yaxis": axis(yl)}, table,
                  f"G: the gradient of layer i's parameters; G': the same after the earlier layers "
                  f"took this step's update (/ics/{col}); colour: layer, line style: group (mean "
                  f"over its runs). The first layer's shift is 0 by definition.")


def activations_section(groups) -> Section | None:
    figs = [f for f in (spread(groups), histograms(groups)) if f is not None]
    return Section("activations", "Activations", "Distributions of the hidden layers' outputs "
                   "on a fixed batch of 128 training examples.", figs) if figs else None


def ics_section(groups) -> Section | None:
    figs = [f for f in (ics(groups, "l2"), ics(groups, "cos")) if f is not None]
    return Section("ics", "Internal covariate shift (Santurkar et al. 2018, Definition 2.1)",
                   "How much a layer's gradient changes when the layers before it take their "
                   "update.", figs) if figs else None
