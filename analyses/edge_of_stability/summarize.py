"""Tables, figures and machine-readable results of the edge-of-stability study
(analyses/edge_of_stability): BN vs no BN across learning rates.

    /usr/bin/python3 analyses/edge_of_stability/summarize.py RUNS_DIR [--out results.md]
        [--json results.json] [--figures DIR]

RUNS_DIR holds ``fashion_mlp_<bn|nobn>_lr<LR>_seed<S>.h5`` written by run.sh; the learning rate,
normalisation and seed of a file are read from its stored configuration, not its name.

Per run (definitions; the README repeats them):

- final test accuracy, steps to 85% (test set every 50 steps; "never" counts as missing),
  diverged (a non-finite loss), trained (not diverged, final test accuracy >= 0.5) and the
  path measures as analyses/study_runs.py defines them. Stable at an lr: all seeds trained.
- sharpness / (2/lr): the top Hessian eigenvalue at a probe times lr/2; 1 is the edge of stability
  of gradient descent (Cohen et al. 2021). "train" = mean over the probes after step 0, "late" =
  mean over the probes of the last epoch. Same for the Gauss-Newton matrix (GGN).
- layer / adaptive: the top eigenvalue of D H D, D = ||w_b|| on each scale-invariant block (BN
  layers' inputs) or diag(|w|), mean over the probes after step 0; without BN the layer scaling
  is the identity and equals the raw top eigenvalue.
- loss range (Figure 4a), gradient predictiveness (4b), effective beta (4c): averaged over the
  probes after step 0.

Per learning rate: seed mean +- 95% t half-width, BN / no BN as the ratio of geometric means with
its 95% Welch interval on the log scale, and Welch's two-sided p on the per-seed values. A
measure of a variant that did not train at that lr is left out of the comparison (a dead network
has a flat landscape for the wrong reason).
"""

from __future__ import annotations

import math
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
from plots import schema as S  # noqa: E402
import study_runs as sr  # noqa: E402
import study_stats as st  # noqa: E402

VARIANTS = st.VARIANTS
TARGET_ACC = 0.85
EOS_LATE = 0.5  # both variants' late sharpness x lr/2 at least this: "at the edge of stability"
MEASURES = [
    # key, label, what the table shows
    ("final_acc", "final test accuracy"),
    ("steps_to_85", "steps to 85% test accuracy"),
    ("sharp_train", "raw lambda_max x lr/2 (train)"),
    ("sharp_late", "raw lambda_max x lr/2 (late)"),
    ("ggn_late", "GGN lambda_max x lr/2 (late)"),
    ("layer", "layer-scaled lambda_max"),
    ("adaptive", "adaptive lambda_max"),
    ("ggn_adaptive", "GGN adaptive lambda_max"),
    ("loss_range", "loss range (Fig. 4a)"),
    ("grad_pred", "gradient predictiveness (Fig. 4b)"),
    ("beta", "effective beta (Fig. 4c)"),
]
SMOOTHNESS = ["sharp_late", "ggn_late", "layer", "adaptive", "ggn_adaptive", "loss_range", "grad_pred", "beta"]


def read_run(path: str) -> dict | None:
    with h5py.File(path, "r") as f:
        if not sr.finished(f):
            return None
        cfg = sr.config(f)
        lr = float(cfg["lr"])
        r = {"path": path, "bn": cfg["bn"], "lr": lr, "seed": int(cfg["seed"])}
        r.update(sr.outcome(f, TARGET_ACC))
        r["steps_to_85"] = r.pop("steps_to_target")
        step = f[S.PROBES_STEP][:]
        last_epoch_start = (int(cfg["epochs"]) - 1) / int(cfg["epochs"]) * step.max()
        train, late = step > 0, step >= last_epoch_start
        raw = sr.top_eigenvalue(f, S.PROBES_EIGVALS) * lr / 2
        ggn = sr.top_eigenvalue(f, S.PROBES_GGN_EIGVALS) * lr / 2
        layer = sr.top_eigenvalue(f, S.PROBES_EIGVALS_LAYER)
        adaptive = sr.top_eigenvalue(f, S.PROBES_EIGVALS_ADAPTIVE)
        r["series"] = {"step": step.tolist(), "raw": raw.tolist(), "ggn": ggn.tolist(),
                       "layer": layer.tolist(), "adaptive": adaptive.tolist()}
        r["sharp_train"] = sr.masked_mean(raw, train)
        r["sharp_late"] = sr.masked_mean(raw, late)
        r["ggn_late"] = sr.masked_mean(ggn, late)
        r["layer"] = sr.masked_mean(layer, train)
        r["adaptive"] = sr.masked_mean(adaptive, train)
        r["ggn_adaptive"] = sr.masked_mean(sr.top_eigenvalue(f, S.PROBES_GGN_EIGVALS_ADAPTIVE), train)
        for key, values in sr.path_measures(f).items():
            r[key] = sr.masked_mean(values, train)
        return r


