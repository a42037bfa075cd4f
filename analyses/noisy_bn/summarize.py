"""Machine-readable result of the noisy-BN study (analyses/noisy_bn; Santurkar et al. 2018,
Figure 2) for the scorecard: does BN still help when its outputs are made unstable?

    /usr/bin/python3 analyses/noisy_bn/summarize.py RUNS_DIR [--json results.json]

RUNS_DIR (default runs/noisy_bn) holds ``<standard|bn|noisy>_seed<S>.h5`` (train runs). Per run the
final test accuracy; compared: noisy BN vs the standard (no BN) network and noisy BN vs clean BN,
seed mean +- 95% t half-width, ratio of geometric means with its 95% Welch interval, Welch's p.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
import study_runs as sr  # noqa: E402
import study_stats as st  # noqa: E402

MEASURES = [("final_acc", "final test accuracy")]


def read_run(path: str) -> dict | None:
    with h5py.File(path, "r") as f:
        if not sr.finished(f):
            return None
        cfg = sr.config(f)
        r = {"bn": cfg["bn"], "noisy": bool(cfg.get("bn_noise", False)), "seed": int(cfg["seed"])}
        r.update(sr.outcome(f))
        return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="?", default="runs/noisy_bn")
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    a = ap.parse_args(argv)
    runs = [r for r in (read_run(p) for p in sorted(glob.glob(os.path.join(a.runs, "*_seed*.h5")))) if r]
    if not runs:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    standard = [r for r in runs if r["bn"] == "none"]
    clean = [r for r in runs if r["bn"] == "custom" and not r["noisy"]]
    # compare_variants compares "custom" (here: noisy BN) against "none" (the reference).
    noisy = [dict(r, bn="custom") for r in runs if r["noisy"]]
    out = {"noisy_vs_standard": st.compare_variants(noisy + standard, MEASURES),
           "noisy_vs_bn": st.compare_variants(noisy + [dict(r, bn="none") for r in clean], MEASURES)}
    with open(a.json, "w") as f:
        json.dump(st.strip_values(out), f, indent=1, sort_keys=True)
    for k, cell in out.items():
        print(k)
        print("\n".join(st.variant_rows(cell, MEASURES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
