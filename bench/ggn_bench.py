#!/usr/bin/python3
"""Gauss-Newton curvature: bnlandscape against a Python peer (curvlinops + eigenthings), issue 24.

Runs, on one checkpoint of the Fashion-MNIST MLP 784-512-256-128-10 (our BN in training mode, or
no BN) and the probe set of its first --probe-size training examples (file order, normalised as
in training), float32, one intra-op thread and --threads OpenBLAS threads on both sides:
  * `build/ggn_bench products` once (it alternates its variants itself): one product of H and G
    by the hand-written passes and by autograd, top-5 by Lanczos on each, and the scaled
    operators' overhead (bench/ggn_bench.cpp);
  * then --reps rounds of, alternately, `build/ggn_bench peer` (top-5 of G by lanczos_eigs, then
    SLQ on G with K = --runs, M = --steps; the hand-written G through HessianOperator) and the
    Python peer below, each in a fresh process; medians are reported.
The Python peer re-implements (neither package is installable here):
  * curvlinops' GGNLinearOperator (v1.x) product: per matvec, for the batch, the model's forward,
    the loss, and backpack's ggn_vector_product_from_plist: J v by the double-backward trick
    (R_op), H_out J v by double backward of the loss in the logits, J^T (.) by one backward
    (L_op); numpy in and out in the parameters' dtype (torch 1.13 has no torch.func);
  * pytorch-hessian-eigenthings' `lanczos` top-k: scipy's eigsh (ARPACK) on a LinearOperator of
    those products, which='LM' (G is positive semi-definite), ncv = 2k (their default), tol 1e-3
    (ours), v0 = np.random.rand(P) (theirs);
  * SLQ: PyHessian's `density` loop (bench/density_bench.py, line for line) with the GGN product in
    place of its Hessian-vector product.

Usage: /usr/bin/python3 bench/ggn_bench.py [--binary build/bnlandscape] [--bench build/ggn_bench]
           [--threads 2] [--reps 3] [--runs 8] [--steps 80] [--probe-size 1024] [--bn custom|none]
           [--checkpoint FILE --checkpoint-group GROUP] [--append bench/RESULTS.md]
Internal: ggn_bench.py worker ... (one Python measurement, prints JSON).
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
import density_bench  # noqa: E402  (PyHessian's density loop)
from train_bench import read_idx, set_threads  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # bnlandscape's Fashion-MNIST normalisation (src/data/dataset.cpp)
PYTHON = "/usr/bin/python3"


# ------------------------------------------------------------------------- backpack / curvlinops
# backpack/hessianfree/{rop,lop,hvp,ggnvp}.py, as curvlinops 1.x's GGNLinearOperator calls them.

def R_op(ys, xs, vs):
    import torch
    if isinstance(ys, tuple):
        ws = [torch.zeros_like(y).requires_grad_(True) for y in ys]
    else:
        ws = torch.zeros_like(ys).requires_grad_(True)
    gs = torch.autograd.grad(ys, xs, grad_outputs=ws, create_graph=True, retain_graph=True, allow_unused=True)
    re = torch.autograd.grad(gs, ws, grad_outputs=vs, create_graph=False, retain_graph=True, allow_unused=True)
    return tuple(j.detach() for j in re)


def L_op(ys, xs, ws):
    import torch
    return torch.autograd.grad(ys, xs, grad_outputs=ws, create_graph=False, retain_graph=True, allow_unused=True)


def hessian_vector_product(f, params, v):
    import torch
    df_dx = torch.autograd.grad(f, params, create_graph=True, retain_graph=True)
    return torch.autograd.grad(df_dx, params, grad_outputs=v, create_graph=False, retain_graph=True)


def ggn_vector_product_from_plist(loss, output, plist, v):
    Jv = R_op(output, plist, v)
    HJv = hessian_vector_product(loss, output, Jv)
    return L_op(output, plist, HJv)


def worker(a) -> None:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
    from scipy.sparse.linalg import LinearOperator, eigsh
    intra, blas = set_threads(1, a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    with h5py.File(a.checkpoint, "r") as f:
        g = f[a.checkpoint_group]
        t = {k: torch.tensor(np.asarray(g[k]), dtype=torch.float32) for k in g if isinstance(g[k], h5py.Dataset)}
    layers, params = [], []
    for name in sorted({k.rsplit(".", 1)[0] for k in t if k.startswith("net.")}, key=lambda s: int(s.split(".")[1])):
        if f"{name}.running_var" in t:  # BN: torch's names, or gamma/beta in files written before
            w, b = (f"{name}.weight", f"{name}.bias") if f"{name}.weight" in t else (f"{name}.gamma", f"{name}.beta")
            p1, p2 = t[w].requires_grad_(), t[b].requires_grad_()
            layers.append(("bn", p1, p2))
        elif f"{name}.weight" in t:
            p1, p2 = t[f"{name}.weight"].requires_grad_(), t[f"{name}.bias"].requires_grad_()
            layers.append(("linear", p1, p2))
        else:
            continue
        params += [p1, p2]
    images = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:a.probe_size]
    labels = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:a.probe_size]
    x = (torch.tensor(images, dtype=torch.float32).reshape(len(images), -1) / 255.0 - MEAN) / STD
    y = torch.tensor(labels.astype("int64"))
    nlin = sum(1 for k, _, _ in layers if k == "linear")
    has_bn = any(k == "bn" for k, _, _ in layers)

    def model(h):
        seen = 0
        for kind, p1, p2 in layers:
            if kind == "linear":
                h = F.linear(h, p1, p2)
                seen += 1
                if seen < nlin and not has_bn:
                    h = F.relu(h)
            else:
                h = F.relu(F.batch_norm(h, None, None, p1, p2, training=True, eps=1e-5))
        return h

    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    P = sum(sizes)
    count = [0]

    def ggn(v_list):
        # GGNLinearOperator._matvec_batch: the forward and the loss are evaluated per product.
        count[0] += 1
        output = model(x)
        loss = F.cross_entropy(output, y)
        return [r.detach() for r in ggn_vector_product_from_plist(loss, output, params, v_list)]

    def matvec(v):
        # curvlinops' _preprocess / _postprocess: numpy <-> per-parameter tensors.
        v = torch.from_numpy(np.asarray(v, dtype=np.float32).reshape(-1))
        out = ggn([c.reshape(s) for c, s in zip(torch.split(v, sizes), shapes)])
        return torch.cat([o.flatten() for o in out]).numpy()

    op = LinearOperator((P, P), matvec=matvec, dtype=np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    vals, _ = eigsh(op, k=5, which="LM", tol=1e-3, ncv=10, maxiter=1000,
                    v0=np.random.rand(P).astype(np.float32), return_eigenvectors=True)
    top5, top5_cpu = time.perf_counter() - t0, time.process_time() - c0
    top5_products = count[0]
    # PyHessian's density loop, its Hessian-vector product replaced by the GGN product.
    density_bench.hessian_vector_product = lambda _grads, _params, v: ggn(list(v))
    count[0] = 0
    t0, c0 = time.perf_counter(), time.process_time()
    nodes, weights = density_bench.pyhessian_density(params, None, iter=a.steps, n_v=a.runs)
    slq, slq_cpu = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    trace = float(np.mean([sum(w * l for w, l in zip(ws, ns)) for ns, ws in zip(nodes, weights)])) * P
    print(json.dumps({"top5": top5, "top5_cpu": top5_cpu, "top5_products": top5_products, "slq": slq,
                      "slq_cpu": slq_cpu, "slq_products": count[0],
                      "loss": loss, "eigvals": sorted(map(float, vals), reverse=True), "trace": trace,
                      "intra": intra, "blas": blas}))


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
    ap.add_argument("--bench", default=os.path.join(REPO, "build", "ggn_bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--product-reps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--probe-size", type=int, default=1024)
    ap.add_argument("--bn", default="custom", choices=("custom", "none"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint")
    ap.add_argument("--checkpoint-group")
    ap.add_argument("--skip-products", action="store_true")
    ap.add_argument("--append", help="append the result tables to this markdown file")
    a = ap.parse_args()
    if a.mode == "worker":
        worker(a)
        return
    import h5py
    tmp = tempfile.mkdtemp(prefix="bnl_ggn_bench_")
    if not a.checkpoint:
        a.checkpoint = os.path.join(tmp, "train.h5")
        run([a.binary, "train", "--dataset", "fashion-mnist", "--arch", "mlp", "--bn", a.bn, "--epochs", "1",
             "--seed", "0", "--threads", str(a.threads), "--quiet", "--out", a.checkpoint])
        with h5py.File(a.checkpoint, "r") as f:
            a.checkpoint_group = "/checkpoints/" + sorted(f["checkpoints"])[-1]
    common = ["--checkpoint", a.checkpoint, "--group", a.checkpoint_group, "--bn", a.bn, "--probe-size",
              str(a.probe_size), "--threads", str(a.threads)]
    load0 = os.getloadavg()[0]
    products = "" if a.skip_products else run([a.bench, "products", *common, "--reps", str(a.product_reps)]).stdout
    print(products, flush=True)
    ours, theirs = [], []
    for rep in range(a.reps):
        p = run([a.bench, "peer", *common, "--runs", str(a.runs), "--steps", str(a.steps), "--seed", str(a.seed + rep)])
        ours.append(json.loads(p.stdout.strip().splitlines()[-1]))
        p = run([PYTHON, os.path.abspath(__file__), "worker", "--checkpoint", a.checkpoint, "--checkpoint-group",
                 a.checkpoint_group, "--threads", str(a.threads), "--runs", str(a.runs), "--steps", str(a.steps),
                 "--probe-size", str(a.probe_size), "--seed", str(a.seed + rep)])
        theirs.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(f"rep {rep}: top-5 {ours[-1]['top5']:.2f} s vs {theirs[-1]['top5']:.2f} s, "
              f"SLQ {ours[-1]['slq']:.2f} s vs {theirs[-1]['slq']:.2f} s", flush=True)
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    fmt = lambda rs, k: ", ".join(f"{r[k]:.2f}" for r in rs)  # noqa: E731
    load1 = os.getloadavg()[0]
    cmd = (f"/usr/bin/python3 bench/ggn_bench.py --threads {a.threads} --reps {a.reps} --runs {a.runs} "
           f"--steps {a.steps} --probe-size {a.probe_size} --bn {a.bn}")
    eo, et = ours[-1]["eigvals"], theirs[-1]["eigvals"]
    table = "\n".join([
        f"| task | bnlandscape s (median of {a.reps}) | each | products | Python peer s | each | products | ratio |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: |",
        f"| top-5 of G | {med(ours, 'top5'):.2f} | {fmt(ours, 'top5')} | {ours[-1]['top5_products']} | "
        f"{med(theirs, 'top5'):.2f} | {fmt(theirs, 'top5')} | {theirs[-1]['top5_products']} | "
        f"**{med(ours, 'top5') / med(theirs, 'top5'):.2f}x** |",
        f"| SLQ of G, K={a.runs}, M={a.steps} | {med(ours, 'slq'):.2f} | {fmt(ours, 'slq')} | "
        f"{ours[-1]['slq_products']} | {med(theirs, 'slq'):.2f} | {fmt(theirs, 'slq')} | "
        f"{theirs[-1]['slq_products']} | **{med(ours, 'slq') / med(theirs, 'slq'):.2f}x** |",
        f"| top-5 of G, process CPU s | {med(ours, 'top5_cpu'):.2f} | {fmt(ours, 'top5_cpu')} | | "
        f"{med(theirs, 'top5_cpu'):.2f} | {fmt(theirs, 'top5_cpu')} | | "
        f"{med(ours, 'top5_cpu') / med(theirs, 'top5_cpu'):.2f}x |",
        f"| SLQ of G, process CPU s | {med(ours, 'slq_cpu'):.2f} | {fmt(ours, 'slq_cpu')} | | "
        f"{med(theirs, 'slq_cpu'):.2f} | {fmt(theirs, 'slq_cpu')} | | "
        f"{med(ours, 'slq_cpu') / med(theirs, 'slq_cpu'):.2f}x |",
        "",
        f"Top-5 of G: bnlandscape {', '.join(f'{x:.4g}' for x in eo)}; Python {', '.join(f'{x:.4g}' for x in et)}. "
        f"Loss {ours[-1]['loss']:.5f} vs {theirs[-1]['loss']:.5f}; SLQ trace estimate {ours[-1]['trace']:.4g} vs "
        f"{theirs[-1]['trace']:.4g} (different random starts). 1-minute load average {load0:.1f} before, "
        f"{load1:.1f} after (a machine shared with other jobs).",
        f"Command: `{cmd}`",
    ])
    print(table)
    if a.append:
        with open(a.append, "a") as f:
            f.write(f"\n### Gauss-Newton products and spectra, Fashion MLP ({'BN' if a.bn == 'custom' else 'no BN'}), "
                    f"probe set {a.probe_size} ({time.strftime('%Y-%m-%d %H:%M')})\n\n")
            if products:
                f.write("`build/ggn_bench products` (variants alternated in one process):\n\n" + products + "\n")
            f.write("Against the Python peer (curvlinops GGN product + eigenthings top-5 + PyHessian SLQ), "
                    f"alternating processes:\n\n{table}\n")


if __name__ == "__main__":
    main()
