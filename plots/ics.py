"""Internal covariate shift (the paper's Figure 3) from /ics.

Schema read: ``/ics/step [n]``, ``/ics/l2 [n x L]`` (||G_i - G'_i||), ``/ics/cos [n x L]``
(cos(G_i, G'_i)) and the attribute ``layers`` of the group ``/ics`` (L layer names).

Per comparison set (file ``ics_<set>``): one column per layer, l2 distance on top, cosine
below, against step; BN and no BN overlaid, averaged over seeds. Layers are matched by their
position in ``layers`` (BN changes the module names).

Command line: ``python3 -m plots.ics RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from plots import style
from plots.runs import ComparisonSet, Run, SkipFigure, plan_figures

FAMILY = "ics"


def ics_layers(r: Run) -> list[str]:
    """Layer names of r's /ics (attribute ``layers``; ``layer i`` when it is missing)."""
    if not r.has("ics/l2"):
        return []
    n = r.get("ics/l2").shape[1] if r.get("ics/l2").ndim == 2 else 0
    names = r.attr("ics", "layers", None)
    if names is None or len(names) != n:
        names = [f"layer {i}" for i in range(n)]
    return [str(x) for x in names]


def column_series(col: str, j: int):
    def get(r: Run):
        if not (r.has("ics/step") and r.has(f"ics/{col}")):
            return None
        m = np.asarray(r.get(f"ics/{col}"), float)
        if m.ndim != 2 or j >= m.shape[1]:
            return None
        return r.get("ics/step"), m[:, j]
    return get


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
            s = g.series(column_series("l2", j))
            if s is not None:
                l2vals.append(s.mean)
            style.draw_series(axes[0, j], s, g, marker=".", linewidth=1.1)
            c = g.series(column_series("cos", j))
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
    return plan_figures(runs, notice, context, "ics/step", FAMILY, [("ics", figure3)])


def main(argv=None) -> int:
    from plots import cli
    return cli.run_families([sys.modules[__name__]], argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
