"""Tables, figures and machine-readable results of the paper_vgg study (analyses/paper_vgg):
VGG-11 at width 0.25 with BN after every convolution vs without, Fashion-MNIST padded to 32.

    /usr/bin/python3 analyses/paper_vgg/summarize.py RUNS_DIR [--out results.md]
        [--json results.json] [--figures DIR]

RUNS_DIR holds ``fashion_vgg_<bn|nobn>_lr<LR>_seed<S>.h5`` (probe runs) and
``density/<same name>.h5`` (offline probes of their final checkpoints), written by run.sh; the
learning rate, normalisation and seed come from each file's stored configuration.

Per run (analyses/study_runs.py defines the outcome and path measures): final test accuracy,
steps to 85% and 80% test accuracy (test set every 50 steps), the path measures averaged over the
probes after step 0, the top Hessian eigenvalue (raw, x lr/2 relative to the edge of stability
2/lr, and layer-scaled: D = ||w_b|| on every scale-invariant block, i.e. every convolution
followed by BN) averaged over the probes after step 0, and from the final checkpoint's SLQ
density (analyses/study_density.py) the largest Ritz value, the trace estimate and the number of
eigenvalues within a factor 10 of the largest ("near top"). Per lr: BN vs no BN, seed mean +- 95%
t half-width, ratio of geometric means with its 95% Welch interval, Welch p; runs that did not
train are left out of every measure but accuracy.
"""

from __future__ import annotations

import glob
import math
import os
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

VARIANTS = st.VARIANTS
MEASURES = [
    ("final_acc", "test accuracy, mean of the last epoch's evaluations"),
    ("epoch_end_acc", "test accuracy at the end of training (after a last batch of 48)"),
    ("steps_to_85", "steps to 85% test accuracy"),
    ("steps_to_80", "steps to 80% test accuracy"),
    ("final_train_loss", "final training loss (last epoch mean)"),
    ("loss_range", "loss range (Fig. 4a)"),
    ("grad_pred", "gradient predictiveness (Fig. 4b)"),
    ("beta", "effective beta (Fig. 4c)"),
    ("sharp", "raw lambda_max x lr/2"),
    ("layer", "layer-scaled lambda_max"),
    ("slq_max", "lambda_max at the end (SLQ)"),
    ("trace", "trace at the end (SLQ)"),
    ("near_top", "eigenvalues within 10x of the largest (end)"),
]


def read_run(path: str) -> dict | None:
    with h5py.File(path, "r") as f:
        if not sr.finished(f):
            return None
        cfg = sr.config(f)
        lr = float(cfg["lr"])
        r = {"path": path, "bn": cfg["bn"], "lr": lr, "seed": int(cfg["seed"])}
        r.update(sr.outcome(f, 0.85))
        r["steps_to_85"] = r.pop("steps_to_target")
        r["steps_to_80"] = sr.outcome(f, 0.80)["steps_to_target"]
        has_evals = S.EVALS_STEP in f
        ev_step = f[S.EVALS_STEP][:] if has_evals else np.array([])
        ev_acc = f[S.EVALS_TEST_ACC][:] if has_evals else np.array([])
        # The epoch-end evaluation follows a last, partial batch (30,000 = 234 x 128 + 48) whose
        # batch statistics move BN's running statistics by 10% of a 48-example estimate: it reads
        # several points below the evaluations around it. The mean over the last epoch's
        # evaluations every 50 steps is the steadier "final" accuracy; both are reported.
        r["epoch_end_acc"] = r["final_acc"]
        epochs = int(cfg["epochs"])
        last = ev_step > (epochs - 1) / epochs * (ev_step.max() if ev_step.size else 0)
        if ev_step.size and not r["diverged"]:
            r["final_acc"] = float(ev_acc[last].mean())
        r["final_train_loss"] = float(f[S.EPOCHS_TRAIN_LOSS][-1]) if f[S.EPOCHS_TRAIN_LOSS].size else math.nan
        step = f[S.PROBES_STEP][:]
        after = step > 0
        raw = sr.top_eigenvalue(f, S.PROBES_EIGVALS)
        layer = sr.top_eigenvalue(f, S.PROBES_EIGVALS_LAYER)
        path_m = sr.path_measures(f)
        for key, values in path_m.items():
            r[key] = sr.masked_mean(values, after)
        r["sharp"] = sr.masked_mean(raw * lr / 2, after)
        r["layer"] = sr.masked_mean(layer, after)
        loss_path = f[S.PROBES_LOSS_PATH][:]
        r["series"] = {
            "probe_step": step, "raw": raw * lr / 2, "layer": layer,
            "path_min": loss_path.min(axis=1), "path_max": loss_path.max(axis=1), **path_m,
            "step": f[S.STEPS_STEP][:], "loss": f[S.STEPS_LOSS][:],
            "eval_step": ev_step, "eval_acc": ev_acc,
        }
    r.update(read_density(os.path.join(os.path.dirname(path), "density", os.path.basename(path))))
    return r


