"""The paper's Figure 4 from /probes: loss landscape, gradient predictiveness, beta-smoothness.

Per comparison set, BN and no BN overlaid (file ``landscape_<set>``):

(a) loss landscape: the band min..max over step sizes s of L(w - s g) (``loss_path``), against
    the training step probed;
(b) gradient predictiveness: the band min..max over s of ||grad L(w) - grad L(w - s g)||
    (``grad_pred``);
(c) effective beta-smoothness (``beta_smoothness``), a line.

With several seeds the band runs from the seed mean of the per-probe minimum to the seed mean of
the per-probe maximum, and (c) is the seed mean +- sd.

Command line: ``python3 -m plots.landscape RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, Group, format_value, plan_figures
from plots.runs import Run
from plots.style import SkipFigure
from plots.training import draw_groups, label_panel

FAMILY = "landscape"


def probe_series(path: str):
    """x = step probed, y = the /probes dataset `path` (S.PROBES_*)."""
    def get(r: Run):
        if not (r.has(S.PROBES_STEP) and r.has(path)):
            return None
        return r.get(S.PROBES_STEP), r.get(path)
    return get


def range_series(path: str, how: str):
    """Per probe, the min or max over step sizes of a [n, S] dataset of /probes."""
    def get(r: Run):
        if not (r.has(S.PROBES_STEP) and r.has(path)):
            return None
        m = np.asarray(r.get(path), float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = np.nanmin(m, axis=1) if how == "min" else np.nanmax(m, axis=1)
        return r.get(S.PROBES_STEP), v
    return get


def step_size_note(g: Group) -> str:
    r = g.first
    if not r.has(S.PROBES_STEP_SIZES):
        return ""
    s = np.asarray(r.get(S.PROBES_STEP_SIZES), float)
    return f"s \u2208 [{format_value(float(s.min()))}, {format_value(float(s.max()))}], {len(s)} sizes"


def band_label(g: Group) -> str:
    """What the band of draw_range_band is: with one seed, min..max over the step sizes s; with
    several, the seed mean of the minima to the seed mean of the maxima (no sd is drawn)."""
    if g.n > 1:
        return f"{g.label} (band: mean of minima to mean of maxima, {g.n} seeds)"
    return f"{g.label} (seed {g.first.seed}; band: min..max over s)"


def draw_range_band(ax, g: Group, path: str):
    lo = g.series(range_series(path, "min"))
    hi = g.series(range_series(path, "max"))
    if lo is None or hi is None:
        return None
    note = step_size_note(g)
    label = band_label(g) + (f"; {note}" if note else "")
    return style.draw_range(ax, lo.x, lo.mean, hi.mean, g, label)


@style.styled
def figure4(cset: ComparisonSet):
    """The three panels of the paper's Figure 4 for one comparison set."""
    if not any(r.has(S.PROBES_LOSS_PATH) for r in cset.runs):
        raise SkipFigure(f"no run has /{S.PROBES_LOSS_PATH}")
    fig, axes = style.new_figure(1, 3, width=4.6, height=3.8)
    ax = axes[0, 0]
    for g in cset.groups:
        draw_range_band(ax, g, S.PROBES_LOSS_PATH)
    label_panel(ax, "step", "L(w \u2212 s g) (nats)", "(a) loss landscape: min..max over s",
                fontsize="x-small")

    ax = axes[0, 1]
    vals = []
    for g in cset.groups:
        draw_range_band(ax, g, S.PROBES_GRAD_PRED)
        s = g.series(range_series(S.PROBES_GRAD_PRED, "max"))
        if s is not None:
            vals.append(s.mean)
    style.maybe_log(ax, vals)
    label_panel(ax, "step", "\u2016\u2207L(w) \u2212 \u2207L(w \u2212 s g)\u2016",
                "(b) gradient predictiveness: min..max over s", fontsize="x-small")

    ax = axes[0, 2]
    style.maybe_log(ax, draw_groups(ax, cset, probe_series(S.PROBES_BETA_SMOOTHNESS), marker="."))
    label_panel(ax, "step", "max over s of \u2016\u0394\u2207L\u2016 / \u2016s g\u2016",
                "(c) effective \u03b2-smoothness", fontsize="x-small")
    return style.finish(fig, f"Loss landscape along the gradient \u2014 {cset.title}")


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, S.PROBES_STEP, FAMILY, [("landscape", figure4)],
                        probe=True)


if __name__ == "__main__":  # python3 -m plots.landscape: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
