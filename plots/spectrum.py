"""Hessian spectrum figures from /probes, BN and no BN overlaid per comparison set.

- spectrum_lambda_max_<set>  top Hessian eigenvalue (``eigvals[:, 0]``) against step, with the
                             edge-of-stability threshold (``eos_threshold``: 2/lr for plain SGD)
- spectrum_topk_<set>        every top-k eigenvalue (``eigvals``), and the bottom-k' ones
                             (``eigvals_bottom``) when the runs have them; needs k >= 2 or k' >= 1
- spectrum_trace_<set>       Hutchinson trace (``trace``), +- its standard error
                             (``trace_stderr``) for one seed, +- sd over seeds for several;
                             needs ``--trace-samples`` > 0
- spectrum_density_<set>     Hessian eigenvalue density by stochastic Lanczos quadrature
                             (``/density``), Gaussian-smoothed, log scale, at the first, middle
                             and last probe step (each group at its own steps when they differ,
                             e.g. offline probes of checkpoints at different steps share a
                             panel); needs ``--density-runs`` and ``--density-steps``
- spectrum_layers_<set>      lambda_max of each layer's diagonal Hessian block
                             (``layer_eigvals[:, b, 0]``) against step, one panel per layer
                             (runs probed once, offline: one panel, the blocks side by side);
                             needs ``--layer-top-k`` > 0

Non-converged eigenvalues are NaN in the file and appear as gaps.

Command line: ``python3 -m plots.spectrum RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, finite_any, format_value, plan_figures
from plots.runs import Run
from plots.landscape import probe_series
from plots.style import SkipFigure
from plots.training import draw_groups, label_panel

FAMILY = "spectrum"


def column_series(path: str, j: int):
    """x = step probed, y = column j of the [n, k] /probes dataset `path` (S.PROBES_*)."""
    def get(r: Run):
        if not (r.has(S.PROBES_STEP) and r.has(path)):
            return None
        m = np.asarray(r.get(path), float)
        if m.ndim != 2 or j >= m.shape[1]:
            return None
        return r.get(S.PROBES_STEP), m[:, j]
    return get


def _k(r: Run, path: str) -> int:
    if not r.has(path):
        return 0
    m = r.get(path)
    return m.shape[1] if m.ndim == 2 else 0


def _threshold_name(cfg: dict) -> str:
    if str(cfg.get("optimizer", "sgd")) == "sgd" and float(cfg.get("momentum", 0.0) or 0.0) == 0.0:
        return "2/lr"
    return "(2 + 2\u00b7momentum)/lr"


@style.styled
def lambda_max(cset: ComparisonSet):
    """lambda_max against step with the 2/lr line."""
    if not any(_k(r, S.PROBES_EIGVALS) for r in cset.runs):
        raise SkipFigure(f"no run has /{S.PROBES_EIGVALS} (probe --top-k 0)")
    fig, axes = style.new_figure(1, 1, width=7, height=4.4)
    ax = axes[0, 0]
    thresholds = {}
    for g in cset.groups:
        style.draw_series(ax, g.series(column_series(S.PROBES_EIGVALS, 0)), g, marker=".")
        t = g.series(probe_series(S.PROBES_EOS_THRESHOLD))
        if t is not None and finite_any(t.mean):
            v = float(np.nanmedian(t.mean))
            thresholds.setdefault(round(v, 12), []).append(g)
    for v, gs in thresholds.items():
        name = _threshold_name(gs[0].config)
        if len(thresholds) == 1:
            ax.axhline(v, color="black", linestyle="--", linewidth=1.0,
                       label=f"{name} = {format_value(v)}")
        else:
            for g in gs:
                ax.axhline(v, color=g.color, linestyle="--", linewidth=1.0,
                           label=f"{name} = {format_value(v)} ({g.label})")
    label_panel(ax, "step", "\u03bb_max of the Hessian",
                "top Hessian eigenvalue and the edge-of-stability threshold")
    return style.finish(fig, f"\u03bb_max \u2014 {cset.title}")


@style.styled
def topk(cset: ComparisonSet):
    """Every top-k eigenvalue (and bottom-k') against step."""
    k = max(_k(r, S.PROBES_EIGVALS) for r in cset.runs)
    kb = max(_k(r, S.PROBES_EIGVALS_BOTTOM) for r in cset.runs)
    if k < 2 and kb < 1:
        raise SkipFigure(f"top-k = {k} and no bottom eigenvalues (probe --top-k 2 or more)")
    panels = [(S.PROBES_EIGVALS, k, "top-k eigenvalues (descending)")] if k >= 1 else []
    if kb >= 1:
        panels.append((S.PROBES_EIGVALS_BOTTOM, kb, "bottom-k eigenvalues (ascending)"))
    fig, axes = style.new_figure(1, len(panels), width=6, height=4.2)
    for ax, (col, kk, title) in zip(axes[0], panels):
        for g in cset.groups:
            for j in range(kk):
                alpha = 1.0 - 0.6 * j / max(1, kk - 1)
                style.draw_series(ax, g.series(column_series(col, j)), g,
                                  label=f"{g.legend}: \u03bb{j + 1}" if col == S.PROBES_EIGVALS
                                  else f"{g.legend}: bottom {j + 1}",
                                  alpha=alpha, marker=".", linewidth=1.0)
        label_panel(ax, "step", "eigenvalue", title, fontsize="x-small")
    return style.finish(fig, f"Hessian eigenvalues \u2014 {cset.title}")


@style.styled
def trace(cset: ComparisonSet):
    """Hutchinson trace estimate against step."""
    if not any(r.has(S.PROBES_TRACE) and finite_any(r.get(S.PROBES_TRACE)) for r in cset.runs):
        raise SkipFigure(f"no finite /{S.PROBES_TRACE} (probe --trace-samples 0)")
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    for g in cset.groups:
        s = g.series(probe_series(S.PROBES_TRACE))
        if s is None or not finite_any(s.mean):
            continue
        if s.nruns == 1:
            line, _ = style.draw_series(ax, s, g, label=f"{g.legend} \u00b1 s.e.", marker=".")
            r = next(r for r in g.runs if r.has(S.PROBES_TRACE))
            if r.has(S.PROBES_TRACE_STDERR):
                se = np.asarray(r.get(S.PROBES_TRACE_STDERR), float)
                band = ax.fill_between(s.x, s.mean - se, s.mean + se, color=g.color,
                                       alpha=style.BAND_ALPHA, linewidth=0)
                band.set_gid(f"stderr:{g.legend}")
        else:
            style.draw_series(ax, s, g, marker=".")
    label_panel(ax, "step", "tr H (Hutchinson)", "Hessian trace")
    return style.finish(fig, f"Hessian trace \u2014 {cset.title}")


# Width of the Gaussian that smooths the SLQ nodes, as a fraction of the eigenvalue range drawn
# (Ghorbani et al. 2019 and PyHessian smooth the same way; 1 % resolves outliers from the bulk).
DENSITY_SIGMA = 0.01
# Lowest density drawn, relative to the panel's peak (the log axis would otherwise reach the
# Gaussians' tails at 1e-300).
DENSITY_FLOOR = 1e-7


def smoothed_density(nodes, weights, grid, sigma: float) -> np.ndarray:
    """sum_i w_i N(t; x_i, sigma^2) / sum_i w_i at the points t of `grid`, over the finite
    nodes of positive weight (the mean over runs: each run's weights sum to 1)."""
    x = np.asarray(nodes, float).ravel()
    w = np.asarray(weights, float).ravel()
    ok = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w = x[ok], w[ok]
    grid = np.asarray(grid, float)
    if w.sum() <= 0:
        return np.zeros_like(grid)
    z = (grid[None, :] - x[:, None]) / sigma
    return (w[:, None] * np.exp(-0.5 * z * z)).sum(axis=0) / (w.sum() * sigma * np.sqrt(2 * np.pi))


def _density_row(r: Run, step: int):
    """(nodes, weights) of `step` in r's /density, or None."""
    if not (r.has(S.DENSITY_STEP) and r.has(S.DENSITY_NODES) and r.has(S.DENSITY_WEIGHTS)):
        return None
    steps = np.asarray(r.get(S.DENSITY_STEP))
    i = np.flatnonzero(steps == step)
    if i.size == 0:
        return None
    return r.get(S.DENSITY_NODES)[i[-1]], r.get(S.DENSITY_WEIGHTS)[i[-1]]


def _picks(steps) -> list[int]:
    """The first, middle and last of `steps` (fewer when they coincide)."""
    steps = np.unique(np.asarray(steps))
    return sorted({int(steps[0]), int(steps[len(steps) // 2]), int(steps[-1])}) if steps.size else []


def _density_picks(cset: ComparisonSet) -> tuple[dict, bool]:
    """{id(group): its picked steps}, and whether every group has the same ones. Groups are
    picked by their own steps, so that probes of checkpoints at different steps (no BN at 50,
    BN at 100) share one panel rather than each getting their own."""
    picks = {}
    for g in cset.groups:
        steps = [np.asarray(r.get(S.DENSITY_STEP)) for r in g.runs if r.has(S.DENSITY_STEP)]
        picks[id(g)] = _picks(np.concatenate(steps)) if steps else []
    drawn = [p for p in picks.values() if p]
    return picks, all(p == drawn[0] for p in drawn)


@style.styled
def density(cset: ComparisonSet):
    """SLQ eigenvalue density at the first, middle and last probe step, groups overlaid (each
    group at its own steps when they differ, e.g. offline probes of different checkpoints)."""
    have = [r for r in cset.runs if r.has(S.DENSITY_STEP)]
    if not have:
        raise SkipFigure(f"no run has /{S.DENSITY} (probe --density-runs K --density-steps M)")
    picks, common = _density_picks(cset)
    npanels = max(len(p) for p in picks.values())
    names = ["first probe", "middle probe", "last probe"] if npanels == 3 else ["first probe", "last probe"]
    fig, axes = style.new_figure(1, npanels, width=5.2 if npanels > 1 else 6.4, height=4.0)
    for j, ax in enumerate(axes[0]):
        # The step each group shows in this panel: its j-th pick (its last when it has fewer).
        at = {id(g): picks[id(g)][min(j, len(picks[id(g)]) - 1)] for g in cset.groups if picks[id(g)]}
        rows = {id(g): [x for x in (_density_row(r, at[id(g)]) for r in g.runs) if x is not None]
                for g in cset.groups if id(g) in at}
        finite = [n[np.isfinite(n)] for rs in rows.values() for n, _ in rs]
        finite = np.concatenate(finite) if finite else np.array([])
        if finite.size == 0:
            style.message_panel(ax, "no finite density")
            continue
        lo, hi = float(finite.min()), float(finite.max())
        span = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
        sigma = DENSITY_SIGMA * span
        grid = np.linspace(lo - 0.05 * span, hi + 0.05 * span, 2000)
        peak = 0.0
        for g in cset.groups:
            rs = rows.get(id(g), [])
            if not rs:
                continue
            step = at[id(g)]
            phi = np.mean([smoothed_density(n, w, grid, sigma) for n, w in rs], axis=0)
            peak = max(peak, float(phi.max()))
            label = g.legend if len(rs) == g.n else f"{g.label} ({len(rs)} of {g.n} seeds)"
            if not common:
                label += f", step {step}"
            (line,) = ax.plot(grid, phi, color=g.color, linestyle=g.linestyle, linewidth=1.3,
                              label=label)
            line.set_gid(f"density:{g.legend}:{step}")
        if peak > 0:
            ax.set_yscale("log")
            ax.set_ylim(peak * DENSITY_FLOOR, peak * 3)
        where = f"step {next(iter(at.values()))}" if common else (names[j] if npanels > 1 else "each at its step")
        label_panel(ax, "eigenvalue", "density (smoothed)",
                    f"{where} (\u03c3 = {format_value(round(sigma, 6))})", fontsize="x-small")
    return style.finish(fig, f"Hessian eigenvalue density (SLQ) \u2014 {cset.title}")


def _layer_roles(r: Run):
    """{role: (index in layer_eigvals, block name)}: roles are "layer i" for the i-th Linear or
    Conv block and "norm i" for the i-th normalisation block, so BN and no-BN models line up."""
    names = [str(x) for x in (r.attr(S.PROBES_LAYER_EIGVALS, S.LAYER_EIGVALS_BLOCKS, None) or [])]
    kinds = [str(x) for x in
             (r.attr(S.PROBES_LAYER_EIGVALS, S.LAYER_EIGVALS_BLOCK_KINDS, None) or [])]
    if len(kinds) != len(names):
        kinds = ["linear"] * len(names)
    roles, counts = {}, {}
    for j, (n, k) in enumerate(zip(names, kinds)):
        kind = "norm" if k == "norm" else "layer"
        counts[kind] = counts.get(kind, 0) + 1
        roles[f"{kind} {counts[kind]}"] = (j, n)
    return roles


def _one_step(r: Run) -> bool:
    """A run probed once (an offline probe of one checkpoint)."""
    return r.has(S.PROBES_STEP) and len(r.get(S.PROBES_STEP)) == 1


def _layer_value(r: Run, role: str) -> float:
    """lambda_max of `role`'s block at r's last probe; NaN when r has no such block."""
    where = _layer_roles(r).get(role)
    if where is None:
        return float("nan")
    return float(np.asarray(r.get(S.PROBES_LAYER_EIGVALS), float)[-1, where[0], 0])


def layer_lambda_max_once(cset: ComparisonSet, have: list, order: list):
    """Runs probed once: every block in one panel (x = the block's role), one marker line per
    group (seed mean, +-1 sd bars with several seeds), so BN and no BN share the axes."""
    fig, axes = style.new_figure(1, 1, width=max(6.0, 0.9 * len(order) + 3), height=4.4)
    ax = axes[0, 0]
    x = np.arange(len(order), dtype=float)
    groups = [g for g in cset.groups if any(r in have for r in g.runs)]
    width = 0.5 / max(1, len(groups))
    for i, g in enumerate(groups):
        runs = [r for r in g.runs if r in have]
        vals = np.array([[_layer_value(r, role) for role in order] for r in runs])
        with warnings.catch_warnings():  # a block this model lacks is NaN in every seed
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(vals, axis=0)
            sd = np.nanstd(vals, axis=0, ddof=1) if len(runs) > 1 else None
        steps = sorted({int(r.get(S.PROBES_STEP)[-1]) for r in runs})
        label = f"{g.legend}, step {', '.join(map(str, steps))}"
        xs = x + (i - (len(groups) - 1) / 2) * width
        line = ax.errorbar(xs, mean, yerr=sd, color=g.color, linestyle=g.linestyle, marker="o",
                           markersize=5, linewidth=1.0, capsize=3, label=label)
        line.lines[0].set_gid(f"layers:{g.legend}")
    ax.set_xticks(x)
    ax.set_xticklabels(order)
    label_panel(ax, "block (layer i = i-th Linear/Conv, norm i = i-th BN)", "\u03bb_max of the block",
                "top eigenvalue of each diagonal Hessian block", fontsize="x-small")
    return style.finish(fig, f"per-layer \u03bb_max (diagonal Hessian blocks) \u2014 {cset.title}")


@style.styled
def layer_lambda_max(cset: ComparisonSet):
    """Top eigenvalue of each layer's diagonal Hessian block against step (one panel per
    block); for runs probed once, every block in one panel (layer_lambda_max_once)."""
    have = [r for r in cset.runs if r.has(S.PROBES_LAYER_EIGVALS)]
    if not have:
        raise SkipFigure(f"no run has /{S.PROBES_LAYER_EIGVALS} (probe --layer-top-k 0)")
    roles = {}
    for r in have:
        for role, (_, name) in _layer_roles(r).items():
            roles.setdefault(role, set()).add(name)
    order = sorted(roles, key=lambda k: (k.startswith("norm"), int(k.split()[1])))
    if all(_one_step(r) for r in have):
        return layer_lambda_max_once(cset, have, order)
    ncols = min(3, len(order))
    nrows = (len(order) + ncols - 1) // ncols
    fig, axes = style.new_figure(nrows, ncols, width=4.6, height=3.4)
    for ax in axes.ravel()[len(order):]:
        ax.set_visible(False)
    for ax, role in zip(axes.ravel(), order):
        def get(r: Run, role=role):
            if not (r.has(S.PROBES_STEP) and r.has(S.PROBES_LAYER_EIGVALS)):
                return None
            where = _layer_roles(r).get(role)
            if where is None:
                return None
            m = np.asarray(r.get(S.PROBES_LAYER_EIGVALS), float)
            return r.get(S.PROBES_STEP), m[:, where[0], 0]
        draw_groups(ax, cset, get, marker=".")
        label_panel(ax, "step", "\u03bb_max of the block",
                    f"{role}: {', '.join(sorted(roles[role]))}", title_size="small",
                    fontsize="x-small")
    return style.finish(fig, f"per-layer \u03bb_max (diagonal Hessian blocks) \u2014 {cset.title}")


FIGURES = (
    ("spectrum_lambda_max", lambda_max),
    ("spectrum_topk", topk),
    ("spectrum_trace", trace),
    ("spectrum_density", density),
    ("spectrum_layers", layer_lambda_max),
)


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, S.PROBES_STEP, FAMILY, FIGURES, probe=True)


if __name__ == "__main__":  # python3 -m plots.spectrum: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
