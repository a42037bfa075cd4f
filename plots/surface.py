"""Loss surfaces around a checkpoint, Li et al. 2018 (/surface of ``bnlandscape surface``).

Per surface file (file ``surface_<file name>``):

- a 2-D surface: (a) filled contours of the loss over (alpha, beta), log-spaced levels, the
  checkpoint marked at (0, 0); (b) the 1-D slices through the checkpoint, L(alpha, 0) and
  L(0, beta); (c) contours of the accuracy;
- a 1-D surface: (a) L(alpha) and (b) the accuracy along alpha.

A ``--directions pca`` surface (Li et al. 2018, section 7) also draws its trajectory over the
loss and accuracy contours: the checkpoints' coordinates (/surface/trajectory/alpha, beta) as a
line with markers, a few labelled with their training step, and labels its axes with the
principal components' explained variance, "PC1 (83.2%)".

When several files hold surfaces (e.g. BN and no BN at the end of training, with the same
directions through ``--directions-from``), ``surface_slices`` overlays their alpha slices
through the checkpoint (beta = 0 for 2-D surfaces), labelled by file and normalisation.

Cells not computed yet (an interrupted grid) are NaN and left blank.

Command line: ``python3 -m plots.surface S.h5 ... --out DIR``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from plots import schema as S
from plots import style
from plots.grouping import select, variant_label
from plots.runs import Run
from plots.style import SkipFigure

FAMILY = "surface"


def read_surface(r: Run) -> dict:
    """alpha, beta (None for 1-D), loss and acc ([a, b] or [a]) and the /surface attributes."""
    s = {"alpha": np.asarray(r.get(S.SURFACE_ALPHA), float),
         "beta": np.asarray(r.get(S.SURFACE_BETA), float) if r.has(S.SURFACE_BETA) else None,
         "loss": np.asarray(r.get(S.SURFACE_LOSS), float),
         "acc": np.asarray(r.get(S.SURFACE_ACC), float)}
    for k in (S.SURFACE_DIRECTIONS, S.SURFACE_PROBE_BN_MODE, S.SURFACE_SET, S.SURFACE_SIZE,
              S.SURFACE_DIRECTIONS_FROM):
        s[k] = r.attr(S.SURFACE, k, "")
    s["trajectory"] = read_trajectory(r)
    if s["beta"] is not None and s["loss"].shape != (len(s["alpha"]), len(s["beta"])):
        raise SkipFigure(f"/{S.SURFACE_LOSS} has shape {s['loss'].shape}, expected "
                         f"({len(s['alpha'])}, {len(s['beta'])})")
    return s


def read_trajectory(r: Run) -> dict | None:
    """The path of a pca surface: step, alpha, beta, loss [m] and the explained variance [2];
    None for other surfaces."""
    if not r.has(S.SURFACE_TRAJECTORY_STEP):
        return None
    t = {"step": np.asarray(r.get(S.SURFACE_TRAJECTORY_STEP), int),
         "alpha": np.asarray(r.get(S.SURFACE_TRAJECTORY_ALPHA), float),
         "beta": np.asarray(r.get(S.SURFACE_TRAJECTORY_BETA), float),
         "loss": np.asarray(r.get(S.SURFACE_TRAJECTORY_LOSS), float),
         "explained_variance": np.full(2, np.nan)}
    if r.has(S.SURFACE_EXPLAINED_VARIANCE):
        t["explained_variance"] = np.asarray(r.get(S.SURFACE_EXPLAINED_VARIANCE), float)
    return t


def axis_labels(s: dict) -> tuple[str, str]:
    """"α (direction x)", or for a pca surface "α: PC1 (83.2%)" with its explained variance."""
    t = s["trajectory"]
    if t is None:
        return "\u03b1 (direction x)", "\u03b2 (direction y)"
    ev = t["explained_variance"]
    return tuple(f"{sym}: PC{k + 1} ({100 * ev[k]:.1f}%)" for k, sym in enumerate(("\u03b1", "\u03b2")))


def label_points(m: int, most: int = 5) -> list[int]:
    """Indices of at most `most` path points to label with their step, first and last included."""
    return sorted(set(np.linspace(0, m - 1, min(m, most)).round().astype(int).tolist()))


CORNERS = {"upper right": (1, 1), "upper left": (0, 1), "lower left": (0, 0), "lower right": (1, 0)}


def legend_corner(a: np.ndarray, b: np.ndarray, t: dict | None) -> str:
    """"upper right", or with a path the corner of the (alpha, beta) panel farthest from it."""
    if t is None:
        return "upper right"
    u = (np.append(t["alpha"], 0.0) - a[0]) / (a[-1] - a[0])
    v = (np.append(t["beta"], 0.0) - b[0]) / (b[-1] - b[0])
    return max(CORNERS, key=lambda c: np.min(np.hypot(u - CORNERS[c][0], v - CORNERS[c][1])))


def draw_path(ax, t: dict, color: str, labels: bool) -> None:
    """The trajectory as a line with markers over a contour panel, a few points labelled."""
    (line,) = ax.plot(t["alpha"], t["beta"], color=color, marker="o", markersize=3.5, linewidth=1.2,
                      label="trajectory")
    line.set_gid("trajectory")
    if labels:
        for i in label_points(len(t["step"])):
            ax.annotate(f"{t['step'][i]}", (t["alpha"][i], t["beta"][i]), xytext=(4, 4),
                        textcoords="offset points", fontsize="x-small", color=color)


def describe(r: Run, s: dict) -> str:
    src = s[S.SURFACE_DIRECTIONS_FROM]
    what = f"{s[S.SURFACE_DIRECTIONS]} directions" + (f" from {os.path.basename(src)}"
                                                     if src else "")
    return (f"{r.name} ({variant_label(r.config)}): {what}; {s[S.SURFACE_SET]} set, "
            f"{s[S.SURFACE_SIZE]} examples, BN mode {s[S.SURFACE_PROBE_BN_MODE]}")


def centre_index(axis: np.ndarray) -> int:
    return int(np.argmin(np.abs(axis)))


def loss_levels(loss: np.ndarray, n: int = 25) -> np.ndarray:
    """Log-spaced levels over the finite loss values (the surfaces span decades away from the
    minimum); linear when the range is narrow."""
    v = loss[np.isfinite(loss)]
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return np.array([lo - 1e-9, hi + 1e-9])
    if lo > 0 and hi / lo > 10:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


@style.styled
def surface_figure(r: Run):
    """The contour and slice panels of one surface file."""
    s = read_surface(r)
    loss, acc, a = s["loss"], s["acc"], s["alpha"]
    if not np.isfinite(loss).any():
        raise SkipFigure(f"{r.path}: no finite /{S.SURFACE_LOSS} cell")
    if s["beta"] is None:
        fig, axes = style.new_figure(1, 2, width=4.6, height=3.8)
        ax = axes[0, 0]
        ax.plot(a, loss, color="C3", marker="." if len(a) <= 60 else None)
        ax.axvline(0, color="0.5", linewidth=0.7)
        ax.set_xlabel("\u03b1")
        ax.set_ylabel("L(\u03b8 + \u03b1 d) (nats)")
        style.maybe_log(ax, [loss])
        ax.set_title("(a) loss along the direction")
        ax = axes[0, 1]
        ax.plot(a, acc, color="C0", marker="." if len(a) <= 60 else None)
        ax.axvline(0, color="0.5", linewidth=0.7)
        ax.set_xlabel("\u03b1")
        ax.set_ylabel("accuracy")
        ax.set_title("(b) accuracy along the direction")
        return style.finish(fig, "1-D loss surface \u2014 " + describe(r, s))

    b = s["beta"]
    fig, axes = style.new_figure(1, 3, width=4.4, height=3.8)
    ax = axes[0, 0]
    # Rows of loss are alpha (x), columns beta (y): contourf wants Z[y, x].
    masked = np.ma.masked_invalid(loss.T)
    levels = loss_levels(loss)
    cs = ax.contourf(a, b, masked, levels=levels, cmap="viridis", extend="both")
    ax.contour(a, b, masked, levels=levels[::3], colors="white", linewidths=0.4)
    fig.colorbar(cs, ax=ax, label="loss (nats)", format="%.3g")
    xlabel, ylabel = axis_labels(s)
    if s["trajectory"] is not None:
        draw_path(ax, s["trajectory"], "white", labels=True)
    ax.plot([0], [0], marker="*", color="red", markersize=9, linestyle="none", label="checkpoint")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("(a) loss L(\u03b8 + \u03b1 x + \u03b2 y)")
    ax.grid(False)
    style.legend(ax, fontsize="x-small", loc=legend_corner(a, b, s["trajectory"]))

    ax = axes[0, 1]
    i0, j0 = centre_index(a), centre_index(b)
    ax.plot(a, loss[:, j0], color="C3", label=f"L(\u03b1, \u03b2={b[j0]:g})")
    ax.plot(b, loss[i0, :], color="C0", linestyle="--", label=f"L(\u03b1={a[i0]:g}, \u03b2)")
    ax.axvline(0, color="0.5", linewidth=0.7)
    style.maybe_log(ax, [loss[:, j0], loss[i0, :]])
    ax.set_xlabel("\u03b1 or \u03b2")
    ax.set_ylabel("loss (nats)")
    ax.set_title("(b) 1-D slices through the checkpoint")
    style.legend(ax, fontsize="x-small")

    ax = axes[0, 2]
    ca = ax.contourf(a, b, np.ma.masked_invalid(acc.T), levels=20, cmap="magma")
    fig.colorbar(ca, ax=ax, label="accuracy", format="%.2f")
    if s["trajectory"] is not None:
        draw_path(ax, s["trajectory"], "white", labels=False)
    ax.plot([0], [0], marker="*", color="cyan", markersize=9, linestyle="none")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("(c) accuracy")
    ax.grid(False)
    return style.finish(fig, "Loss surface \u2014 " + describe(r, s))


@style.styled
def slices_figure(rs: list):
    """The alpha slices through the checkpoint of several surface files, overlaid."""
    fig, axes = style.new_figure(1, 1, width=6.0, height=4.2)
    ax = axes[0, 0]
    vals = []
    for k, r in enumerate(rs):
        s = read_surface(r)
        line = s["loss"] if s["beta"] is None else s["loss"][:, centre_index(s["beta"])]
        vals.append(line)
        (l,) = ax.plot(s["alpha"], line, color=f"C{k % 10}",
                       label=f"{r.name} ({variant_label(r.config)}, {s[S.SURFACE_DIRECTIONS]})")
        l.set_gid(f"slice:{r.name}")
    style.maybe_log(ax, vals)
    ax.axvline(0, color="0.5", linewidth=0.7)
    ax.set_xlabel("\u03b1")
    ax.set_ylabel("L(\u03b8 + \u03b1 x) (nats)")
    style.legend(ax, fontsize="x-small")
    return style.finish(fig, "Loss along direction x through each checkpoint")


def plan(runs, notice, context=None):
    have = select(runs, S.SURFACE_LOSS, FAMILY, notice)
    out = [(f"surface_{r.name}", lambda r=r: surface_figure(r)) for r in have]
    if len(have) > 1:
        out.append(("surface_slices", lambda: slices_figure(have)))
    return out


if __name__ == "__main__":  # python3 -m plots.surface: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
