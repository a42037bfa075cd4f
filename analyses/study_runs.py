"""Reading the studies' run files: configuration, training outcome and per-probe measures, shared
by the summarize scripts of edge_of_stability, paper_vgg and curvature_decomposition. Every
HDF5 name comes from plots/schema.py.

Definitions (the studies' READMEs repeat them):

- final test accuracy: /train/epochs/test_acc at the last epoch (NaN for a diverged run);
  steps to X: the first /train/evals step with test accuracy >= X (NaN: never).
- trained: not diverged and final test accuracy >= 0.5 (ten classes: a network stuck at chance
  has 0.1).
- loss range (Santurkar et al. Figure 4a): max - min over the step sizes of L(w - s g);
  gradient predictiveness (4b): max over s of ||grad L(w) - grad L(w - s g)||; effective beta
  (4c): the probe's beta_smoothness.
"""

from __future__ import annotations

import math
import os
import sys
import tomllib

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from plots import schema as S  # noqa: E402

TRAINED_ACC = 0.5


def config(f: h5py.File) -> dict:
    """The run's stored configuration (root attribute config_toml)."""
    return tomllib.loads(f.attrs.get(S.CONFIG_TOML, ""))


def finished(f: h5py.File) -> bool:
    """Whether the run ended (complete or diverged), i.e. its numbers are final."""
    return f.attrs.get(S.STATUS) in (S.STATUS_COMPLETE, S.STATUS_DIVERGED)


def outcome(f: h5py.File, target_acc: float = 0.85) -> dict:
    """diverged, final_acc, steps_to_target, trained, wall_s of a training (or probe) run."""
    r = {"diverged": f.attrs.get(S.STATUS) == S.STATUS_DIVERGED}
    acc = f[S.EPOCHS_TEST_ACC][:] if S.EPOCHS_TEST_ACC in f else np.array([])
    r["final_acc"] = float(acc[-1]) if acc.size and not r["diverged"] else math.nan
    if S.EVALS_STEP in f:
        ev_step, ev_acc = f[S.EVALS_STEP][:], f[S.EVALS_TEST_ACC][:]
        hit = np.nonzero(ev_acc >= target_acc)[0]
        r["steps_to_target"] = float(ev_step[hit[0]]) if hit.size else math.nan
    else:
        r["steps_to_target"] = math.nan
    r["trained"] = (not r["diverged"]) and r["final_acc"] >= TRAINED_ACC
    r["wall_s"] = float(f[S.STEPS_WALL_TIME][-1]) if S.STEPS_WALL_TIME in f and f[S.STEPS_WALL_TIME].size else math.nan
    return r


def path_measures(f: h5py.File) -> dict:
    """Per probe: loss_range, grad_pred (max over s) and beta, as arrays over /probes rows."""
    loss_path = f[S.PROBES_LOSS_PATH][:]
    return {
        "loss_range": loss_path.max(axis=1) - loss_path.min(axis=1),
        "grad_pred": f[S.PROBES_GRAD_PRED][:].max(axis=1),
        "beta": f[S.PROBES_BETA_SMOOTHNESS][:],
    }


def top_eigenvalue(f: h5py.File, name: str) -> np.ndarray:
    """Column 0 (the largest) of a /probes eigenvalue dataset, NaN-filled when it is absent."""
    if name not in f:
        return np.full(f[S.PROBES_STEP].shape, np.nan)
    return f[name][:, 0]


def masked_mean(values, mask) -> float:
    """Mean of the finite values where mask holds (NaN when none)."""
    v = np.asarray(values, float)[np.asarray(mask, bool)]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def summary_arguments(doc: str, default_runs: str, here: str):
    """The command line every study's summarize.py takes: RUNS_DIR, --out (results.md), --json
    (results.json) and --figures (a directory; "" draws none), defaulting to the study's folder."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("runs", nargs="?", default=default_runs)
    ap.add_argument("--out", default=os.path.join(here, "results.md"))
    ap.add_argument("--json", default=os.path.join(here, "results.json"))
    ap.add_argument("--figures", default=os.path.join(here, "figures"))
    return ap


def collect(pattern: str, read_run) -> tuple[list, list[str]]:
    """(runs, notes): read_run(path) of every file matching `pattern`, sorted by name; a file it
    returns None for (not finished) or cannot read is left out with a note saying why."""
    import glob

    runs, notes = [], []
    for path in sorted(glob.glob(pattern)):
        try:
            r = read_run(path)
        except (OSError, KeyError) as e:
            notes.append(f"left out {os.path.basename(path)}: {e}")
            continue
        if r is None:
            notes.append(f"left out {os.path.basename(path)}: not finished")
        else:
            runs.append(r)
    return runs, notes


def write_results(md_path: str, text: str, json_path: str, tree) -> None:
    """results.md (the report text) and results.json (the tree, keys sorted, for the scorecard)."""
    import json

    with open(md_path, "w") as f:
        f.write(text)
    with open(json_path, "w") as f:
        json.dump(tree, f, indent=1, sort_keys=True)
