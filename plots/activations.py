"""Activation distributions from /activations (the original study's activation figures).

Schema read: ``/activations/<layer>/<site>/`` with ``step [n]``, ``hist [n x bins]``,
``bin_edges [bins+1]``, ``underflow [n]``, ``overflow [n]``, ``mean [n]``, ``std [n]``,
``quantiles [n x 7]``, ``zero_fraction [n]``; ``<layer>`` is a hidden Linear/Conv module
(``net.0``), ``<site>`` one of ``pre_norm`` (the module's output), ``post_norm`` (the
normalisation layer's output) and ``post_relu``. A run without normalisation has no
``post_norm``.

Per comparison set (see plots.runs):

- activations_ridge_nobn_<set>    ridgelines of the no-BN run's ``pre_norm`` site
- activations_ridge_prebn_<set>   ridgelines of the BN run's ``pre_norm`` site
- activations_ridge_postbn_<set>  ridgelines of the BN run's ``post_norm`` site
  (other normalisations: ``pre<variant>``/``post<variant>``, e.g. ``prelp1``, ``prebn-noise``)
- activations_stats_<set>         mean and std of every site per layer against step, all groups
                                  overlaid, averaged over seeds

A ridgeline panel per hidden layer shows one curve per snapshot (at most ``max_curves``, evenly
chosen, first and last kept): the histogram normalised to a density (counts / (all values,
under- and overflow included) / bin width), first snapshot at the top. Ridgelines use the
group's lowest seed. For MLP and CNN sets this gives the original's six figures.

Command line: ``python3 -m plots.activations RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys

import numpy as np
from matplotlib import colormaps

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, Group, organise, select, variant_slug
from plots.runs import Run
from plots.style import SkipFigure

FAMILY = "activations"
SITES = (S.SITE_PRE_NORM, S.SITE_POST_NORM, S.SITE_POST_RELU)
SITE_STYLE = {S.SITE_PRE_NORM: "-", S.SITE_POST_NORM: "--", S.SITE_POST_RELU: ":"}
SITE_NAMES = {S.SITE_PRE_NORM: "pre-norm", S.SITE_POST_NORM: "post-norm",
              S.SITE_POST_RELU: "post-ReLU"}


def layers(r: Run) -> list[str]:
    """Hidden layers with activation records, in model order."""
    return r.sort_modules(c for c in r.children(S.ACTIVATIONS)
                          if r.is_group(S.activation_path(c)))


def sites(r: Run, layer: str) -> list[str]:
    have = [c for c in r.children(S.activation_path(layer))
            if r.is_group(S.activation_path(layer, c))]
    return [s for s in SITES if s in have] + sorted(s for s in have if s not in SITES)


def has_site(r: Run, layer: str, site: str) -> bool:
    return (r.has(S.activation_path(layer, site, S.ACT_STEP))
            and r.has(S.activation_path(layer, site, S.ACT_HIST)))


def _subsample(n: int, k: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


@style.styled
def ridgeline_panel(ax, r: Run, layer: str, site: str, max_curves: int = 16,
                    cmap: str = "viridis") -> int:
    """One curve per snapshot of r's /activations/<layer>/<site>; returns the curves drawn."""
    def path(name):
        return S.activation_path(layer, site, name)

    steps = np.asarray(r.get(path(S.ACT_STEP)))
    hist = np.asarray(r.get(path(S.ACT_HIST)), float)
    edges = np.asarray(r.get(path(S.ACT_BIN_EDGES)), float)
    n = min(len(steps), hist.shape[0])
    if n == 0:
        style.message_panel(ax, "no snapshot")
        return 0
    under, over = (np.asarray(r.get(path(k)) if r.has(path(k)) else np.zeros(n), float)[:n]
                   for k in (S.ACT_UNDERFLOW, S.ACT_OVERFLOW))
    widths = np.diff(edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    total = hist[:n].sum(axis=1) + np.nan_to_num(under) + np.nan_to_num(over)
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = hist[:n] / np.where(total > 0, total, 1.0)[:, None] / widths[None, :]
    idx = _subsample(n, max_curves)
    top = np.nanmax(dens[idx]) if np.isfinite(dens[idx]).any() else 1.0
    scale = 1.6 / top if top > 0 else 1.0
    colours = colormaps[cmap]
    m = len(idx)
    for rank, i in enumerate(idx):
        off = m - 1 - rank
        y = off + np.nan_to_num(dens[i]) * scale
        c = colours(rank / max(1, m - 1))
        ax.fill_between(centres, off, y, color=c, alpha=0.75, linewidth=0, zorder=2 * rank)
        ax.plot(centres, y, color="black", linewidth=0.5, zorder=2 * rank + 1)
    ax.set_yticks([m - 1 - rank for rank in range(m)])
    ax.set_yticklabels([str(int(steps[i])) for i in idx], fontsize="x-small")
    ax.set_ylim(-0.2, m - 1 + 1.9)
    ax.set_xlim(edges[0], edges[-1])
    ax.grid(False)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.nanmax((np.nan_to_num(under) + np.nan_to_num(over))
                        / np.where(total > 0, total, 1))
    if out > 1e-3:
        ax.text(0.99, 0.99, f"outside the bins: up to {100 * out:.1f} %", transform=ax.transAxes,
                ha="right", va="top", fontsize="x-small", color="0.3")
    return m


@style.styled
def ridgeline(r: Run, site: str, title: str, max_curves: int = 16):
    """A ridgeline panel per hidden layer of run r that has `site`."""
    ls = [layer for layer in layers(r) if has_site(r, layer, site)]
    if not ls:
        raise SkipFigure(f"{r.path} has no /{S.activation_path(S.LAYER, site)}")
    fig, axes = style.new_figure(1, len(ls), width=3.4, height=4.6)
    for ax, layer in zip(axes[0], ls):
        ridgeline_panel(ax, r, layer, site, max_curves)
        ax.set_title(f"{layer} {SITE_NAMES.get(site, site)}", fontsize="small")
        ax.set_xlabel("activation")
    axes[0, 0].set_ylabel("step (one curve per snapshot)")
    return style.finish(fig, title)


def _no_bn_site(r: Run) -> str:
    for s in SITES:
        if any(has_site(r, layer, s) for layer in layers(r)):
            return s
    return S.SITE_PRE_NORM


def ridge_kinds(cset: ComparisonSet) -> list[tuple]:
    """(kind, group, site) of every ridgeline figure of a comparison set."""
    out, seen = [], set()
    for g in cset.groups:
        if not g.is_bn:
            items = [("nobn", _no_bn_site(g.first))]
        else:
            v = variant_slug(g.config)
            items = [(f"pre{v}", S.SITE_PRE_NORM), (f"post{v}", S.SITE_POST_NORM)]
        for kind, site in items:
            k, i = kind, 2
            while k in seen:
                k, i = f"{kind}-{i}", i + 1
            seen.add(k)
            out.append((k, g, site))
    return out


@style.styled
def ridge_figure(cset: ComparisonSet, g: Group, site: str, max_curves: int = 16):
    r = next((r for r in g.runs if r.has(S.ACTIVATIONS)), None)
    if r is None:
        raise SkipFigure(f"no run of {g.label} has /{S.ACTIVATIONS}")
    where = {S.SITE_PRE_NORM: "before normalisation" if g.is_bn else "Linear/Conv output",
             S.SITE_POST_NORM: "after normalisation",
             S.SITE_POST_RELU: "after ReLU"}.get(site, site)
    title = f"Activations, {g.label} ({where}, seed {r.seed}) \u2014 {cset.title}"
    return ridgeline(r, site, title, max_curves)


def stat_series(layer_index: int, site: str, stat: str):
    def get(r: Run):
        ls = layers(r)
        if layer_index >= len(ls):
            return None
        step = S.activation_path(ls[layer_index], site, S.ACT_STEP)
        values = S.activation_path(ls[layer_index], site, stat)
        if not (r.has(step) and r.has(values)):
            return None
        return r.get(step), r.get(values)
    return get


@style.styled
def stats(cset: ComparisonSet):
    """Mean and std of every site per hidden layer against step (seed averages)."""
    nl = max((len(layers(r)) for r in cset.runs), default=0)
    if nl == 0:
        raise SkipFigure(f"no layer in /{S.ACTIVATIONS}")
    fig, axes = style.new_figure(2, nl, width=3.6, height=3.0, sharex=True)
    for j in range(nl):
        names = []
        for g in cset.groups:
            r = next((r for r in g.runs if len(layers(r)) > j), None)
            if r is None:
                continue
            layer = layers(r)[j]
            names.append(layer)
            for site in sites(r, layer):
                for row, stat in enumerate((S.ACT_MEAN, S.ACT_STD)):
                    s = g.series(stat_series(j, site, stat))
                    style.draw_series(axes[row, j], s, g,
                                      label=f"{g.legend}: {SITE_NAMES.get(site, site)}",
                                      linestyle=SITE_STYLE.get(site, "-."), linewidth=1.1)
        title = f"hidden layer {j + 1}: {' / '.join(dict.fromkeys(names))}"
        axes[0, j].set_title(title, fontsize="small")
        axes[1, j].set_xlabel("step")
    axes[0, 0].set_ylabel("activation mean")
    axes[1, 0].set_ylabel("activation std")
    style.legend(axes[0, 0], fontsize="xx-small")
    return style.finish(fig, f"Activation statistics \u2014 {cset.title}\n"
                             "solid: pre-norm, dashed: post-norm, dotted: post-ReLU")


def plan(runs, notice, context=None, max_curves: int = 16):
    have = select(runs, S.ACTIVATIONS, FAMILY, notice)
    if not have:
        return []
    out = []
    for cset in organise(have, context=context or runs, notice=notice):
        for kind, g, site in ridge_kinds(cset):
            out.append((f"activations_ridge_{kind}_{cset.slug}",
                        lambda cset=cset, g=g, site=site: ridge_figure(cset, g, site, max_curves)))
        out.append((f"activations_stats_{cset.slug}", lambda cset=cset: stats(cset)))
    return out


if __name__ == "__main__":  # python3 -m plots.activations: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
