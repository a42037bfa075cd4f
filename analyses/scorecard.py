"""The hypothesis scorecard: one row per claim of Santurkar et al. 2018 (and of Ghorbani et al.
2019, Papyan 2019, Cohen et al. 2021), with the effect measured here and a verdict, generated
from the studies' results.json files (each written by that study's summarize.py from its run
files), and written into analyses/README.md between the scorecard markers.

    /usr/bin/python3 analyses/scorecard.py [--check]

--check: exit 1 when analyses/README.md's table differs from what the results give (the test
suite runs it, so the table cannot be edited by hand or go stale).

Verdict of a directional claim ("BN lowers X"), per network: holds when the 95% interval of
BN / no BN lies entirely on the claimed side of 1, opposite when entirely on the other side,
unresolved otherwise (or when not measured). A row holds when every network holds, does not hold
when none does, and is mixed otherwise. Rows with their own rule say it in their text.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import study_stats as st  # noqa: E402

README = os.path.join(HERE, "README.md")
BEGIN, END = "<!-- scorecard:begin -->", "<!-- scorecard:end -->"
STUDIES = ("edge_of_stability", "paper_vgg", "curvature_decomposition", "ics", "noisy_bn")


def load() -> dict:
    out = {}
    for s in STUDIES:
        p = os.path.join(HERE, s, "results.json")
        if os.path.exists(p):
            with open(p) as f:
                out[s] = json.load(f)
    return out


def dig(tree: dict, *keys):
    for k in keys:
        if not isinstance(tree, dict) or k not in tree:
            return None
        tree = tree[k]
    return tree


def side(c: dict | None, expect: str) -> str:
    """holds / opposite / unresolved for a compare entry and the claimed direction ("<1", ">1")."""
    if not c or c.get("lo") is None or math.isnan(c["lo"]):
        return "unresolved"
    below, above = c["hi"] < 1, c["lo"] > 1
    if (expect == "<1" and below) or (expect == ">1" and above):
        return "holds"
    if (expect == "<1" and above) or (expect == ">1" and below):
        return "opposite"
    return "unresolved"


def effect(c: dict | None) -> str:
    if not c:
        return "not measured"
    if c["n_nobn"] == 0 and c["n_bn"] > 0:
        return f"no no-BN run trained to compare with (BN n={c['n_bn']})"
    if c["n_bn"] == 0 and c["n_nobn"] > 0:
        return f"no BN run trained to compare with (no BN n={c['n_nobn']})"
    return f"{st.fmt_ratio((c['ratio'], c['lo'], c['hi']))} (n={c['n_bn']}/{c['n_nobn']})"


def combine(sides: list[str]) -> str:
    if not sides or all(s == "unresolved" for s in sides):
        return "unresolved"
    if all(s == "holds" for s in sides):
        return "holds"
    if not any(s == "holds" for s in sides):
        return "does not hold"
    return "mixed"


def directional(r: dict, claim: str, expect: str, items: list[tuple[str, str, tuple]], study: str,
                reached: bool = False) -> list[str]:
    """A row from (network, study key, path to its compare entry) items. With `reached` (a
    "steps to X" measure, recorded only for runs that got there): BN seeds reaching X while no no-BN
    seed does is the claim holding, beyond any ratio."""
    nets, effects, sides = [], [], []
    for net, key, path in items:
        c = dig(r.get(key, {}), *path)
        nets.append(net)
        if reached and c and c["n_bn"] > 0 and c["n_nobn"] == 0:
            effects.append(f"{net}: BN reached it ({c['n_bn']} seeds), no BN never did")
            sides.append("holds")
            continue
        effects.append(f"{net}: {effect(c)}")
        sides.append(side(c, expect) if c else "unresolved")
    verdict = combine(sides)
    detail = "; ".join(f"{n} {s}" for n, s in zip(nets, sides)) if verdict == "mixed" else ""
    return [claim, ", ".join(nets), "<br>".join(effects), verdict + (f" ({detail})" if detail else ""), study]


def eos_row(r: dict) -> list[str]:
    """Cohen et al.: lambda_max x lr/2 late in training near 1 at every lr >= 0.05 where a variant trained."""
    e = r.get("edge_of_stability")
    if not e:
        return ["", "", "not measured", "unresolved", ""]
    vals = {bn: [] for bn in st.VARIANTS}
    for lr in e["lrs"]:
        cell = e["per_lr"][str(lr)]
        for bn in st.VARIANTS:
            m = cell[bn]["sharp_late"]["mean"]
            if lr >= 0.05 and cell[bn]["trained"] == cell[bn]["seeds"] > 0 and not math.isnan(m):
                vals[bn].append(m)
    txt = "; ".join(f"{st.VARIANTS[bn]}: {st.fmt(min(v))}-{st.fmt(max(v))} over {len(v)} lrs" for bn, v in vals.items() if v)
    ok = all(v and all(0.5 <= x <= 2 for x in v) for v in vals.values())
    return ["", "", "late lambda_max x lr/2: " + txt, "holds (every trained lr in [0.5, 2])" if ok else "does not hold", ""]


def stable_lr_row(r: dict) -> list[str]:
    e, p = r.get("edge_of_stability"), r.get("paper_vgg")
    parts, sides = [], []
    if e:
        a, b = e["largest_stable_lr"]["custom"], e["largest_stable_lr"]["none"]
        seeds = max(e["per_lr"][str(lr)][bn]["seeds"] for lr in e["lrs"] for bn in st.VARIANTS)
        parts.append(f"MLP: largest stable lr BN {st.fmt(a)}, no BN {st.fmt(b)} (lrs {st.fmt(min(e['lrs']))}-"
                     f"{st.fmt(max(e['lrs']))}, up to {seeds} seeds)")
        sides.append("holds" if a > b else ("opposite" if a < b else "unresolved"))
    if p and "0.5" in p["per_lr"]:
        c = p["per_lr"]["0.5"]
        tb, tn = c["custom"]["trained"], c["none"]["trained"]
        parts.append(f"VGG at lr 0.5: trained BN {tb}/{c['custom']['seeds']}, no BN {tn}/{c['none']['seeds']}")
        sides.append("holds" if tb > tn else ("opposite" if tb < tn else "unresolved"))
    return ["", "", "<br>".join(parts) or "not measured", combine(sides), ""]


def rows(r: dict) -> list[list[str]]:
    E, V, C = "edge_of_stability", "paper_vgg", "curvature_decomposition"
    out = []
    out.append(directional(r, "Fig. 1: BN trains faster (final test accuracy at the same budget and lr 0.1)", ">1", [
        ("MLP", E, ("per_lr", "0.1", "compare", "final_acc")),
        ("VGG", V, ("per_lr", "0.1", "compare", "final_acc"))], "[edge_of_stability](edge_of_stability/README.md), [paper_vgg](paper_vgg/README.md)"))
    out.append(directional(r, "Fig. 1: BN trains faster (fewer steps to 85% / 80% test accuracy, lr 0.1)", "<1", [
        ("MLP (85%)", E, ("per_lr", "0.1", "compare", "steps_to_85")),
        ("VGG (80%)", V, ("per_lr", "0.1", "compare", "steps_to_80"))], "[edge_of_stability](edge_of_stability/README.md), [paper_vgg](paper_vgg/README.md)",
        reached=True))
    row = stable_lr_row(r)
    row[0], row[1], row[4] = "Fig. 1: BN allows a larger stable learning rate (Bjorck et al.)", "MLP, VGG", "[edge_of_stability](edge_of_stability/README.md), [paper_vgg](paper_vgg/README.md)"
    out.append(row)
    out.append(directional(r, "Fig. 2: noisy BN (unstable activation statistics) still trains better than no BN", ">1", [
        ("MLP noisy BN / no BN", "noisy_bn", ("noisy_vs_standard", "compare", "final_acc"))], "[noisy_bn](noisy_bn/README.md)"))
    ics = dig(r.get("ics", {}), "cell", "compare", "ics_l2")
    s = side(ics, "<1") if ics else "unresolved"
    out.append(["Fig. 3: ICS is not lower with BN (holds unless BN / no BN is significantly below 1)", "MLP",
                f"ICS l2: {effect(ics)}", "unresolved" if not ics else ("does not hold" if s == "holds" else "holds"),
                "[ics](ics/README.md)"])
    for key, fig, what in (("loss_range", "4a", "BN narrows the loss range along the gradient"),
                           ("grad_pred", "4b", "BN improves gradient predictiveness (smaller gradient change)"),
                           ("beta", "4c", "BN lowers the effective beta-smoothness")):
        out.append(directional(r, f"Fig. {fig}: {what}", "<1", [
            ("MLP", E, ("per_lr", "0.1", "compare", key)),
            ("VGG", V, ("per_lr", "0.1", "compare", key))], "[edge_of_stability](edge_of_stability/README.md), [paper_vgg](paper_vgg/README.md)"))
    out.append(directional(r, "Top Hessian eigenvalue lower with BN (raw)", "<1", [
        ("MLP", E, ("per_lr", "0.1", "compare", "sharp_late")),
        ("ConvMLP", C, ("cells", "cnn/end", "compare", "lam_h")),
        ("VGG", V, ("per_lr", "0.1", "compare", "sharp"))], "[edge_of_stability](edge_of_stability/README.md), [curvature_decomposition](curvature_decomposition/README.md), [paper_vgg](paper_vgg/README.md)"))
    out.append(directional(r, "Top eigenvalue lower with BN, scale-free (MLP: adaptive, D = diag(abs(w)); VGG: layer-scaled)", "<1", [
        ("MLP", E, ("per_lr", "0.1", "compare", "adaptive")),
        ("VGG", V, ("per_lr", "0.1", "compare", "layer"))], "[edge_of_stability](edge_of_stability/README.md), [paper_vgg](paper_vgg/README.md)"))
    out.append(directional(r, "Ghorbani et al.: with BN the gradient is less concentrated in the top eigenspace (they find it removed; share of g's norm squared in the top-10 of H, end)", "<1", [
        ("MLP", C, ("cells", "mlp/end", "compare", "share_h")),
        ("ConvMLP", C, ("cells", "cnn/end", "compare", "share_h")),
        ("VGG (8 epochs)", C, ("cells", "vgg/late", "compare", "share_h"))], "[curvature_decomposition](curvature_decomposition/README.md)"))
    out.append(papyan_row(r))
    row = eos_row(r)
    row[0], row[1], row[4] = "Cohen et al.: the raw top eigenvalue sits at the edge of stability 2/lr, with or without BN", "MLP", "[edge_of_stability](edge_of_stability/README.md)"
    out.append(row)
    return out


def papyan_row(r: dict) -> list[str]:
    """Papyan: the top of H is G's: mean lambda_j(G) / lambda_j(H), j <= 10, at the end in [0.8, 1.25]."""
    c = r.get("curvature_decomposition")
    parts, ok = [], []
    # The VGG without BN has not left chance at its "end" (470 steps): its "late" point (the long
    # pair's 8 epochs) is where both networks train.
    for arch, net, point in (("mlp", "MLP", "end"), ("cnn", "ConvMLP", "end"), ("vgg", "VGG", "late")):
        cell = dig(c or {}, "cells", f"{arch}/{point}")
        if not cell:
            continue
        vals = [v for v in (cell[bn]["g_over_h"]["mean"] for bn in ("none", "custom")) if not math.isnan(v)]
        if not vals:
            continue
        parts.append(f"{net}{' (8 epochs)' if point == 'late' else ''}: no BN {st.fmt(cell['none']['g_over_h']['mean'])}, "
                     f"BN {st.fmt(cell['custom']['g_over_h']['mean'])}")
        ok.append(all(0.8 <= v <= 1.25 for v in vals))
    verdict = "unresolved" if not ok else ("holds" if all(ok) else ("does not hold" if not any(ok) else "mixed"))
    return ["Papyan: the outliers of H come from the Gauss-Newton matrix G (lambda_j(G) / lambda_j(H), j <= 10, end; holds in [0.8, 1.25])",
            ", ".join(p.split(":")[0].split(" (")[0] for p in parts), "<br>".join(parts) or "not measured", verdict,
            "[curvature_decomposition](curvature_decomposition/README.md)"]


def table(r: dict) -> str:
    lines = [BEGIN, "<!-- generated by analyses/scorecard.py from the studies' results.json; do not edit -->", "",
             "| claim | network(s) here | effect: BN / no BN [95% CI] (n seeds BN/no BN) | verdict | study |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows(r)]
    missing = [s for s in STUDIES if s not in r]
    if missing:
        lines += ["", "Not yet run in this checkout (rows left unresolved): " + ", ".join(missing) + "."]
    lines.append(END)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    text = open(README).read()
    if BEGIN not in text or END not in text:
        print(f"scorecard: {README} lacks the markers {BEGIN} ... {END}", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    new = head + table(load()) + tail
    if a.check:
        if new != text:
            print("scorecard: analyses/README.md is stale; run /usr/bin/python3 analyses/scorecard.py", file=sys.stderr)
            return 1
        return 0
    with open(README, "w") as f:
        f.write(new)
    print(f"scorecard: wrote the table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
