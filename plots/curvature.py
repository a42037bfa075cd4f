"""Curvature figures that can tell BN apart (issue 24), from /probes, BN and no BN overlaid.

- curvature_sharpness_<set>   top eigenvalue against step: raw (``eigvals[:, 0]``), layer-scaled
                              (``eigvals_layer``: D H D, D = ||w_b|| on the scale-invariant
                              blocks) and adaptive (``eigvals_adaptive``: D = diag(|w|)), one
                              panel each, the Hessian solid and the Gauss-Newton matrix
                              (``ggn_*``) dashed; needs ``--sharpness-scaling`` or ``--curvature ggn``
- curvature_grad_share_<set>  the gradient's share in the top-k eigenspace
                              (``grad_topk_share[:, k-1]``, and ``ggn_grad_topk_share``) against
                              step (Ghorbani et al. 2019: near 1 without BN, small with BN)

Command line: ``python3 -m plots.curvature RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys

import numpy as np

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, plan_figures
from plots.runs import Run
from plots.style import SkipFigure
from plots.training import label_panel

FAMILY = "curvature"

EIGVALS_LAYER = S.PROBES_EIGVALS_LAYER
EIGVALS_ADAPTIVE = S.PROBES_EIGVALS_ADAPTIVE
GGN_EIGVALS = S.PROBES_GGN_EIGVALS
GGN_EIGVALS_LAYER = S.PROBES_GGN_EIGVALS_LAYER
GGN_EIGVALS_ADAPTIVE = S.PROBES_GGN_EIGVALS_ADAPTIVE
GRAD_TOPK_SHARE = S.PROBES_GRAD_TOPK_SHARE
GGN_GRAD_TOPK_SHARE = S.PROBES_GGN_GRAD_TOPK_SHARE

# (title, Hessian dataset, Gauss-Newton dataset) of the sharpness panels.
PANELS = (
    ("raw \u03bb_max", S.PROBES_EIGVALS, GGN_EIGVALS),
    ("layer-scaled \u03bb_max (D = \u2016w_b\u2016)", EIGVALS_LAYER, GGN_EIGVALS_LAYER),
    ("adaptive \u03bb_max (D = |w|)", EIGVALS_ADAPTIVE, GGN_EIGVALS_ADAPTIVE),
)


def column(path: str, last: bool = False):
    """x = step probed, y = the first (or last) column of the [n, k] dataset `path`."""
    def get(r: Run):
        if not (r.has(S.PROBES_STEP) and r.has(path)):
            return None
        m = np.asarray(r.get(path), float)
        if m.ndim != 2 or m.shape[1] == 0:
            return None
        return r.get(S.PROBES_STEP), m[:, -1 if last else 0]
    return get


def _drawn(cset: ComparisonSet, paths) -> list:
    return [p for p in paths if any(r.has(p) for r in cset.runs)]


@style.styled
def sharpness(cset: ComparisonSet):
    """Raw, layer-scaled and adaptive top eigenvalue of H (solid) and G (dashed)."""
    panels = [(t, h, g) for t, h, g in PANELS if _drawn(cset, (h, g))]
    if not any(_drawn(cset, (h, g)) for _, h, g in PANELS[1:]) and not _drawn(cset, (GGN_EIGVALS,)):
        raise SkipFigure("no run has scaled or Gauss-Newton eigenvalues "
                         "(probe --sharpness-scaling layer,adaptive or --curvature ggn)")
    fig, axes = style.new_figure(1, len(panels), width=5.2, height=4.0)
    for ax, (title, hpath, gpath) in zip(axes[0], panels):
        for g in cset.groups:
            style.draw_series(ax, g.series(column(hpath)), g, label=f"{g.legend}: H", marker=".")
            style.draw_series(ax, g.series(column(gpath)), g, label=f"{g.legend}: GGN", marker="x",
                              linestyle="--", alpha=0.8)
        label_panel(ax, "step", "top eigenvalue", title, fontsize="x-small")
    return style.finish(fig, f"sharpness, raw and scale-invariant \u2014 {cset.title}")


@style.styled
def grad_share(cset: ComparisonSet):
    """Share of ||g||^2 in the top-k Ritz vectors of H (solid) and G (dashed)."""
    if not _drawn(cset, (GRAD_TOPK_SHARE, GGN_GRAD_TOPK_SHARE)):
        raise SkipFigure(f"no run has /{GRAD_TOPK_SHARE} (probe --top-k 0)")
    k = max(np.asarray(r.get(p)).shape[1] for r in cset.runs
            for p in (GRAD_TOPK_SHARE, GGN_GRAD_TOPK_SHARE) if r.has(p))
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    for g in cset.groups:
        style.draw_series(ax, g.series(column(GRAD_TOPK_SHARE, last=True)), g, label=f"{g.legend}: H",
                          marker=".")
        style.draw_series(ax, g.series(column(GGN_GRAD_TOPK_SHARE, last=True)), g,
                          label=f"{g.legend}: GGN", marker="x", linestyle="--", alpha=0.8)
    ax.set_ylim(-0.02, 1.02)
    label_panel(ax, "step", f"\u2016P_{k} g\u2016\u00b2 / \u2016g\u2016\u00b2",
                f"gradient share in the top-{k} eigenspace")
    return style.finish(fig, f"gradient in the top eigenspace \u2014 {cset.title}")


FIGURES = (
    ("curvature_sharpness", sharpness),
    ("curvature_grad_share", grad_share),
)


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, S.PROBES_STEP, FAMILY, FIGURES, probe=True)


if __name__ == "__main__":  # python3 -m plots.curvature: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
