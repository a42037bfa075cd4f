"""Machine-readable result of the ICS study (analyses/ics; Santurkar et al. 2018, Figure 3) for the
scorecard: internal covariate shift with BN vs without, from the run files.

    /usr/bin/python3 analyses/ics/summarize.py RUNS_DIR [--json results.json]

RUNS_DIR (default runs/ics) holds ``<standard|bn>_seed<S>.h5`` (train runs with --ics-every 20).
Per run, as the README states: the median over the ICS probes of the mean over layers 2..L of
||G - G'|| (l2; layer 1's shift is 0 by definition) and of cos(G, G'); the final test accuracy.
BN vs no BN: seed mean +- 95% t half-width, ratio of geometric means with its 95% Welch interval,
Welch's p (analyses/study_stats.py).
"""

from __future__ import annotations

import argparse
import glob
import json
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

MEASURES = [("ics_l2", "ICS: l2 norm of G - G' (median over probes, mean of layers 2..L)"),
            ("ics_cos", "cos(G, G') (median over probes, mean of layers 2..L)"),
            ("final_acc", "final test accuracy")]


def read_run(path: str) -> dict | None:
    with h5py.File(path, "r") as f:
        if not sr.finished(f):
            return None
        cfg = sr.config(f)
        r = {"bn": cfg["bn"], "seed": int(cfg["seed"])}
        r.update(sr.outcome(f))
        l2, cos = f[S.ICS_L2][:, 1:], f[S.ICS_COS][:, 1:]
        r["ics_l2"] = float(np.nanmedian(np.nanmean(l2, axis=1)))
        r["ics_cos"] = float(np.nanmedian(np.nanmean(cos, axis=1)))
        return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="?", default="runs/ics")
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    a = ap.parse_args(argv)
    runs = [r for r in (read_run(p) for p in sorted(glob.glob(os.path.join(a.runs, "*_seed*.h5")))) if r]
    if not runs:
        print(f"summarize: no finished run files in {a.runs}", file=sys.stderr)
        return 2
    out = {"cell": st.compare_variants(runs, MEASURES)}
    with open(a.json, "w") as f:
        json.dump(st.strip_values(out), f, indent=1, sort_keys=True)
    print("\n".join(st.variant_rows(out["cell"], MEASURES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
