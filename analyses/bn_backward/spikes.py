"""Gradient-norm spikes of training runs, grouped by bn_backward, pooled over seeds.

A spike is a step whose training-batch gradient norm exceeds 3x the median of the 50 steps
before it. Prints, per group: spikes per 1000 steps, the largest ratio to that running median,
and the largest gradient norm (mean +- sd over seeds).

    python3 analyses/bn_backward/spikes.py RUN.h5 [RUN.h5 ...]
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from plots import schema as S  # noqa: E402  (the run files' HDF5 names)

WINDOW, FACTOR = 50, 3.0


def spikes(grad_norm):
    """(spikes per 1000 steps, max ratio to the trailing median, max norm) of one series."""
    g = np.asarray(grad_norm, dtype=float)
    ratios = np.array([g[i] / np.median(g[i - WINDOW:i]) for i in range(WINDOW, len(g))])
    return 1000.0 * np.sum(ratios > FACTOR) / max(1, len(ratios)), float(np.max(ratios)), float(np.max(g))


def group_of(f, key):
    for line in f.attrs[S.CONFIG_TOML].splitlines():
        if line.startswith(key + " ="):
            return line.split("=", 1)[1].strip().strip('"')
    return "?"


def main(paths, key="bn_backward"):
    groups = {}
    for p in paths:
        with h5py.File(p, "r") as f:
            groups.setdefault(group_of(f, key), []).append(spikes(f[S.STEPS_GRAD_NORM][()]))
    print(f"gradient-norm spikes (step norm > {FACTOR:g}x median of the previous {WINDOW} steps)")
    print(f"{key:<12} {'seeds':>5} {'spikes/1000 steps':>20} {'max ratio':>16} {'max grad norm':>16}")
    for name, rows in sorted(groups.items()):
        a = np.array(rows)
        cells = [f"{m:.2f} +- {s:.2f}" for m, s in zip(a.mean(axis=0), a.std(axis=0, ddof=1) if len(a) > 1 else 0 * a[0])]
        print(f"{name:<12} {len(a):>5} {cells[0]:>20} {cells[1]:>16} {cells[2]:>16}")


if __name__ == "__main__":
    main(sys.argv[1:])