def summarize(runs: list[dict]) -> dict:
    lrs = sorted({r["lr"] for r in runs})
    out = {"lrs": lrs, "per_lr": {}, "largest_stable_lr": {}, "eos_lrs": []}
    for lr in lrs:
        rs = [r for r in runs if r["lr"] == lr]
        cell = st.compare_variants(rs, MEASURES)
        for bn in VARIANTS:
            cell[bn]["reached_85"] = sum(not math.isnan(r["steps_to_85"]) for r in rs if r["bn"] == bn)
        out["per_lr"][str(lr)] = cell
        both_trained = all(cell[bn]["trained"] == cell[bn]["seeds"] > 0 for bn in VARIANTS)
        if both_trained and all(cell[bn]["sharp_late"]["mean"] >= EOS_LATE for bn in VARIANTS):
            out["eos_lrs"].append(lr)
    for bn in VARIANTS:
        cells = [out["per_lr"][str(lr)][bn] for lr in lrs]
        stable = [lr for lr, c in zip(lrs, cells) if c["seeds"] > 0 and c["trained"] == c["seeds"]]
        out["largest_stable_lr"][bn] = max(stable) if stable else math.nan
    out["separates_at_eos"] = {}
    for key in SMOOTHNESS:
        rows = [out["per_lr"][str(lr)]["compare"][key] for lr in out["eos_lrs"]]
        out["separates_at_eos"][key] = {
            "lrs": out["eos_lrs"], "p": [c["p"] for c in rows], "ratio": [c["ratio"] for c in rows],
            "all_p_below_0.05": bool(rows) and all(c["p"] < 0.05 for c in rows),
            "direction": ("BN lower" if all(c["ratio"] < 1 for c in rows) else
                          "BN higher" if all(c["ratio"] > 1 for c in rows) else "both ways") if rows else ""}
    return out


def table(out: dict) -> list[str]:
    lines = []
    for lr in out["lrs"]:
        cell = out["per_lr"][str(lr)]
        lines += [f"### lr = {lr:g} (2/lr = {2 / lr:g})", ""]
        status = "; ".join(
            f"{VARIANTS[bn]}: {cell[bn]['trained']}/{cell[bn]['seeds']} trained, {cell[bn]['diverged']} diverged, "
            f"{cell[bn]['reached_85']} reached 85%" for bn in ("none", "custom"))
        lines += [status, ""] + st.variant_rows(cell, MEASURES) + [""]
    return lines


