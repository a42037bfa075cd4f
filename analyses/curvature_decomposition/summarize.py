"""Tables, figures and machine-readable results of the curvature_decomposition study: Hessian H vs
Gauss-Newton G at the start, middle and end of training, BN vs no BN, MLP / ConvMLP / VGG.

    /usr/bin/python3 analyses/curvature_decomposition/summarize.py RUNS_DIR [--out results.md]
        [--json results.json] [--figures DIR]

RUNS_DIR holds ``fashion_<mlp|cnn>_<bn|nobn>_seed<S>.h5`` (probe runs probing at step 0, half way
and at the end) and ``vgg/fashion_vgg_<bn|nobn>_seed<S>_<start|middle|end>.h5`` (a one-step probe
run's step-0 probe, and offline probes of the paper_vgg run's checkpoints), written by run.sh.

Per point (definitions; the README repeats them), on the fixed probe set of 128 training images:

- lambda_1(H), lambda_1(G): the top eigenvalues (Lanczos, tol 1e-2); G/H: lambda_j(G) /
  lambda_j(H) averaged over j = 1..10 (1: the top of H is G's; Papyan 2019).
- gradient share in the top-10 eigenspace: ||P_10 g||^2 / ||g||^2 with P_10 the projector on the
  top-10 Ritz vectors of H (of G); Gur-Ari et al. and Ghorbani et al. report it near 1 without
  BN. For a random direction it would be 10 / P.
- outliers (gap): j at the largest ratio lambda_j / lambda_{j+1}, j = 1..11, over the top-12 of H:
  where the top of the spectrum separates from the rest (Ghorbani et al.: about the number of
  classes, 10, without BN).
- near top: P x the SLQ mass within a factor 10 of the largest Ritz value (analyses/study_density.py),
  the estimated number of eigenvalues of that size; trace: P x sum of the SLQ weights x nodes.

Seed mean +- 95% t half-width; BN / no BN ratio of geometric means with its 95% Welch interval,
and Welch's p.
"""

from __future__ import annotations

import glob
import math
import os
import re
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
from plots import schema as S  # noqa: E402
import study_density as sd  # noqa: E402
import study_runs as sr  # noqa: E402
import study_stats as st  # noqa: E402

ARCHS = {"mlp": "MLP", "cnn": "ConvMLP (BN in the head)", "vgg": "VGG-11 x0.25 (BN after every conv)"}
POINTS = ("start", "middle", "end", "late")  # late: VGG only, the long pair's 8-epoch checkpoints
MEASURES = [
    ("lam_h", "lambda_1(H)"),
    ("lam_g", "lambda_1(G)"),
    ("g_over_h", "lambda_j(G) / lambda_j(H), mean j <= 10"),
    ("share_h", "gradient share, top-10 of H"),
    ("share_g", "gradient share, top-10 of G"),
    ("gap_index", "outliers: index of the largest gap (H)"),
    ("near_top_h", "near top (H)"),
    ("near_top_g", "near top (G)"),
    ("trace_h", "trace H (SLQ)"),
    ("trace_g", "trace G (SLQ)"),
]


def density_row(f: h5py.File, group: str, nodes_name: str, weights_name: str, step_name: str, step: int):
    """(stats, nodes, weights, K) of the density row at `step` in `group`, or None."""
    if group not in f:
        return None
    steps = f[step_name][:]
    rows = np.nonzero(steps == step)[0]
    if not rows.size:
        return None
    K, M, P = (int(f[group].attrs[k]) for k in (S.DENSITY_RUNS, S.DENSITY_STEPS, S.DENSITY_NUM_PARAMS))
    nodes, weights = f[nodes_name][rows[0]], f[weights_name][rows[0]]
    return sd.density_stats(nodes, weights, K, M, P, 1e-4), np.asarray(nodes), np.asarray(weights), K


