"""Internal covariate shift (the paper's Figure 3) from /ics.

Schema read: ``/ics/step [n]``, ``/ics/l2 [n x L]`` (||G_i - G'_i||), ``/ics/cos [n x L]``
(cos(G_i, G'_i)) and the attribute ``layers`` of the group ``/ics`` (L layer names).

Per comparison set (file ``ics_<set>``): one column per layer, l2 distance on top, cosine
below, against step; BN and no BN overlaid, averaged over seeds. Layers are matched by their
position in ``layers`` (BN changes the module names).

Command line: ``python3 -m plots.ics RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys

import numpy as np

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, plan_figures
from plots.runs import Run
from plots.style import SkipFigure

FAMILY = "ics"


def ics_layers(r: Run) -> list[str]:
    """Layer names of r's /ics (attribute ``layers``; ``layer i`` when it is missing)."""
    if not r.has(S.ICS_L2):
        return []
    n = r.get(S.ICS_L2).shape[1] if r.get(S.ICS_L2).ndim == 2 else 0
    names = r.attr(S.ICS, S.ICS_LAYERS, None)
    if names is None or len(names) != n:
        names = [f"layer {i}" for i in range(n)]
    return [str(x) for x in names]


def column_series(path: str, j: int):
    """x = step, y = column j (layer j) of the /ics dataset `path` (S.ICS_L2, S.ICS_COS)."""
    def get(r: Run):
        if not (r.has(S.ICS_STEP) and r.has(path)):
            return None
        m = np.asarray(r.get(path), float)
        if m.ndim != 2 or j >= m.shape[1]:
            return None
        return r.get(S.ICS_STEP), m[:, j]
    return get


@style.styled
def figure3(cset: ComparisonSet):
    nl = max((len(ics_layers(r)) for r in cset.runs), default=0)
    if nl == 0:
        raise SkipFigure("no layer in /ics")
    fig, axes = style.new_figure(2, nl, width=3.6, height=3.0, sharex=True)
    for j in range(nl):
        names, l2vals, cos_lo = [], [], 0.9
        for g in cset.groups:
            r = next((r for r in g.runs if len(ics_layers(r)) > j), None)
            if r is None:
                continue
            names.append(ics_layers(r)[j])
            s = g.series(column_series(S.ICS_L2, j))
            if s is not None:
                l2vals.append(s.mean)
            style.draw_series(axes[0, j], s, g, marker=".", linewidth=1.1)
            c = g.series(column_series(S.ICS_COS, j))
            if c is not None:
                cos_lo = np.nanmin([cos_lo, *(c.mean - c.std)])
            style.draw_series(axes[1, j], c, g, marker=".", linewidth=1.1)
        style.maybe_log(axes[0, j], l2vals)
        axes[1, j].set_ylim(max(-1.05, cos_lo - 0.05), 1.02)
        axes[0, j].set_title(f"layer {j + 1}: {' / '.join(dict.fromkeys(names))}",
                             fontsize="small")
        axes[1, j].set_xlabel("step")
    axes[0, 0].set_ylabel("\u2016G \u2212 G'\u2016\u2082")
    axes[1, 0].set_ylabel("cos(G, G')")
    style.legend(axes[0, 0], fontsize="x-small")
    return style.finish(fig, f"Internal covariate shift (gradient change from the earlier "
                             f"layers' update) \u2014 {cset.title}")


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, S.ICS_STEP, FAMILY, [("ics", figure3)])


if __name__ == "__main__":  # python3 -m plots.ics: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
