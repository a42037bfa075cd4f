"""Tables, figures and machine-readable results of the edge-of-stability study
(analyses/edge_of_stability): BN vs no BN across learning rates.

    /usr/bin/python3 analyses/edge_of_stability/summarize.py RUNS_DIR [--out results.md]
        [--json results.json] [--figures DIR]

RUNS_DIR holds ``fashion_mlp_<bn|nobn>_lr<LR>_seed<S>.h5`` written by run.sh; the learning rate,
normalisation and seed of a file are read from its stored configuration, not its name.

Per run (definitions; the README repeats them):

- final test accuracy: /train/epochs/test_acc at the last epoch; steps to 85%: the first
  /train/evals step (every 50 steps) with test accuracy >= 0.85 ("never" counts as missing).
- diverged: status ``diverged`` (a non-finite loss); trained: not diverged and final test accuracy
  >= 0.5 (ten classes: a network stuck at chance has 0.1). Stable at an lr: all seeds trained.
- sharpness / (2/lr): the top Hessian eigenvalue at a probe times lr/2; 1 is the edge of stability
  of gradient descent (Cohen et al. 2021). "train" = mean over the probes after step 0, "late" =
  mean over the probes of the last epoch. Same for the Gauss-Newton matrix (GGN).
- layer / adaptive: the top eigenvalue of D H D, D = ||w_b|| on each scale-invariant block (BN
  layers' inputs) or diag(|w|), mean over the probes after step 0; without BN the layer scaling
  is the identity and equals the raw top eigenvalue.
- loss range (Figure 4a): max - min over the step sizes of L(w - s g), gradient predictiveness
  (Figure 4b): max over s of ||grad L(w) - grad L(w - s g)||, effective beta (Figure 4c): the
  probe's beta_smoothness; each averaged over the probes after step 0.

Per learning rate: seed mean +- 95% t half-width, BN / no BN as the ratio of geometric means with
its 95% Welch interval on the log scale, and Welch's two-sided p on the per-seed values. A
measure of a variant that did not train at that lr is left out of the comparison (a dead network
has a flat landscape for the wrong reason).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import tomllib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
from plots import schema as S  # noqa: E402
import study_stats as st  # noqa: E402

VARIANTS = {"none": "no BN", "custom": "BN"}
TRAINED_ACC = 0.5
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
        status = f.attrs.get(S.STATUS)
        if status not in (S.STATUS_COMPLETE, S.STATUS_DIVERGED):
            return None
        cfg = tomllib.loads(f.attrs.get(S.CONFIG_TOML, ""))
        lr = float(cfg["lr"])
        r = {"path": path, "bn": cfg["bn"], "lr": lr, "seed": int(cfg["seed"]),
             "diverged": status == S.STATUS_DIVERGED}
        acc = f[S.EPOCHS_TEST_ACC][:] if S.EPOCHS_TEST_ACC in f else np.array([])
        r["final_acc"] = float(acc[-1]) if acc.size and not r["diverged"] else math.nan
        ev_step, ev_acc = f[S.EVALS_STEP][:], f[S.EVALS_TEST_ACC][:]
        hit = np.nonzero(ev_acc >= TARGET_ACC)[0]
        r["steps_to_85"] = float(ev_step[hit[0]]) if hit.size else math.nan
        r["trained"] = (not r["diverged"]) and r["final_acc"] >= TRAINED_ACC
        step = f[S.PROBES_STEP][:]
        last_epoch_start = (int(cfg["epochs"]) - 1) / int(cfg["epochs"]) * step.max()
        train, late = step > 0, step >= last_epoch_start
        raw = f[S.PROBES_EIGVALS][:, 0] * lr / 2
        ggn = f[S.PROBES_GGN_EIGVALS][:, 0] * lr / 2
        path_loss = f[S.PROBES_LOSS_PATH][:]
        r["series"] = {
            "step": step.tolist(), "raw": raw.tolist(), "ggn": ggn.tolist(),
            "layer": f[S.PROBES_EIGVALS_LAYER][:, 0].tolist(),
            "adaptive": f[S.PROBES_EIGVALS_ADAPTIVE][:, 0].tolist(),
        }
        with np.errstate(all="ignore"):
            r["sharp_train"] = float(np.nanmean(raw[train]))
            r["sharp_late"] = float(np.nanmean(raw[late]))
            r["ggn_late"] = float(np.nanmean(ggn[late]))
            r["layer"] = float(np.nanmean(f[S.PROBES_EIGVALS_LAYER][:, 0][train]))
            r["adaptive"] = float(np.nanmean(f[S.PROBES_EIGVALS_ADAPTIVE][:, 0][train]))
            r["ggn_adaptive"] = float(np.nanmean(f[S.PROBES_GGN_EIGVALS_ADAPTIVE][:, 0][train]))
            r["loss_range"] = float(np.nanmean((path_loss.max(axis=1) - path_loss.min(axis=1))[train]))
            r["grad_pred"] = float(np.nanmean(f[S.PROBES_GRAD_PRED][:].max(axis=1)[train]))
            r["beta"] = float(np.nanmean(f[S.PROBES_BETA_SMOOTHNESS][:][train]))
        r["wall_s"] = float(f[S.STEPS_WALL_TIME][-1]) if S.STEPS_WALL_TIME in f else math.nan
        return r


def summarize(runs: list[dict]) -> dict:
    lrs = sorted({r["lr"] for r in runs})
    out = {"lrs": lrs, "per_lr": {}, "largest_stable_lr": {}, "eos_lrs": []}
    for lr in lrs:
        cell = {}
        by = {bn: [r for r in runs if r["lr"] == lr and r["bn"] == bn] for bn in VARIANTS}
        for bn, rs in by.items():
            cell[bn] = {
                "seeds": len(rs),
                "diverged": sum(r["diverged"] for r in rs),
                "trained": sum(r["trained"] for r in rs),
                "reached_85": sum(not math.isnan(r["steps_to_85"]) for r in rs),
            }
            for key, _ in MEASURES:
                vals = [r[key] for r in rs if r["trained"] or key == "final_acc"]
                m, h, n = st.mean_ci(vals)
                cell[bn][key] = {"mean": m, "ci": h, "n": n, "values": vals}
        cmp = {}
        for key, _ in MEASURES:
            a = cell["custom"][key]["values"]
            b = cell["none"][key]["values"]
            ratio = st.ratio_ci(a, b)
            cmp[key] = {"ratio": ratio[0], "lo": ratio[1], "hi": ratio[2], "p": st.welch_p(a, b),
                        "n_bn": len(st.finite(a)), "n_nobn": len(st.finite(b))}
        cell["compare"] = cmp
        out["per_lr"][str(lr)] = cell
        both_trained = all(cell[bn]["trained"] == cell[bn]["seeds"] > 0 for bn in VARIANTS)
        if both_trained and all(cell[bn]["sharp_late"]["mean"] >= EOS_LATE for bn in VARIANTS):
            out["eos_lrs"].append(lr)
    for bn in VARIANTS:
        stable = [lr for lr in lrs if out["per_lr"][str(lr)][bn]["seeds"] > 0
                  and out["per_lr"][str(lr)][bn]["trained"] == out["per_lr"][str(lr)][bn]["seeds"]]
        out["largest_stable_lr"][bn] = max(stable) if stable else math.nan
    # Which smoothness measures separate BN from no BN at the lrs where both sit at the edge.
    out["separates_at_eos"] = {}
    for key in SMOOTHNESS:
        rows = [out["per_lr"][str(lr)]["compare"][key] for lr in out["eos_lrs"]]
        out["separates_at_eos"][key] = {
            "lrs": out["eos_lrs"], "p": [c["p"] for c in rows], "ratio": [c["ratio"] for c in rows],
            "all_p_below_0.05": bool(rows) and all(c["p"] < 0.05 for c in rows)}
    return out


def table(out: dict) -> list[str]:
    lines = []
    for lr in out["lrs"]:
        cell = out["per_lr"][str(lr)]
        lines += [f"### lr = {lr:g} (2/lr = {2 / lr:g})", ""]
        status = "; ".join(
            f"{VARIANTS[bn]}: {cell[bn]['trained']}/{cell[bn]['seeds']} trained, {cell[bn]['diverged']} diverged, "
            f"{cell[bn]['reached_85']} reached 85%" for bn in ("none", "custom"))
        lines += [status, "", "| measure | no BN | BN | BN / no BN [95% CI] | Welch p |", "|---|---|---|---|---|"]
        for key, label in MEASURES:
            a, b, c = cell["none"][key], cell["custom"][key], cell["compare"][key]
            lines.append(f"| {label} | {st.fmt_ci(a['mean'], a['ci'])} | {st.fmt_ci(b['mean'], b['ci'])} | "
                         f"{st.fmt_ratio((c['ratio'], c['lo'], c['hi']))} | {st.fmt(c['p'], 2)} |")
        lines.append("")
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
        lines.append(f"| {labels[key]} | " + " | ".join(cells) + f" | {'yes' if s['all_p_below_0.05'] else 'no'} |")
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="?", default="runs/edge_of_stability")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"))
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--figures", default=os.path.join(HERE, "figures"))
    a = ap.parse_args(argv)
    notes, runs = [], []
    for path in sorted(glob.glob(os.path.join(a.runs, "fashion_mlp_*_lr*_seed*.h5"))):
        try:
            r = read_run(path)
        except (OSError, KeyError) as e:
            notes.append(f"left out {os.path.basename(path)}: {e}")
            continue
        if r is None:
            notes.append(f"left out {os.path.basename(path)}: not finished")
        else:
            runs.append(r)
    if not runs:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    out = summarize(runs)
    with open(a.out, "w") as f:
        f.write(report(out, runs, notes))
    slim = json.loads(json.dumps(out, default=float))
    for cell in slim["per_lr"].values():
        for bn in VARIANTS:
            for key, _ in MEASURES:
                cell[bn][key].pop("values", None)
    with open(a.json, "w") as f:
        json.dump(slim, f, indent=1, sort_keys=True)
    if a.figures:
        figures(runs, out, a.figures)
    print(f"summarize: {len(runs)} runs -> {a.out}, {a.json}" + (f", {a.figures}/" if a.figures else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