def point_measures(f: h5py.File, row: int) -> dict:
    """The measures of /probes row `row` and the density rows at its step."""
    step = int(f[S.PROBES_STEP][row])
    h, g = f[S.PROBES_EIGVALS][row], f[S.PROBES_GGN_EIGVALS][row]
    j = min(10, len(h), len(g))
    with np.errstate(all="ignore"):
        gaps = h[:-1] / h[1:]
    m = {"step": step, "lam_h": float(h[0]), "lam_g": float(g[0]),
         "g_over_h": float(np.nanmean(g[:j] / h[:j])),
         "share_h": float(f[S.PROBES_GRAD_TOPK_SHARE][row][j - 1]),
         "share_g": float(f[S.PROBES_GGN_GRAD_TOPK_SHARE][row][j - 1]),
         "gap_index": float(np.nanargmax(gaps) + 1) if np.isfinite(gaps).any() else math.nan,
         "eig_h": h.tolist(), "eig_g": g.tolist()}
    for op, grp, nodes, weights, steps in (("h", S.DENSITY, S.DENSITY_NODES, S.DENSITY_WEIGHTS, S.DENSITY_STEP),
                                           ("g", S.DENSITY_GGN, S.DENSITY_GGN_NODES, S.DENSITY_GGN_WEIGHTS,
                                            S.DENSITY_GGN_STEP)):
        d = density_row(f, grp, nodes, weights, steps, step)
        m[f"near_top_{op}"] = d[0].get("near_top", math.nan) if d else math.nan
        m[f"trace_{op}"] = d[0].get("trace", math.nan) if d else math.nan
        m[f"density_{op}"] = (d[1], d[2], d[3]) if d else None
    return m


def trained_source(f: h5py.File) -> bool:
    """Whether the run a probe file measured had trained (final test accuracy >= 0.5): its own
    outcome for a probe run, the probed checkpoint's run's for an offline probe. A network that
    has not left chance (the VGG without BN in its first epochs) is left out of the BN / no BN
    comparisons, as in the other studies."""
    source = f.attrs.get(S.CHECKPOINT_FILE)
    if source and os.path.exists(source):
        with h5py.File(source, "r") as g:
            # the test accuracy of the last epoch the checkpoint had finished
            step = int(g[f.attrs[S.CHECKPOINT_GROUP]].attrs["step"])
            done = g[S.EPOCHS_STEP][:] <= step
            acc = g[S.EPOCHS_TEST_ACC][:][done]
            return bool(acc.size == 0 or acc[-1] >= sr.TRAINED_ACC)
    return sr.outcome(f)["trained"] or S.EPOCHS_TEST_ACC not in f