def read_density(path: str) -> dict:
    """SLQ statistics of the final checkpoint's density probe (NaN when it is missing)."""
    nan = {"slq_max": math.nan, "trace": math.nan, "near_top": math.nan, "density": None}
    if not os.path.exists(path):
        return nan
    with h5py.File(path, "r") as f:
        if not sr.finished(f) or S.DENSITY_NODES not in f:
            return nan
        K, M, P = (int(f[S.DENSITY].attrs[k]) for k in (S.DENSITY_RUNS, S.DENSITY_STEPS, S.DENSITY_NUM_PARAMS))
        nodes, weights = f[S.DENSITY_NODES][-1], f[S.DENSITY_WEIGHTS][-1]
    d = sd.density_stats(nodes, weights, K, M, P, 1e-4)
    return {"slq_max": d.get("slq_max", math.nan), "trace": d.get("trace", math.nan),
            "near_top": d.get("near_top", math.nan), "density": (np.asarray(nodes), np.asarray(weights), K)}


LONG_FROM = 940  # step from which both long runs have left chance (no BN: 0.64 at step 950)


def read_long(long_dir: str) -> dict:
    """The long pair (seed 0, lr 0.1, 8 epochs): per variant the steps to 50/80/85% test accuracy,
    the final accuracy, and Figure 4's measures and the top eigenvalue averaged over the probes at
    steps >= LONG_FROM, where both networks train."""
    out = {}
    for path in sorted(glob.glob(os.path.join(long_dir, "fashion_vgg_*_lr0.1_seed0.h5"))):
        with h5py.File(path, "r") as f:
            if not sr.finished(f):
                continue
            cfg = sr.config(f)
            lr = float(cfg["lr"])
            r = {"epochs": int(f[S.EPOCHS_EPOCH].size), "final_acc": sr.outcome(f)["final_acc"]}
            for t in (0.5, 0.8, 0.85):
                r[f"steps_to_{int(t * 100)}"] = sr.outcome(f, t)["steps_to_target"]
            step = f[S.PROBES_STEP][:]
            late = step >= LONG_FROM
            for key, values in sr.path_measures(f).items():
                r[key] = sr.masked_mean(values, late)
            r["sharp"] = sr.masked_mean(sr.top_eigenvalue(f, S.PROBES_EIGVALS) * lr / 2, late)
            r["layer"] = sr.masked_mean(sr.top_eigenvalue(f, S.PROBES_EIGVALS_LAYER), late)
            r["probes_used"] = int(late.sum())
            r["eval_step"], r["eval_acc"] = f[S.EVALS_STEP][:].tolist(), f[S.EVALS_TEST_ACC][:].tolist()
            out[cfg["bn"]] = r
    return out


