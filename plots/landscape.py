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

import os
import sys
import warnings

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from plots import style
from plots.runs import ComparisonSet, Group, Run, SkipFigure, format_value, plan_figures

FAMILY = "landscape"


def probe_series(col: str):
    def get(r: Run):
        if not (r.has("probes/step") and r.has(f"probes/{col}")):
            return None
        return r.get("probes/step"), r.get(f"probes/{col}")
    return get


def range_series(col: str, how: str):
    """Per probe, the min or max over step sizes of a [n, S] dataset."""
    def get(r: Run):
        if not (r.has("probes/step") and r.has(f"probes/{col}")):
            return None
        m = np.asarray(r.get(f"probes/{col}"), float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = np.nanmin(m, axis=1) if how == "min" else np.nanmax(m, axis=1)
        return r.get("probes/step"), v
    return get


def step_size_note(g: Group) -> str:
    r = g.first
    if not r.has("probes/step_sizes"):
        return ""
    s = np.asarray(r.get("probes/step_sizes"), float)
    return f"s \u2208 [{format_value(float(s.min()))}, {format_value(float(s.max()))}], {len(s)} sizes"


def draw_range_band(ax, g: Group, col: str):
    lo = g.series(range_series(col, "min"))
    hi = g.series(range_series(col, "max"))
    if lo is None or hi is None:
        return None
    note = step_size_note(g)
    label = g.legend + (f"; {note}" if note else "")
    return style.draw_range(ax, lo.x, lo.mean, hi.mean, g, label)


def figure4(cset: ComparisonSet):
    """The three panels of the paper's Figure 4 for one comparison set."""
    if not any(r.has("probes/loss_path") for r in cset.runs):
        raise SkipFigure("no run has /probes/loss_path")
    fig, axes = style.new_figure(1, 3, width=4.6, height=3.8)
    ax = axes[0, 0]
    for g in cset.groups:
        draw_range_band(ax, g, "loss_path")
    ax.set_xlabel("step")
    ax.set_ylabel("L(w \u2212 s g) (nats)")
    ax.set_title("(a) loss landscape: min..max over s")
    style.legend(ax, fontsize="x-small")

    ax = axes[0, 1]
    vals = []
    for g in cset.groups:
        draw_range_band(ax, g, "grad_pred")
        s = g.series(range_series("grad_pred", "max"))
        if s is not None:
            vals.append(s.mean)
    style.maybe_log(ax, vals)
    ax.set_xlabel("step")
    ax.set_ylabel("\u2016\u2207L(w) \u2212 \u2207L(w \u2212 s g)\u2016")
    ax.set_title("(b) gradient predictiveness: min..max over s")
    style.legend(ax, fontsize="x-small")

    ax = axes[0, 2]
    vals = []
    for g in cset.groups:
        s = g.series(probe_series("beta_smoothness"))
        if s is not None:
            vals.append(s.mean)
        style.draw_series(ax, s, g, marker=".")
    style.maybe_log(ax, vals)
    ax.set_xlabel("step")
    ax.set_ylabel("max over s of \u2016\u0394\u2207L\u2016 / \u2016s g\u2016")
    ax.set_title("(c) effective \u03b2-smoothness")
    style.legend(ax, fontsize="x-small")
    return style.finish(fig, f"Loss landscape along the gradient \u2014 {cset.title}")



def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, "probes/step", FAMILY, [("landscape", figure4)], probe=True)


def main(argv=None) -> int:
    from plots import cli
    return cli.run_families([sys.modules[__name__]], argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