def read_points(runs_dir: str, notes: list) -> list[dict]:
    """One dict per (arch, bn, seed, point) with the measures; unfinished files noted and skipped."""
    out = []

    def add(path, arch, point, row_pick):
        with h5py.File(path, "r") as f:
            if not sr.finished(f):
                notes.append(f"left out {os.path.relpath(path, runs_dir)}: not finished")
                return
            cfg = sr.config(f)
            rows = row_pick(f[S.PROBES_STEP][:])
            trained = trained_source(f)
            for point_name, row in zip(point, rows):
                m = point_measures(f, row)
                m.update({"arch": arch, "bn": cfg["bn"], "seed": int(cfg["seed"]), "point": point_name,
                          "trained": trained or point_name == "start", "diverged": False})
                out.append(m)

    for path in sorted(glob.glob(os.path.join(runs_dir, "fashion_*_seed*.h5"))):
        arch = re.match(r"fashion_(mlp|cnn)_", os.path.basename(path))
        if arch:
            # start, middle, end: the first, the middle and the last probe row
            add(path, arch.group(1), POINTS, lambda s: [0, len(s) // 2, len(s) - 1] if len(s) >= 3 else [])
    for path in sorted(glob.glob(os.path.join(runs_dir, "vgg", "fashion_vgg_*_seed*_*.h5"))):
        point = os.path.basename(path).rsplit("_", 1)[1][:-3]
        # the one-step run probes step 0 (and step 0 again as its last); offline probes have one row
        add(path, "vgg", (point,), lambda s: [int(np.argmin(s))])
    return out


def summarize(points: list[dict]) -> dict:
    out = {"cells": {}}
    for arch in ARCHS:
        for point in POINTS:
            rs = [p for p in points if p["arch"] == arch and p["point"] == point]
            if rs:
                cell = st.compare_variants(rs, MEASURES, always=())
                cell["step"] = int(np.median([p["step"] for p in rs]))
                out["cells"][f"{arch}/{point}"] = cell
    return out


def report(out: dict, notes: list[str]) -> str:
    lines = ["# curvature_decomposition: results", "",
             "Generated by `analyses/curvature_decomposition/summarize.py` from the run files; do not edit by hand.",
             "Seed mean +- 95% t half-width (n seeds); BN / no BN: ratio of geometric means with its 95% Welch interval",
             "(log scale) and Welch's p.", ""]
    lines += ["## At a glance: the gradient's share in the top-10 eigenspace of H, and G/H at the top", "",
              "| network | point (step) | share no BN | share BN | BN / no BN [95% CI] (p) | G/H no BN | G/H BN |",
              "|---|---|---|---|---|---|---|"]
    for key, cell in out["cells"].items():
        arch, point = key.split("/")
        a, b, c = cell["none"]["share_h"], cell["custom"]["share_h"], cell["compare"]["share_h"]
        lines.append(f"| {ARCHS[arch]} | {point} ({cell['step']}) | {st.fmt_ci(a['mean'], a['ci'])} (n={a['n']}) | "
                     f"{st.fmt_ci(b['mean'], b['ci'])} (n={b['n']}) | {st.fmt_ratio((c['ratio'], c['lo'], c['hi']))} "
                     f"({st.fmt(c['p'], 2)}) | {st.fmt(cell['none']['g_over_h']['mean'])} | "
                     f"{st.fmt(cell['custom']['g_over_h']['mean'])} |")
    lines.append("")
    for key, cell in out["cells"].items():
        arch, point = key.split("/")
        lines += [f"## {ARCHS[arch]}, {point} (step {cell['step']})", ""] + st.variant_rows(cell, MEASURES) + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def figures(points: list[dict], outdir: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    os.makedirs(outdir, exist_ok=True)
    colors = {"none": "tab:red", "custom": "tab:blue"}
    archs = [a for a in ARCHS if any(p["arch"] == a for p in points)]
    # Densities of H (solid) and G (dashed), pooled over seeds, Gaussian-broadened.
    fig = Figure(figsize=(4.5 * len(POINTS), 3.0 * len(archs)))
    axes = fig.subplots(len(archs), len(POINTS), squeeze=False)
    for i, arch in enumerate(archs):
        for j, point in enumerate(POINTS):
            ax = axes[i][j]
            for bn in ("none", "custom"):
                for op, style in (("h", "-"), ("g", "--")):
                    ds = [p[f"density_{op}"] for p in points
                          if p["arch"] == arch and p["point"] == point and p["bn"] == bn and p[f"density_{op}"]]
                    if not ds:
                        continue
                    grid, rho = sd.broadened(ds, 500)
                    ax.plot(grid, rho + 1e-12, style, color=colors[bn], lw=1.1,
                            label=f"{st.VARIANTS[bn]} {op.upper()} (n={len(ds)})")
            ax.set_yscale("log")
            ax.set_ylim(bottom=1e-6)
            ax.set_title(f"{ARCHS[arch]}: {point}", fontsize="small")
            ax.set_xlabel("eigenvalue")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="xx-small")
    fig.suptitle("SLQ densities of the Hessian (solid) and the Gauss-Newton matrix (dashed)")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "densities_h_vs_g.png"), dpi=80)

    # Top-12 eigenvalues of H and G, and the gradient's share, over the three points.
    fig = Figure(figsize=(4.5 * len(archs), 6.0))
    axes = fig.subplots(2, len(archs), squeeze=False)
    for j, arch in enumerate(archs):
        for bn in ("none", "custom"):
            for key, style in (("share_h", "-o"), ("share_g", "--s")):
                ys = [[p[key] for p in points if p["arch"] == arch and p["point"] == pt and p["bn"] == bn] for pt in POINTS]
                m = [np.nanmean(y) if y else np.nan for y in ys]
                axes[0][j].plot(POINTS, m, style, color=colors[bn], label=f"{st.VARIANTS[bn]} {key[-1].upper()}")
            end = [p for p in points if p["arch"] == arch and p["point"] == "end" and p["bn"] == bn]
            for key, style in (("eig_h", "-o"), ("eig_g", "--s")):
                if end:
                    e = np.nanmean(np.array([p[key] for p in end], float), axis=0)
                    axes[1][j].semilogy(np.arange(1, len(e) + 1), e, style, color=colors[bn], ms=3,
                                        label=f"{st.VARIANTS[bn]} {key[-1].upper()}")
        axes[0][j].set_title(f"{ARCHS[arch]}: gradient share in top-10", fontsize="small")
        axes[0][j].set_ylim(0, 1)
        axes[1][j].set_title(f"{ARCHS[arch]}: top-12 eigenvalues at the end", fontsize="small")
        axes[1][j].set_xlabel("j")
        for ax in axes[:, j]:
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="xx-small")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "share_and_top_eigenvalues.png"), dpi=80)


def main(argv=None) -> int:
    a = sr.summary_arguments(__doc__, "runs/curvature_decomposition", HERE).parse_args(argv)
    notes: list[str] = []
    points = read_points(a.runs, notes)
    if not points:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    out = summarize(points)
    sr.write_results(a.out, report(out, notes), a.json, st.strip_values(out))
    if a.figures:
        figures(points, a.figures)
    print(f"summarize: {len(points)} points -> {a.out}, {a.json}" + (f", {a.figures}/" if a.figures else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
