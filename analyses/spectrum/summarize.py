"""Tables of the spectrum study (analyses/spectrum): outliers of the Hessian spectrum with and
without BN (Ghorbani, Krishnan, Xiao 2019), per-layer curvature, loss surfaces.

    /usr/bin/python3 analyses/spectrum/summarize.py RUNS_DIR [--out results.md] [--tail 1e-3]

RUNS_DIR (default runs/spectrum) holds the study's run files, written by analyses/spectrum/run.sh:

- ``fashion_<arch>_<nobn|bn>_seed<S>.h5``  `bnlandscape probe` runs: /probes, /density
- ``layers/<same name>.h5``                 ConvMLP only: offline probe of the final checkpoint
                                            with /probes/layer_eigvals
- ``surface/<same name>.h5``                2-D filter-random surface around the final checkpoint

Which architecture, normalisation and seed a file holds is read from its stored configuration
(root attribute ``config_toml``), not from its name. Files whose status is not complete (or
diverged) are listed and left out.

Definitions (the README states the same):

- lambda_max: the top Hessian eigenvalue by Lanczos (``/probes/eigvals[:, 0]``); "SLQ max" is the
  largest Ritz value of the density (``/density/nodes``) over its K runs.
- Each SLQ run r gives nodes theta_ri and weights w_ri summing to 1; the density estimate pools
  the K runs with weights w_ri / K (mass 1 in all).
- Bulk edge (tail fraction q, default 1e-4; 1e-3 in the robustness table): the smallest node
  value t with pooled weight of the nodes <= t at least 1 - q, i.e. the weighted (1 - q) quantile
  of the pooled Ritz values. An eigenvector carries about 1/P of the mass (P parameters), so the
  edge leaves about q * P eigenvalues above it (q = 1e-4: 57 for the MLP, 182 for the ConvMLP),
  more than the ~10 (number of classes) outliers of Ghorbani et al. When the quantile falls on a
  Ritz value that carries more than half of its run's weight (the bulk lumped into one node near
  0 by a coarse SLQ), the edge is not resolved at that q and reported as nan.
- ratio = lambda_max / bulk edge: >> 1 means the top of the spectrum is far outside the bulk.
- mass above edge: pooled weight of the nodes > edge (<= q by construction), also given as
  P * mass, the estimated number of eigenvalues above the edge.
- trace: P * sum_ri w_ri theta_ri / K, the Hutchinson estimate SLQ gives (tr H); "tail share":
  the part of the positive trace, P * sum w theta over the nodes theta > 0, carried by the nodes
  above the edge (the positive part, because at initialisation tr H nearly cancels).
- gap: the largest ratio theta_(j+1) / theta_j between consecutive positive pooled nodes above the
  edge and up to lambda_max (1 when no node lies above the edge): an isolated outlier gives a
  large gap, a bulk that thins out continuously a gap near 1.
- near top: P * (pooled weight of the nodes > SLQ max / 10), the estimated number of eigenvalues
  within a factor 10 of the largest: small for a few isolated outliers, large when the top of the
  spectrum is the end of a broad bulk. Needs no edge.
- Surfaces: L(0) the loss at the checkpoint; L(r) - L(0) is the mean over 64 points of the circle
  of radius r in the (alpha, beta) plane (bilinear interpolation of the grid) minus L(0); range is
  max - min over the whole grid.

Seed statistics are mean +- sample standard deviation (ddof = 1) over the seeds present.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tomllib

import numpy as np
import h5py

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from plots import schema as S  # noqa: E402  (the run files' HDF5 names)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from study_density import density_stats  # noqa: E402

POINTS = ("start", "middle", "end")  # the three probe rows of a run, in step order
ARCH_NAMES = {"mlp": "MLP", "cnn": "ConvMLP"}
BN_NAMES = {"none": "no BN", "custom": "BN"}


# ----------------------------------------------------------------------------- reading


def read_config(f: h5py.File) -> dict:
    return tomllib.loads(f.attrs.get(S.CONFIG_TOML, ""))


def finished(f: h5py.File) -> bool:
    return f.attrs.get(S.STATUS) in (S.STATUS_COMPLETE, S.STATUS_DIVERGED)


def open_runs(pattern: str, notes: list) -> list:
    """[(path, config)] of the finished run files matching pattern, sorted by name."""
    out = []
    for path in sorted(glob.glob(pattern)):
        try:
            with h5py.File(path, "r") as f:
                if not finished(f):
                    notes.append(f"left out {path}: status {f.attrs.get(S.STATUS)}")
                    continue
                out.append((path, read_config(f)))
        except OSError as e:
            notes.append(f"left out {path}: {e}")
    return out


def key_of(cfg: dict) -> tuple:
    return (cfg.get("arch", "mlp"), cfg.get("bn", "custom"), int(cfg.get("seed", 0)))


def spectrum_rows(path: str, cfg: dict, q: float) -> list[dict]:
    """One dict per probe row of a probe run: lambda_max, density statistics."""
    rows = []
    with h5py.File(path, "r") as f:
        steps = f[S.PROBES_STEP][:]
        eig = f[S.PROBES_EIGVALS][:] if S.PROBES_EIGVALS in f else np.full((len(steps), 1), np.nan)
        d = f[S.DENSITY] if S.DENSITY in f else None
        for i, step in enumerate(steps):
            r = {"arch": cfg["arch"], "bn": cfg["bn"], "seed": int(cfg.get("seed", 0)),
                 "point": POINTS[i] if len(steps) == 3 else f"#{i}", "step": int(step),
                 "lambda_max": float(eig[i, 0]),
                 "lambda_2": float(eig[i, 1]) if eig.shape[1] > 1 else float("nan"),
                 "probe_loss": float(f[S.PROBES_LOSS][i])}
            if d is not None:
                K, M, P = (int(d.attrs[k]) for k in (S.DENSITY_RUNS, S.DENSITY_STEPS,
                                                     S.DENSITY_NUM_PARAMS))
                j = np.flatnonzero(f[S.DENSITY_STEP][:] == step)
                if j.size:
                    r.update(density_stats(f[S.DENSITY_NODES][j[-1]], f[S.DENSITY_WEIGHTS][j[-1]],
                                           K, M, P, q))
                    r["P"] = P
            if r.get("edge") is not None:
                # The ratio only means "outside the bulk" for a positive (resolved) edge.
                r["ratio"] = (r["lambda_max"] / r["edge"] if np.isfinite(r["edge"]) and r["edge"] > 0
                              else float("nan"))
            rows.append(r)
    return rows


def final_test_acc(path: str) -> float:
    with h5py.File(path, "r") as f:
        if S.EPOCHS_TEST_ACC in f:
            return float(f[S.EPOCHS_TEST_ACC][-1])
    return float("nan")


# ----------------------------------------------------------------------------- per layer


def layer_roles(blocks, kinds) -> list[str]:
    """'layer i' for the i-th Linear/Conv block, 'norm i' for the i-th norm block, so that the
    BN and no-BN models line up (as plots/spectrum.py does)."""
    roles, counts = [], {}
    for b, k in zip(blocks, kinds):
        kind = "norm" if k == "norm" else "layer"
        counts[kind] = counts.get(kind, 0) + 1
        roles.append(f"{kind} {counts[kind]} ({b})")
    return roles


def layer_rows(path: str, cfg: dict, point_names=None) -> list[dict]:
    """One dict per (probe row, block): the block's top eigenvalue."""
    rows = []
    with h5py.File(path, "r") as f:
        if S.PROBES_LAYER_EIGVALS not in f:
            return rows
        ds = f[S.PROBES_LAYER_EIGVALS]
        le = ds[:]
        blocks, kinds = ([str(x.decode() if isinstance(x, bytes) else x) for x in ds.attrs[k]]
                         for k in (S.LAYER_EIGVALS_BLOCKS, S.LAYER_EIGVALS_BLOCK_KINDS))
        roles = layer_roles(blocks, kinds)
        steps = f[S.PROBES_STEP][:]
        eig = f[S.PROBES_EIGVALS]
        for i, step in enumerate(steps):
            point = point_names[i] if point_names else (POINTS[i] if len(steps) == 3 else f"#{i}")
            for b, role in enumerate(roles):
                rows.append({"arch": cfg["arch"], "bn": cfg["bn"], "seed": int(cfg.get("seed", 0)),
                             "point": point, "step": int(step), "block": role,
                             "lambda": float(le[i, b, 0]), "lambda_max": float(eig[i, 0])})
    return rows