def long_report(lp: dict) -> list[str]:
    if len(lp) < 2:
        return []
    keys = [("epochs", "epochs"), ("final_acc", "final test accuracy"), ("steps_to_50", "steps to 50% test accuracy"),
            ("steps_to_80", "steps to 80%"), ("steps_to_85", "steps to 85%"),
            ("loss_range", f"loss range (4a), probes at steps >= {LONG_FROM}"), ("grad_pred", "gradient predictiveness (4b), same probes"),
            ("beta", "effective beta (4c), same probes"), ("sharp", "raw lambda_max x lr/2, same probes"),
            ("layer", "layer-scaled lambda_max, same probes"), ("probes_used", "probes averaged")]
    lines = ["## The long pair: seed 0, lr 0.1, continued to 8 epochs (1880 steps)", "",
             "| measure | no BN | BN | BN / no BN |", "|---|---|---|---|"]
    for key, label in keys:
        a, b = lp["none"][key], lp["custom"][key]
        ratio = b / a if a and not math.isnan(a) and not math.isnan(b) else math.nan
        lines.append(f"| {label} | {st.fmt(a, 4)} | {st.fmt(b, 4)} | {st.fmt(ratio)} |")
    return lines + [""]


def summarize(runs: list[dict]) -> dict:
    lrs = sorted({r["lr"] for r in runs})
    out = {"lrs": lrs, "per_lr": {}}
    for lr in lrs:
        out["per_lr"][str(lr)] = st.compare_variants([r for r in runs if r["lr"] == lr], MEASURES)
    walls = [r["wall_s"] for r in runs if np.isfinite(r["wall_s"])]
    out["wall_s"] = {"min": min(walls) if walls else math.nan, "max": max(walls) if walls else math.nan,
                     "sum": sum(walls)}
    return out


def report(out: dict, runs: list[dict], notes: list[str]) -> str:
    lines = ["# paper_vgg: results", "",
             "Generated by `analyses/paper_vgg/summarize.py` from the run files; do not edit by hand.",
             "Seed mean +- 95% t half-width (n seeds); BN / no BN: ratio of geometric means with its 95% Welch",
             "interval (log scale) and Welch's p. Runs that did not train are left out of every measure but accuracy.", ""]
    for lr in out["lrs"]:
        cell = out["per_lr"][str(lr)]
        lines += [f"## lr = {lr:g}", "", "; ".join(
            f"{VARIANTS[bn]}: {cell[bn]['trained']}/{cell[bn]['seeds']} trained, {cell[bn]['diverged']} diverged"
            for bn in ("none", "custom")), ""] + st.variant_rows(cell, MEASURES) + [""]
    w = out["wall_s"]
    lines += [f"Training wall time per run (probes included): {w['min']:.0f}-{w['max']:.0f} s, "
              f"{w['sum'] / 60:.0f} min in all ({len(runs)} runs, one thread each).", ""]
    lines += long_report(out.get("long", {}))
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def figures(runs: list[dict], out: dict, outdir: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    os.makedirs(outdir, exist_ok=True)
    colors = {"none": "tab:red", "custom": "tab:blue"}
    lrs = out["lrs"]

    def plot_series(ax, lr, xkey, ykey, smooth=1, logy=False, lo=None, hi=None):
        for bn in ("none", "custom"):
            rs = [r for r in runs if r["lr"] == lr and r["bn"] == bn and not r["diverged"]]
            if not rs:
                continue
            n = min(len(r["series"][xkey]) for r in rs)
            x = rs[0]["series"][xkey][:n]
            y = np.array([r["series"][ykey][:n] for r in rs], float)
            if smooth > 1:  # trailing mean over the last `smooth` steps (fewer at the start)
                c = np.cumsum(np.nan_to_num(y), axis=1)
                idx = np.arange(y.shape[1])
                lo_i = np.maximum(idx - smooth, -1)
                prev = np.where(lo_i >= 0, c[:, np.maximum(lo_i, 0)], 0.0)
                y = (c - prev) / (idx - lo_i)
            ax.plot(x, np.nanmean(y, axis=0), color=colors[bn], label=f"{VARIANTS[bn]} (n={len(rs)})", lw=1.2)
            if lo and hi:
                ylo = np.array([r["series"][lo][:n] for r in rs], float).mean(axis=0)
                yhi = np.array([r["series"][hi][:n] for r in rs], float).mean(axis=0)
                ax.fill_between(x, ylo, yhi, color=colors[bn], alpha=0.25, lw=0)
            elif len(rs) > 1:
                ax.fill_between(x, np.nanmin(y, axis=0), np.nanmax(y, axis=0), color=colors[bn], alpha=0.2, lw=0)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend(fontsize="x-small")

    panels = {
        "figure1_training.png": [("training loss (20-step mean)", "step", "loss", 20, True, None, None),
                                 ("test accuracy", "eval_step", "eval_acc", 1, False, None, None)],
        "figure4_landscape.png": [("loss range along the gradient (4a)", "probe_step", "path_min", 1, True, "path_min", "path_max"),
                                  ("gradient predictiveness (4b)", "probe_step", "grad_pred", 1, True, None, None),
                                  ("effective beta (4c)", "probe_step", "beta", 1, True, None, None)],
        "sharpness.png": [("raw lambda_max x lr/2 (dotted: 2/lr)", "probe_step", "raw", 1, True, None, None),
                          ("layer-scaled lambda_max", "probe_step", "layer", 1, True, None, None)],
    }
    for name, rows in panels.items():
        fig = Figure(figsize=(5 * len(lrs), 3 * len(rows)))
        axes = fig.subplots(len(rows), len(lrs), squeeze=False)
        for i, (title, xk, yk, smooth, logy, lo, hi) in enumerate(rows):
            for j, lr in enumerate(lrs):
                ax = axes[i][j]
                plot_series(ax, lr, xk, yk, smooth, logy, lo, hi)
                if yk == "raw":
                    ax.axhline(1.0, color="k", lw=0.8, ls=":")
                ax.set_title(f"{title}, lr {lr:g}", fontsize="small")
        fig.suptitle("VGG-11 width 0.25, Fashion-MNIST padded to 32: BN after every conv vs no BN (mean of seeds, band: seeds' range)")
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=80)

    # The final checkpoint's SLQ density, Gaussian-broadened (sigma = 1% of the spectrum's span).
    fig = Figure(figsize=(5 * len(lrs), 3.2))
    axes = fig.subplots(1, len(lrs), squeeze=False)[0]
    for ax, lr in zip(axes, lrs):
        for bn in ("none", "custom"):
            dens = [r["density"] for r in runs if r["lr"] == lr and r["bn"] == bn and r.get("density")]
            if not dens:
                continue
            grid, rho = sd.broadened(dens, 600)
            ax.plot(grid, rho + 1e-12, color=colors[bn], label=f"{VARIANTS[bn]} (n={len(dens)})")
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-6)
        ax.set_xlabel("eigenvalue")
        ax.set_title(f"Hessian density at the end, lr {lr:g}", fontsize="small")
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "density_end.png"), dpi=80)


