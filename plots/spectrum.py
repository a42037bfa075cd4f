"""Hessian spectrum figures from /probes, BN and no BN overlaid per comparison set.

- spectrum_lambda_max_<set>  top Hessian eigenvalue (``eigvals[:, 0]``) against step, with the
                             edge-of-stability threshold (``eos_threshold``: 2/lr for plain SGD)
- spectrum_topk_<set>        every top-k eigenvalue (``eigvals``), and the bottom-k' ones
                             (``eigvals_bottom``) when the runs have them; needs k >= 2 or k' >= 1
- spectrum_trace_<set>       Hutchinson trace (``trace``), +- its standard error
                             (``trace_stderr``) for one seed, +- sd over seeds for several;
                             needs ``--trace-samples`` > 0

Non-converged eigenvalues are NaN in the file and appear as gaps.

Command line: ``python3 -m plots.spectrum RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from plots import style
from plots.runs import ComparisonSet, Run, SkipFigure, finite_any, format_value, plan_figures

FAMILY = "spectrum"


def column_series(col: str, j: int):
    def get(r: Run):
        if not (r.has("probes/step") and r.has(f"probes/{col}")):
            return None
        m = np.asarray(r.get(f"probes/{col}"), float)
        if m.ndim != 2 or j >= m.shape[1]:
            return None
        return r.get("probes/step"), m[:, j]
    return get


def probe_series(col: str):
    def get(r: Run):
        if not (r.has("probes/step") and r.has(f"probes/{col}")):
            return None
        return r.get("probes/step"), r.get(f"probes/{col}")
    return get


def _k(r: Run, col: str) -> int:
    if not r.has(f"probes/{col}"):
        return 0
    m = r.get(f"probes/{col}")
    return m.shape[1] if m.ndim == 2 else 0


def _threshold_name(cfg: dict) -> str:
    if str(cfg.get("optimizer", "sgd")) == "sgd" and float(cfg.get("momentum", 0.0) or 0.0) == 0.0:
        return "2/lr"
    return "(2 + 2\u00b7momentum)/lr"


def lambda_max(cset: ComparisonSet):
    """lambda_max against step with the 2/lr line."""
    if not any(_k(r, "eigvals") for r in cset.runs):
        raise SkipFigure("no run has /probes/eigvals (probe --top-k 0)")
    fig, axes = style.new_figure(1, 1, width=7, height=4.4)
    ax = axes[0, 0]
    thresholds = {}
    for g in cset.groups:
        style.draw_series(ax, g.series(column_series("eigvals", 0)), g, marker=".")
        t = g.series(probe_series("eos_threshold"))
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
    ax.set_xlabel("step")
    ax.set_ylabel("\u03bb_max of the Hessian")
    ax.set_title("top Hessian eigenvalue and the edge-of-stability threshold")
    style.legend(ax)
    return style.finish(fig, f"\u03bb_max \u2014 {cset.title}")


def topk(cset: ComparisonSet):
    """Every top-k eigenvalue (and bottom-k') against step."""
    k = max(_k(r, "eigvals") for r in cset.runs)
    kb = max(_k(r, "eigvals_bottom") for r in cset.runs)
    if k < 2 and kb < 1:
        raise SkipFigure(f"top-k = {k} and no bottom eigenvalues (probe --top-k 2 or more)")
    panels = [("eigvals", k, "top-k eigenvalues (descending)")] if k >= 1 else []
    if kb >= 1:
        panels.append(("eigvals_bottom", kb, "bottom-k eigenvalues (ascending)"))
    fig, axes = style.new_figure(1, len(panels), width=6, height=4.2)
    for ax, (col, kk, title) in zip(axes[0], panels):
        for g in cset.groups:
            for j in range(kk):
                alpha = 1.0 - 0.6 * j / max(1, kk - 1)
                style.draw_series(ax, g.series(column_series(col, j)), g,
                                  label=f"{g.legend}: \u03bb{j + 1}" if col == "eigvals"
                                  else f"{g.legend}: bottom {j + 1}",
                                  alpha=alpha, marker=".", linewidth=1.0)
        ax.set_xlabel("step")
        ax.set_ylabel("eigenvalue")
        ax.set_title(title)
        style.legend(ax, fontsize="x-small")
    return style.finish(fig, f"Hessian eigenvalues \u2014 {cset.title}")


def trace(cset: ComparisonSet):
    """Hutchinson trace estimate against step."""
    if not any(r.has("probes/trace") and finite_any(r.get("probes/trace")) for r in cset.runs):
        raise SkipFigure("no finite /probes/trace (probe --trace-samples 0)")
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    for g in cset.groups:
        s = g.series(probe_series("trace"))
        if s is None or not finite_any(s.mean):
            continue
        if s.nruns == 1:
            line, _ = style.draw_series(ax, s, g, label=f"{g.legend} \u00b1 s.e.", marker=".")
            r = next(r for r in g.runs if r.has("probes/trace"))
            if r.has("probes/trace_stderr"):
                se = np.asarray(r.get("probes/trace_stderr"), float)
                band = ax.fill_between(s.x, s.mean - se, s.mean + se, color=g.color,
                                       alpha=style.BAND_ALPHA, linewidth=0)
                band.set_gid(f"stderr:{g.legend}")
        else:
            style.draw_series(ax, s, g, marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("tr H (Hutchinson)")
    ax.set_title("Hessian trace")
    style.legend(ax)
    return style.finish(fig, f"Hessian trace \u2014 {cset.title}")


FIGURES = (
    ("spectrum_lambda_max", lambda_max),
    ("spectrum_topk", topk),
    ("spectrum_trace", trace),
)


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, "probes/step", FAMILY, FIGURES, probe=True)


def main(argv=None) -> int:
    from plots import cli
    return cli.run_families([sys.modules[__name__]], argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