# ----------------------------------------------------------------------------- surfaces


def bilinear(a: np.ndarray, b: np.ndarray, z: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z (rows alpha, columns beta, both ascending) at the points (x, y), bilinearly."""
    i = np.clip(np.searchsorted(a, x) - 1, 0, len(a) - 2)
    j = np.clip(np.searchsorted(b, y) - 1, 0, len(b) - 2)
    tx = (x - a[i]) / (a[i + 1] - a[i])
    ty = (y - b[j]) / (b[j + 1] - b[j])
    return ((1 - tx) * (1 - ty) * z[i, j] + tx * (1 - ty) * z[i + 1, j]
            + (1 - tx) * ty * z[i, j + 1] + tx * ty * z[i + 1, j + 1])


def surface_row(path: str, cfg_run: dict) -> dict:
    with h5py.File(path, "r") as f:
        a, b = f[S.SURFACE_ALPHA][:], f[S.SURFACE_BETA][:]
        loss, acc = f[S.SURFACE_LOSS][:], f[S.SURFACE_ACC][:]
        i0, j0 = int(np.argmin(np.abs(a))), int(np.argmin(np.abs(b)))
        l0 = float(loss[i0, j0])
        r = {"arch": cfg_run["arch"], "bn": cfg_run["bn"], "seed": int(cfg_run.get("seed", 0)),
             "L0": l0, "acc0": float(acc[i0, j0]),
             "range": float(np.nanmax(loss) - np.nanmin(loss)), "Lmax": float(np.nanmax(loss)),
             "resolution": len(a), "size": int(f[S.SURFACE].attrs.get(S.SURFACE_SIZE, -1))}
        phi = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        for rad in (0.5, 1.0):
            # The circle of radius 1 touches the grid's edges at 4 points only; it stays inside.
            vals = bilinear(a, b, loss, rad * np.cos(phi), rad * np.sin(phi))
            r[f"dL{rad:g}"] = float(np.mean(vals) - l0)
        return r


# ----------------------------------------------------------------------------- formatting


def fmt(v, digits=4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "nan"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def mean_sd(vals) -> str:
    v = np.asarray([x for x in vals if x is not None and np.isfinite(x)], float)
    if v.size == 0:
        return "nan"
    if v.size == 1:
        return f"{fmt(float(v[0]))} (n=1)"
    return f"{fmt(float(v.mean()))} +- {fmt(float(v.std(ddof=1)), 2)} (n={v.size})"


def table(header: list[str], rows: list[list[str]], align_left: int = 1) -> str:
    out = ["| " + " | ".join(header) + " |",
           "| " + " | ".join(["---"] * align_left + ["---:"] * (len(header) - align_left)) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def order_key(r: dict):
    return (list(ARCH_NAMES).index(r["arch"]) if r["arch"] in ARCH_NAMES else 9,
            0 if r["bn"] == "none" else 1, r.get("point_idx", 0), r["seed"])


def groups(rows: list[dict], keys: tuple) -> dict:
    out = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="?", default="runs/spectrum", help="the study's run directory")
    ap.add_argument("--out", help="also write the Markdown here")
    ap.add_argument("--tail", type=float, default=1e-4,
                    help="tail fraction q of the bulk edge (default 1e-4)")
    ap.add_argument("--tail2", type=float, default=1e-3,
                    help="second tail fraction shown in the robustness table (default 1e-3)")
    args = ap.parse_args(argv)

    notes: list[str] = []
    runs = open_runs(os.path.join(args.runs, "fashion_*.h5"), notes)
    if not runs:
        print(f"no finished run file in {args.runs}", file=sys.stderr)
        return 2
    spec, spec2, layers, accs = [], [], [], {}
    for path, cfg in runs:
        spec += spectrum_rows(path, cfg, args.tail)
        spec2 += spectrum_rows(path, cfg, args.tail2)
        layers += layer_rows(path, cfg)
        accs[key_of(cfg)] = final_test_acc(path)
    # ConvMLP: per-layer eigenvalues from the offline probe of the final checkpoint.
    for path, cfg in open_runs(os.path.join(args.runs, "layers", "fashion_*.h5"), notes):
        # An offline probe's own seed only seeds Lanczos; the run it measures is the checkpoint's
        # file, whose configuration holds the training seed.
        with h5py.File(path, "r") as f:
            src = str(f.attrs.get(S.CHECKPOINT_FILE, ""))
        if src and os.path.exists(src):
            with h5py.File(src, "r") as f:
                cfg = dict(cfg, seed=int(read_config(f).get("seed", cfg.get("seed", 0))))
        layers += layer_rows(path, cfg, point_names=["end (ckpt)"])
    surf = []
    for path, _ in open_runs(os.path.join(args.runs, "surface", "fashion_*.h5"), notes):
        # A surface file's config is the surface command's; arch/bn/seed are in it, the run's
        # name ties it to the probe run.
        with h5py.File(path, "r") as f:
            cfg = read_config(f)
        surf.append(surface_row(path, cfg))
    for rs in (spec, spec2, layers):
        for r in rs:
            r["point_idx"] = POINTS.index(r["point"]) if r["point"] in POINTS else 3
    spec.sort(key=order_key)
    spec2.sort(key=order_key)

    # The directory as given, relative when it is below the working directory (run.sh passes
    # an absolute path; the table should not name one machine's checkout).
    rel = os.path.relpath(args.runs)
    shown = rel if not rel.startswith("..") else args.runs
    md = []
    md.append(f"# Spectrum study: tables\n\nGenerated by `analyses/spectrum/summarize.py` from "
              f"{len(runs)} probe runs in `{shown}`; bulk edge at tail fraction q = {args.tail:g} "
              f"(definitions: the script's docstring and the README).\n")
    if notes:
        md.append("Notes: " + "; ".join(notes) + "\n")

    # 1. Seed means, the headline table.
    md.append("## Outliers: lambda_max against the bulk edge (mean +- sd over seeds; nan: edge not resolved)\n")
    hdr = ["arch", "BN", "point (step)", "lambda_max", "SLQ max", f"bulk edge (q={args.tail:g})",
           "lambda_max / edge", "largest gap above edge", "P x mass above edge",
           "tail share of tr(H+)", "P x mass above SLQ max / 10", "trace (SLQ)",
           "lambda_2 / lambda_max"]
    body = []
    for (arch, bn, point), rs in sorted(groups(spec, ("arch", "bn", "point")).items(),
                                         key=lambda kv: order_key(kv[1][0])):
        steps = sorted({r["step"] for r in rs})
        body.append([ARCH_NAMES.get(arch, arch), BN_NAMES.get(bn, bn),
                     f"{point} ({','.join(map(str, steps))})",
                     mean_sd([r["lambda_max"] for r in rs]),
                     mean_sd([r.get("slq_max") for r in rs]),
                     mean_sd([r.get("edge") for r in rs]),
                     mean_sd([r.get("ratio") for r in rs]),
                     mean_sd([r.get("gap") for r in rs]),
                     mean_sd([r.get("count_above") for r in rs]),
                     mean_sd([r.get("tail_share") for r in rs]),
                     mean_sd([r.get("near_top") for r in rs]),
                     mean_sd([r.get("trace") for r in rs]),
                     mean_sd([r["lambda_2"] / r["lambda_max"] for r in rs])])
    md.append(table(hdr, body, 3) + "\n")

    # 2. The same at the second tail fraction: how much the edge depends on q.
    md.append(f"## Robustness: bulk edge at q = {args.tail2:g} (mean +- sd over seeds)\n")
    body = []
    for (arch, bn, point), rs in sorted(groups(spec2, ("arch", "bn", "point")).items(),
                                         key=lambda kv: order_key(kv[1][0])):
        body.append([ARCH_NAMES.get(arch, arch), BN_NAMES.get(bn, bn), point,
                     mean_sd([r.get("edge") for r in rs]), mean_sd([r.get("ratio") for r in rs]),
                     mean_sd([r.get("gap") for r in rs]), mean_sd([r.get("count_above") for r in rs])])
    md.append(table(["arch", "BN", "point", f"bulk edge (q={args.tail2:g})", "lambda_max / edge",
                     "largest gap above edge", "P x mass above edge"], body, 3) + "\n")

    # 3. Every run and probe.
    md.append("## Every run and probe point\n")
    body = []
    for r in spec:
        body.append([ARCH_NAMES.get(r["arch"], r["arch"]), BN_NAMES.get(r["bn"], r["bn"]),
                     str(r["seed"]), f"{r['point']} ({r['step']})", fmt(r["probe_loss"]),
                     fmt(r["lambda_max"]), fmt(r.get("slq_max")), fmt(r.get("slq_min")),
                     fmt(r.get("edge")), fmt(r.get("ratio")), fmt(r.get("gap")),
                     fmt(r.get("mass_above")), fmt(r.get("count_above")),
                     fmt(r.get("nodes_above")), fmt(r.get("near_top")), fmt(r.get("trace"))])
    md.append(table(["arch", "BN", "seed", "point (step)", "probe loss", "lambda_max", "SLQ max",
                     "SLQ min", "bulk edge", "ratio", "gap", "mass above edge", "P x mass",
                     "Ritz values above edge per run", "P x mass above max / 10",
                     "trace (SLQ)"], body, 4) + "\n")

    # 4. Per-layer lambda_max.
    md.append("## Per-layer curvature: top eigenvalue of each diagonal Hessian block "
              "(mean +- sd over seeds)\n")
    md.append("MLP: at the three probe points of training; ConvMLP: on the final checkpoint "
              "(one offline probe, same probe set). Blocks: `layer i` = the i-th Linear/Conv "
              "layer (weight and bias), `norm i` = the i-th BN layer (gamma, beta).\n")
    for arch in ARCH_NAMES:
        pts = sorted({r["point"] for r in layers if r["arch"] == arch},
                     key=lambda p: POINTS.index(p) if p in POINTS else 3)
        if not pts:
            continue
        blocks = []
        for r in layers:
            if r["arch"] == arch and r["block"] not in blocks:
                blocks.append(r["block"])
        # Roles line up across BN and no BN by "layer i"; the module names differ, so show the
        # role with the name of each model.
        roles = []
        for b in blocks:
            role = b.split(" (")[0]
            if role not in roles:
                roles.append(role)
        roles.sort(key=lambda k: (k.startswith("norm"), int(k.split()[1])))
        body = []
        for bn in ("none", "custom"):
            for pt in pts:
                rs = [r for r in layers if r["arch"] == arch and r["bn"] == bn and r["point"] == pt]
                if not rs:
                    continue
                cells = []
                for role in roles:
                    v = [r["lambda"] for r in rs if r["block"].split(" (")[0] == role]
                    cells.append(mean_sd(v) if v else "-")
                lm = {r["seed"]: r["lambda_max"] for r in rs}
                body.append([BN_NAMES[bn], pt] + cells + [mean_sd(list(lm.values()))])
        names = {}
        for b in blocks:
            names.setdefault(b.split(" (")[0], []).append(b.split(" (")[1].rstrip(")"))
        hdr = ["BN", "point"] + [f"{ro} ({'/'.join(dict.fromkeys(names[ro]))})" for ro in roles] + ["lambda_max (whole H)"]
        md.append(f"### {ARCH_NAMES[arch]}\n")
        md.append(table(hdr, body, 2) + "\n")

    # 5. Surfaces.
    if surf:
        md.append("## Loss surfaces around the final checkpoint (2-D, filter-random directions, "
                  "alpha, beta in [-1, 1], test examples; mean +- sd over seeds)\n")
        body = []
        for (arch, bn), rs in sorted(groups(surf, ("arch", "bn")).items(),
                                      key=lambda kv: order_key(kv[1][0])):
            body.append([ARCH_NAMES.get(arch, arch), BN_NAMES.get(bn, bn),
                         f"{rs[0]['resolution']}x{rs[0]['resolution']}, {rs[0]['size']}",
                         mean_sd([accs.get((arch, bn, r["seed"])) for r in rs]),
                         mean_sd([r["L0"] for r in rs]), mean_sd([r["acc0"] for r in rs]),
                         mean_sd([r["dL0.5"] for r in rs]), mean_sd([r["dL1"] for r in rs]),
                         mean_sd([r["range"] for r in rs])])
        md.append(table(["arch", "BN", "grid, examples", "final test acc (run)", "L(0)",
                         "acc(0)", "mean L(r=0.5) - L(0)", "mean L(r=1) - L(0)",
                         "range max - min"], body, 3) + "\n")
        body = []
        for r in sorted(surf, key=order_key):
            body.append([ARCH_NAMES.get(r["arch"], r["arch"]), BN_NAMES.get(r["bn"], r["bn"]),
                         str(r["seed"]), fmt(r["L0"]), fmt(r["acc0"]), fmt(r["dL0.5"]),
                         fmt(r["dL1"]), fmt(r["range"])])
        md.append(table(["arch", "BN", "seed", "L(0)", "acc(0)", "L(0.5) - L(0)", "L(1) - L(0)",
                         "range"], body, 3) + "\n")

    text = "\n".join(md)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