def long_figure(lp: dict, outdir: str) -> None:
    """Test accuracy over the 8 epochs of the long pair (Figure 1's shape)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.4))
    ax = fig.subplots()
    for bn, color in (("none", "tab:red"), ("custom", "tab:blue")):
        ax.plot(lp[bn]["eval_step"], lp[bn]["eval_acc"], color=color, label=st.VARIANTS[bn])
    ax.axvline(LONG_FROM, color="k", lw=0.8, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy")
    ax.set_title("VGG-11 x0.25, lr 0.1, seed 0, 8 epochs (dotted: Figure 4 window)", fontsize="small")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "long_pair_accuracy.png"), dpi=80)


def main(argv=None) -> int:
    ap = sr.summary_arguments(__doc__, "runs/paper_vgg", HERE)
    ap.add_argument("--long", default="", help="directory of the long pair (run.sh: RUNS/long)")
    a = ap.parse_args(argv)
    runs, notes = sr.collect(os.path.join(a.runs, "fashion_vgg_*_lr*_seed*.h5"), read_run)
    if not runs:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    out = summarize(runs)
    if a.long:
        out["long"] = read_long(a.long)
    # the long pair's evaluation series are for the figure only
    tree = {k: v for k, v in out.items() if k != "long"} | {
        "long": {bn: {k: v for k, v in r.items() if not k.startswith("eval_")} for bn, r in out.get("long", {}).items()}}
    sr.write_results(a.out, report(out, runs, notes), a.json, st.strip_values(tree))
    if a.figures:
        figures(runs, out, a.figures)
        if len(out.get("long", {})) == 2:
            long_figure(out["long"], a.figures)
    print(f"summarize: {len(runs)} runs -> {a.out}, {a.json}" + (f", {a.figures}/" if a.figures else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