def report(out: dict, runs: list[dict], notes: list[str]) -> str:
    lines = ["# Edge of stability: results", "",
             "Generated by `analyses/edge_of_stability/summarize.py` from the run files; do not edit by hand.",
             "Seed mean +- 95% t half-width; BN / no BN: ratio of geometric means, 95% Welch interval (log scale).",
             "Measures of a variant that did not train at an lr are left out (n shrinks).", ""]
    lines += ["## Stability", "", "| | " + " | ".join(f"{lr:g}" for lr in out["lrs"]) + " |",
              "|---|" + "---|" * len(out["lrs"])]
    for bn in ("none", "custom"):
        cells = [f"{out['per_lr'][str(lr)][bn]['trained']}/{out['per_lr'][str(lr)][bn]['seeds']}" for lr in out["lrs"]]
        lines.append(f"| {VARIANTS[bn]}: seeds trained | " + " | ".join(cells) + " |")
    lines += ["", "Largest stable lr (every seed trained): " + ", ".join(
        f"{VARIANTS[bn]} {st.fmt(out['largest_stable_lr'][bn])}" for bn in ("none", "custom")) + ".",
        f"At the edge of stability (both variants trained, late lambda_max x lr/2 >= {EOS_LATE} for both): "
        + (", ".join(f"{lr:g}" for lr in out["eos_lrs"]) or "none") + ".", ""]
    lines += ["## Does a smoothness measure separate BN from no BN at the edge of stability?", "",
              "| measure | " + " | ".join(f"lr {lr:g}: ratio (p)" for lr in out["eos_lrs"]) + " | separates (all p < 0.05) |",
              "|---|" + "---|" * (len(out["eos_lrs"]) + 1)]
    labels = dict(MEASURES)
    for key, s in out["separates_at_eos"].items():
        cells = [f"{st.fmt(r)} ({st.fmt(p, 2)})" for r, p in zip(s["ratio"], s["p"])]
        verdict = f"yes, {s['direction']}" if s["all_p_below_0.05"] else f"no ({s['direction']})"
        lines.append(f"| {labels[key]} | " + " | ".join(cells) + f" | {verdict} |")
    lines += ["", "## Per learning rate", ""] + table(out)
    walls = [r["wall_s"] for r in runs if not math.isnan(r["wall_s"])]
    if walls:
        lines += [f"Training wall time per run: {min(walls):.0f}-{max(walls):.0f} s ({len(runs)} runs).", ""]
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

    def band(ax, key, bn, lr, style="-", scale=1.0):
        rs = [r for r in runs if r["lr"] == lr and r["bn"] == bn and r["trained"]]
        if not rs:
            return
        n = min(len(r["series"]["step"]) for r in rs)
        step = np.asarray(rs[0]["series"]["step"][:n])
        y = np.array([np.asarray(r["series"][key][:n]) * scale for r in rs])
        label = f"{VARIANTS[bn]}{' GGN' if key == 'ggn' else ''} (n={len(rs)})"
        ax.plot(step, np.nanmean(y, axis=0), style, color=colors[bn], label=label, lw=1.4)
        ax.fill_between(step, np.nanmin(y, axis=0), np.nanmax(y, axis=0), color=colors[bn], alpha=0.2, lw=0)

    cols = 3
    rows = math.ceil(len(lrs) / cols)
    # Raw sharpness relative to the edge, with the GGN's dashed, and the scaled sharpness beside.
    for name, keys, ylabel, logy in [
        ("sharpness_x_lr_over_2.png", [("raw", "-"), ("ggn", "--")], "lambda_max x lr/2", True),
        ("adaptive_sharpness.png", [("adaptive", "-")], "adaptive lambda_max (D = diag|w|)", True),
        ("layer_sharpness.png", [("layer", "-")], "layer-scaled lambda_max", True),
    ]:
        fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, lr in zip(axes, lrs):
            for bn in ("none", "custom"):
                for key, style in keys:
                    band(ax, key, bn, lr, style)
            if name.startswith("sharpness"):
                ax.axhline(1.0, color="k", lw=0.8, ls=":")
            ax.set_title(f"lr = {lr:g}")
            ax.set_xlabel("step")
            ax.set_ylabel(ylabel)
            if logy:
                ax.set_yscale("log")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="x-small")
        for ax in axes[len(lrs):]:
            ax.set_visible(False)
        fig.suptitle("Fashion-MNIST MLP, plain SGD, mean of seeds and min-max band"
                     + (" (dotted: 2/lr)" if name.startswith("sharpness") else ""))
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=80)

    # Everything against lr: accuracy, the edge ratio, the scaled sharpness, the path measures.
    panels = [("final_acc", False), ("steps_to_85", False), ("sharp_late", True), ("ggn_late", True),
              ("adaptive", True), ("layer", True), ("loss_range", True), ("beta", True)]
    labels = dict(MEASURES)
    fig = Figure(figsize=(16, 7))
    axes = fig.subplots(2, 4).ravel()
    for ax, (key, logy) in zip(axes, panels):
        for bn in ("none", "custom"):
            m = [out["per_lr"][str(lr)][bn][key]["mean"] for lr in lrs]
            h = [out["per_lr"][str(lr)][bn][key]["ci"] for lr in lrs]
            ax.errorbar(lrs, m, yerr=np.nan_to_num(h), marker="o", capsize=3, color=colors[bn], label=VARIANTS[bn])
        if key in ("sharp_late", "ggn_late"):
            ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("learning rate")
        ax.set_title(labels[key], fontsize="small")
        ax.legend(fontsize="x-small")
    fig.suptitle("BN vs no BN across learning rates (seed mean, 95% t interval; runs that did not train left out)")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "summary_vs_lr.png"), dpi=80)


def main(argv=None) -> int:
    a = sr.summary_arguments(__doc__, "runs/edge_of_stability", HERE).parse_args(argv)
    runs, notes = sr.collect(os.path.join(a.runs, "fashion_mlp_*_lr*_seed*.h5"), read_run)
    if not runs:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    out = summarize(runs)
    sr.write_results(a.out, report(out, runs, notes), a.json, st.strip_values(out))
    if a.figures:
        figures(runs, out, a.figures)
    print(f"summarize: {len(runs)} runs -> {a.out}, {a.json}" + (f", {a.figures}/" if a.figures else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
