#!/usr/bin/python3
"""Spectral density by SLQ: bnlandscape probe against PyHessian's density algorithm (issue 17).

Both compute K runs of M Lanczos steps with full reorthogonalisation on the Hessian of the mean
cross-entropy of the same checkpoint (the Fashion-MNIST MLP 784-512-256-128-10, with or without
BN) on the same probe set (the first --probe-size training examples, file order, normalised with
bnlandscape's mean 0.2860 / std 0.3530), in float32, BN in training mode (batch statistics), with
the same thread settings (one intra-op thread, --threads OpenBLAS threads: what bnlandscape's
configure_threads sets). Timed:
  * bnlandscape   `probe --checkpoint ... --top-k 0 --density-runs K --density-steps M`; the
                  time is the run file's /density/seconds (the density alone: the graph of the
                  gradient is built before it, as PyHessian builds it in hessian.__init__);
  * pyhessian     PyHessian 0.1's `hessian.density(iter=M, n_v=K)` re-implemented below line for
                  line (the package is not in Debian): per step one torch.autograd.grad of the
                  stored gradient, a Python loop of per-tensor dot products and axpys against
                  every earlier Lanczos vector (one Gram-Schmidt pass), and the tridiagonal's
                  eigendecomposition (torch.eig in PyHessian, removed from torch; torch.linalg.eigh
                  here, on an M x M matrix: negligible).
Each measurement runs in a fresh process; variants alternate (--reps rounds) and medians are
reported. The checkpoint is trained first (`bnlandscape train`, 1 epoch, seed 0) unless
--checkpoint is given.

Usage: /usr/bin/python3 bench/density_bench.py [--binary build/bnlandscape] [--threads 2]
           [--reps 3] [--runs 8] [--steps 80] [--probe-size 1024] [--bn custom|none]
           [--checkpoint FILE --checkpoint-group GROUP] [--append bench/RESULTS.md]
Internal: density_bench.py worker ... (one PyHessian measurement, prints JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_bench import read_idx, set_threads  # noqa: E402  (shared with the training bench)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # bnlandscape's Fashion-MNIST normalisation (src/data/dataset.cpp)
PYTHON = "/usr/bin/python3"


# ------------------------------------------------------------------------------- PyHessian
# pyhessian/utils.py and pyhessian/hessian.py (Yao et al. 2020, v0.1), single-batch mode.

def group_product(xs, ys):
    return sum([(x * y).sum() for (x, y) in zip(xs, ys)])


def group_add(params, update, alpha=1):
    for i, p in enumerate(params):
        params[i].data.add_(update[i] * alpha)
    return params


def normalization(v):
    s = group_product(v, v)
    s = s ** 0.5
    s = s.cpu().item()
    v = [vi / (s + 1e-6) for vi in v]
    return v


def orthnormal(w, v_list):
    for v in v_list:
        w = group_add(w, v, alpha=-group_product(w, v))
    return normalization(w)


def hessian_vector_product(gradsH, params, v):
    import torch
    return torch.autograd.grad(gradsH, params, grad_outputs=v, only_inputs=True, retain_graph=True)


def pyhessian_density(params, gradsH, iter=100, n_v=1):
    import torch
    eigen_list_full, weight_list_full = [], []
    for _ in range(n_v):
        v = [torch.randint_like(p, high=2) for p in params]
        for v_i in v:
            v_i[v_i == 0] = -1
        v = normalization(v)
        v_list = [v]
        alpha_list, beta_list = [], []
        for i in range(iter):
            if i == 0:
                w_prime = hessian_vector_product(gradsH, params, v)
                alpha = group_product(w_prime, v)
                alpha_list.append(alpha.cpu().item())
                w = group_add(list(w_prime), v, alpha=-alpha)
            else:
                beta = torch.sqrt(group_product(w, w))
                beta_list.append(beta.cpu().item())
                if beta_list[-1] != 0.:
                    v = orthnormal(w, v_list)
                else:
                    w = [torch.randn(p.size()) for p in params]
                    v = orthnormal(w, v_list)
                v_list.append(v)
                w_prime = hessian_vector_product(gradsH, params, v)
                alpha = group_product(w_prime, v)
                alpha_list.append(alpha.cpu().item())
                w_tmp = group_add(list(w_prime), v, alpha=-alpha)
                w = group_add(w_tmp, v_list[-2], alpha=-beta)
        T = torch.zeros(iter, iter)
        for i in range(len(alpha_list)):
            T[i, i] = alpha_list[i]
            if i < len(alpha_list) - 1:
                T[i + 1, i] = beta_list[i]
                T[i, i + 1] = beta_list[i]
        a_, b_ = torch.linalg.eigh(T)
        eigen_list_full.append(a_.tolist())
        weight_list_full.append((b_[0, :] ** 2).tolist())
    return eigen_list_full, weight_list_full


def worker(a) -> None:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
    intra, blas = set_threads(1, a.threads)
    torch.manual_seed(a.seed)
    with h5py.File(a.checkpoint, "r") as f:
        g = f[a.checkpoint_group]
        t = {k: torch.tensor(np.asarray(g[k]), dtype=torch.float32) for k in g if isinstance(g[k], h5py.Dataset)}
    linears = sorted({k.rsplit(".", 1)[0] for k in t if k.endswith(".weight")}, key=lambda s: int(s.split(".")[1]))
    params = []
    layers = []
    for name in sorted({k.rsplit(".", 1)[0] for k in t if k.startswith("net.")}, key=lambda s: int(s.split(".")[1])):
        if f"{name}.running_var" in t:  # BatchNorm: torch's names, or gamma/beta before 2026-12
            old = f"{name}.gamma" in t
            gamma = t[f"{name}.gamma" if old else f"{name}.weight"].requires_grad_()
            beta = t[f"{name}.beta" if old else f"{name}.bias"].requires_grad_()
            layers.append(("bn", gamma, beta))
            params += [gamma, beta]
        elif name in linears:
            w, b = t[f"{name}.weight"].requires_grad_(), t[f"{name}.bias"].requires_grad_()
            layers.append(("linear", w, b))
            params += [w, b]
    images = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:a.probe_size]
    labels = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:a.probe_size]
    x = (torch.tensor(images, dtype=torch.float32).reshape(len(images), -1) / 255.0 - MEAN) / STD
    y = torch.tensor(labels.astype("int64"))

    h = x
    nlin = sum(1 for k, _, _ in layers if k == "linear")
    seen = 0
    for kind, p1, p2 in layers:
        if kind == "linear":
            h = F.linear(h, p1, p2)
            seen += 1
            if seen < nlin and not any(k == "bn" for k, _, _ in layers):
                h = F.relu(h)
        else:
            h = F.relu(F.batch_norm(h, None, None, p1, p2, training=True, eps=1e-5))
    loss = F.cross_entropy(h, y)
    loss.backward(create_graph=True)
    gradsH = [p.grad + 0.0 for p in params]
    t0 = time.perf_counter()
    nodes, weights = pyhessian_density(params, gradsH, iter=a.steps, n_v=a.runs)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "loss": loss.item(), "intra": intra, "blas": blas,
                      "top_node": max(max(n) for n in nodes),
                      "trace": float(np.mean([sum(w * l for w, l in zip(ws, ns)) for ns, ws in zip(nodes, weights)]))
                      * sum(p.numel() for p in params)}))


# ------------------------------------------------------------------------------- driver

def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="bench", choices=("bench", "worker"))
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "bnlandscape"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--probe-size", type=int, default=1024)
    ap.add_argument("--bn", default="custom", choices=("custom", "none"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint")
    ap.add_argument("--checkpoint-group")
    ap.add_argument("--append", help="append the result table to this markdown file")
    a = ap.parse_args()
    if a.mode == "worker":
        worker(a)
        return
    import h5py
    tmp = tempfile.mkdtemp(prefix="bnl_density_bench_")
    if not a.checkpoint:
        a.checkpoint = os.path.join(tmp, "train.h5")
        run([a.binary, "train", "--dataset", "fashion-mnist", "--arch", "mlp", "--bn", a.bn, "--epochs", "1",
             "--seed", "0", "--threads", str(a.threads), "--quiet", "--out", a.checkpoint])
        with h5py.File(a.checkpoint, "r") as f:
            a.checkpoint_group = "/checkpoints/" + sorted(f["checkpoints"])[-1]
    ours, theirs, info = [], [], {}
    for rep in range(a.reps):
        out = os.path.join(tmp, f"probe{rep}.h5")
        run([a.binary, "probe", "--checkpoint", a.checkpoint, "--checkpoint-group", a.checkpoint_group,
             "--probe-batch", "fixed", "--probe-size", str(a.probe_size), "--top-k", "0",
             "--density-runs", str(a.runs), "--density-steps", str(a.steps), "--threads", str(a.threads),
             "--seed", str(a.seed + rep), "--quiet", "--overwrite", "--out", out])
        with h5py.File(out, "r") as f:
            ours.append(float(f["density/seconds"][0]))
            n, w = f["density/nodes"][0], f["density/weights"][0]
            info["ours_top_node"] = float(n.max())
            info["ours_trace"] = float((n * w).sum() / a.runs * f["density"].attrs["num_params"])
            info["ours_hvps"] = int(f["density/hvp_count"][0])
            info["ours_loss"] = float(f["probes/loss"][0])
        p = run([PYTHON, os.path.abspath(__file__), "worker", "--checkpoint", a.checkpoint, "--checkpoint-group",
                 a.checkpoint_group, "--threads", str(a.threads), "--runs", str(a.runs), "--steps", str(a.steps),
                 "--probe-size", str(a.probe_size), "--seed", str(a.seed + rep)])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        theirs.append(r["seconds"])
        info.update({f"py_{k}": v for k, v in r.items() if k != "seconds"})
        print(f"rep {rep}: bnlandscape {ours[-1]:.2f} s, PyHessian {theirs[-1]:.2f} s", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    load = os.getloadavg()[0]
    cmd = (f"/usr/bin/python3 bench/density_bench.py --threads {a.threads} --reps {a.reps} --runs {a.runs} "
           f"--steps {a.steps} --probe-size {a.probe_size} --bn {a.bn}")
    table = "\n".join([
        f"| variant | K x M | threads (intra, BLAS) | seconds (median of {a.reps}) | each |",
        "| --- | --- | --- | --- | --- |",
        f"| bnlandscape probe, /density/seconds | {a.runs} x {a.steps} | 1, {a.threads} | {mo:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in ours)} |",
        f"| PyHessian density (re-implemented) | {a.runs} x {a.steps} | 1, {a.threads} | {mt:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in theirs)} |",
        "",
        f"Ratio bnlandscape / PyHessian: **{mo / mt:.2f}x**. Loss at the checkpoint: {info['ours_loss']:.5f} "
        f"(bnlandscape) vs {info['py_loss']:.5f} (Python); largest node {info['ours_top_node']:.4g} vs "
        f"{info['py_top_node']:.4g}; SLQ trace estimate {info['ours_trace']:.4g} vs {info['py_trace']:.4g} "
        f"(different random starts). {info['ours_hvps']} HVPs. 1-min load average at the end: {load:.2f}.",
        f"Command: `{cmd}`",
    ])
    print(table)
    if a.append:
        with open(a.append, "a") as f:
            f.write(f"\n### SLQ density, Fashion MLP ({'BN' if a.bn == 'custom' else 'no BN'}), probe set "
                    f"{a.probe_size}: bnlandscape vs PyHessian\n\n{table}\n")


if __name__ == "__main__":
    main()
