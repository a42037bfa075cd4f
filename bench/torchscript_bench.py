#!/usr/bin/python3
"""Speed of TorchScript models in bnlandscape (issue 26, section 4), three comparisons:

  cnn     training steps/s of `--arch cnn` (the study's ConvMLP, built natively) against the same
          network scripted (`--arch torchscript`, parameter names conv.*/mlp.* as the native's),
          --bn none and torch (libtorch's BatchNorm1d in the head on both sides); target >= 0.9x;
  resnet  training steps/s of the example's scripted ResNet-20 with BN (examples/resnet, widths
          8-16-32) in bnlandscape against the same network in Python PyTorch's eager loop at the
          same thread settings (data preloaded as one normalised tensor, shuffled batches, SGD);
          target >= 1.2x;
  hvp     seconds per Hessian-vector product on that ResNet and one batch of 128 (BN in
          evaluation mode, as PyHessian): bnlandscape's SLQ density (`probe --density-runs 1
          --density-steps M --top-k 0`, /density/seconds over /density/hvp_count, the Lanczos
          recurrence's own work included) against PyHessian's way re-implemented: the gradient
          once with create_graph=True, then per product torch.autograd.grad(grads, params,
          grad_outputs=v, retain_graph=True) (the loop alone timed); target <= 0.8x.

bnlandscape's training rate comes from /train/steps/wall_time with the warm-up steps skipped
(evaluation and start-up excluded). Every measurement is a fresh process; bnlandscape and Python
alternate round-robin, and the median of --reps is reported with the 1-minute load average
before and after each pair (the machine is shared with study jobs). Python gets the thread
settings bnlandscape's run file records (intra_op_threads, blas_threads).

    /usr/bin/python3 bench/torchscript_bench.py [--reps 3] [--threads 2] [--steps 30] [--hvp-steps 10]
        [--only cnn,resnet,hvp]
        [--out bench/RESULTS.md]
Internal: worker resnet-train|hvp ... (one Python measurement, prints JSON).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "resnet"))
sys.path.insert(0, os.path.join(ROOT, "tests", "torchscript"))
BINARY = os.environ.get("BNL_BINARY", os.path.join(ROOT, "build", "bnlandscape"))
PY = "/usr/bin/python3"
BATCH = 128


def load() -> float:
    return os.getloadavg()[0]


def scripted_convmlp(path: str, bn: bool) -> None:
    """The study's ConvMLP (src/models/conv_mlp.cpp: conv 32, conv 64, each ReLU and 2x2 max-pool,
    dense 512-256-128-10, torch's BatchNorm1d in the head with BN), initialised as the native one
    is after torch.manual_seed(0), scripted and saved."""
    import torch
    from torch import nn

    class ConvMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            head, width = [], 64 * 7 * 7
            for h in (512, 256, 128):
                head += [nn.Linear(width, h)] + ([nn.BatchNorm1d(h)] if bn else []) + [nn.ReLU()]
                width = h
            self.mlp = nn.Sequential(*head, nn.Linear(width, 10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mlp(torch.flatten(self.conv(x), 1))

    torch.manual_seed(0)
    torch.jit.script(ConvMLP()).save(path)


def scripted_resnet(path: str) -> None:
    import torch
    from model import ResNet
    torch.manual_seed(0)
    torch.jit.script(ResNet(20, (8, 16, 32), 1, 10, bn=True)).save(path)


def bnl_rate(args, out: str, warmup: int) -> dict:
    """Runs `bnlandscape train` and returns steps/s after `warmup` steps and the thread settings."""
    subprocess.run([BINARY, "train", *map(str, args), "--quiet", "--overwrite", "--checkpoint-every", "0",
                    "--out", out], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(out, "r") as f:
        t = f["train/steps/wall_time"][()]
        return {"steps_per_s": (len(t) - 1 - warmup) / (t[-1] - t[warmup]),
                "intra": int(f.attrs["intra_op_threads"]), "blas": int(f.attrs["blas_threads"])}


def python_worker(kind: str, intra: int, blas: int, steps: int, warmup: int) -> dict:
    """One Python measurement in this (fresh) process."""
    import ctypes
    import torch
    from model import ResNet
    from tscommon import fashion
    torch.set_num_threads(intra)
    ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(blas)
    torch.manual_seed(0)
    model = ResNet(20, (8, 16, 32), 1, 10, bn=True)
    if kind == "resnet-train":
        x, y = fashion(BATCH * (steps + warmup))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        perm = torch.randperm(len(y))
        times, cpu = [], 0.0
        for s in range(steps + warmup):
            idx = perm[s * BATCH:(s + 1) * BATCH]
            c0 = time.process_time()
            t0 = time.perf_counter()
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0 if s >= warmup else 0.0
        return {"steps_per_s": steps / sum(times[warmup:]), "cpu_per_step": cpu / steps}
    # hvp: PyHessian's hessian.eigenvalues/density product on one batch (model.eval()).
    x, y = fashion(BATCH)
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    vs = [[torch.randn_like(p) for p in params] for _ in range(steps + warmup)]
    times, cpu = [], 0.0
    for i, v in enumerate(vs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        torch.autograd.grad(grads, params, grad_outputs=v, only_inputs=True, retain_graph=True)
        times.append(time.perf_counter() - t0)
        cpu += time.process_time() - c0 if i >= warmup else 0.0
    return {"seconds_per_hvp": statistics.mean(times[warmup:]), "cpu_per_hvp": cpu / steps}


def py_measure(kind, intra, blas, steps, warmup) -> dict:
    p = subprocess.run([PY, os.path.abspath(__file__), "worker", kind, str(intra), str(blas), str(steps),
                        str(warmup)], check=True, capture_output=True, text=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def bnl_hvp(model: str, threads: int, steps: int, out: str) -> dict:
    subprocess.run([BINARY, "probe", "--arch", "torchscript", "--model", model, "--dataset", "fashion-mnist",
                    "--train-subset", str(2 * BATCH), "--batch-size", str(BATCH), "--epochs", "1",
                    "--step-interval", "1000", "--probe-batch", "fixed", "--probe-size", str(BATCH),
                    "--probe-bn-mode", "eval", "--top-k", "0", "--density-runs", "1", "--density-steps", str(steps),
                    "--overlap", "false", "--threads", str(threads), "--checkpoint-every", "0", "--quiet",
                    "--overwrite", "--out", out], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(out, "r") as f:
        d = f["density"]
        return {"seconds_per_hvp": float(d["seconds"][0]) / int(d["hvp_count"][0]),
                "intra": int(f.attrs["intra_op_threads"]), "blas": int(f.attrs["blas_threads"])}


def child_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bnl_cpu(args, out: str) -> float:
    """Process CPU seconds (user + system) of one `bnlandscape` command."""
    c0 = child_cpu()
    subprocess.run([BINARY, *map(str, args), "--quiet", "--overwrite", "--checkpoint-every", "0", "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    return child_cpu() - c0


def cpu_rounds(a, rpt, tmp, lines) -> None:
    """Process CPU per ResNet step and per HVP at one thread: bnlandscape's by the difference of
    a long and a short run (start-up, data loading and evaluation cancel), Python's from
    time.process_time around the timed loop. Under load, CPU time moves far less than wall time."""
    short, long_ = 5, 5 + a.steps
    hs, hl = 2, 2 + a.hvp_steps
    base = ["--dataset", "fashion-mnist", "--test-subset", 128, "--batch-size", BATCH, "--epochs", 1, "--threads", 1,
            "--arch", "torchscript", "--model", rpt]
    hvp = [*base, "--train-subset", 2 * BATCH, "--step-interval", 1000, "--probe-batch", "fixed", "--probe-size",
           BATCH, "--probe-bn-mode", "eval", "--top-k", 0, "--density-runs", 1, "--overlap", "false"]
    tr_o, tr_p, hv_o, hv_p, loads = [], [], [], [], []
    for r in range(a.reps):
        l0 = load()
        d = (bnl_cpu(["train", *base, "--train-subset", BATCH * long_], os.path.join(tmp, "c.h5"))
             - bnl_cpu(["train", *base, "--train-subset", BATCH * short], os.path.join(tmp, "c.h5")))
        tr_o.append(d / (long_ - short))
        tr_p.append(py_measure("resnet-train", 1, 1, a.steps, a.warmup)["cpu_per_step"])
        # Every probe of the run (step 0 and the last step) runs the density: count the products.
        c_long = bnl_cpu(["probe", *hvp, "--density-steps", hl], os.path.join(tmp, "hl.h5"))
        c_short = bnl_cpu(["probe", *hvp, "--density-steps", hs], os.path.join(tmp, "hs.h5"))
        counts = []
        for name in ("hl.h5", "hs.h5"):
            with h5py.File(os.path.join(tmp, name), "r") as f:
                counts.append(int(f["density/hvp_count"][()].sum()))
        hv_o.append((c_long - c_short) / (counts[0] - counts[1]))
        hv_p.append(py_measure("hvp", 1, 1, a.hvp_steps, 1)["cpu_per_hvp"])
        loads.append(f"{l0:.1f}->{load():.1f}")
        print(f"cpu round {r}: step {tr_o[-1]:.3f} vs {tr_p[-1]:.3f} s, hvp {hv_o[-1]:.3f} vs {hv_p[-1]:.3f} s",
              flush=True)
    (to, lto), (tp, ltp) = median_row(tr_o), median_row(tr_p)
    (ho, lho), (hp, lhp) = median_row(hv_o), median_row(hv_p)
    lines += [f"Process CPU at 1 thread (intra-op 1, BLAS 1) [{'; '.join(loads)}]:", "",
              "| ResNet-20 (8-16-32, BN) | bnlandscape CPU s | Python CPU s | bnlandscape/Python | target |",
              "| --- | ---: | ---: | ---: | --- |",
              f"| training step, batch 128 | {to:.3f} ({lto}) | {tp:.3f} ({ltp}) | **{tp / to:.2f}x** speed | "
              f">= 1.2x: {'met' if tp / to >= 1.2 else 'missed'} |",
              f"| HVP, batch 128, BN eval | {ho:.3f} ({lho}) | {hp:.3f} ({lhp}) | **{ho / hp:.2f}x** time | "
              f"<= 0.8x: {'met' if ho / hp <= 0.8 else 'missed'} |", ""]


def cnn_cpu_rounds(a, tmp, lines) -> None:
    """Process CPU per ConvMLP training step at one thread, native `--arch cnn` against the
    scripted copy, by the difference of a long and a short run."""
    short, long_ = 5, 5 + a.steps
    lines += ["| ConvMLP training, process CPU at 1 thread | native CPU s/step | scripted CPU s/step | scripted speed/native | target |",
              "| --- | ---: | ---: | ---: | --- |"]
    for bn in ("none", "torch"):
        pt = os.path.join(tmp, f"convmlp_{bn}.pt")
        scripted_convmlp(pt, bn == "torch")
        nat, scr, loads = [], [], []
        base = ["train", "--dataset", "fashion-mnist", "--test-subset", 128, "--batch-size", BATCH, "--epochs", 1,
                "--threads", 1]
        for r in range(a.reps):
            l0 = load()
            for out, model in ((nat, ["--arch", "cnn", "--bn", bn]), (scr, ["--arch", "torchscript", "--model", pt])):
                c_long = bnl_cpu([*base, *model, "--train-subset", BATCH * long_], os.path.join(tmp, "c.h5"))
                c_short = bnl_cpu([*base, *model, "--train-subset", BATCH * short], os.path.join(tmp, "c.h5"))
                out.append((c_long - c_short) / (long_ - short))
            loads.append(f"{l0:.1f}->{load():.1f}")
            print(f"cnn cpu --bn {bn} round {r}: native {nat[-1]:.3f}, scripted {scr[-1]:.3f} s/step", flush=True)
        (mn, ln), (ms, ls) = median_row(nat), median_row(scr)
        lines.append(f"| --bn {bn} [{'; '.join(loads)}] | {mn:.3f} ({ln}) | {ms:.3f} ({ls}) | **{mn / ms:.2f}x** | "
                     f">= 0.9x: {'met' if mn / ms >= 0.9 else 'missed'} |")
    lines.append("")


def median_row(samples):
    return statistics.median(samples), ", ".join(f"{s:.3g}" for s in samples)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        kind, intra, blas, steps, warmup = sys.argv[2], *map(int, sys.argv[3:7])
        print(json.dumps(python_worker(kind, intra, blas, steps, warmup)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30, help="timed training steps (and HVPs) per measurement")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--hvp-steps", type=int, default=10, help="timed HVPs per measurement (density steps)")
    ap.add_argument("--only", default="cnn,resnet,hvp,cnncpu,cpu",
                    help="parts: cnn, resnet, hvp (wall time), cnncpu, cpu (process CPU)")
    ap.add_argument("--out", help="append the Markdown tables to this file (e.g. bench/RESULTS.md)")
    a = ap.parse_args()
    parts = a.only.split(",")
    tmp = tempfile.mkdtemp(prefix="bnl_ts_bench_")
    n_train = BATCH * (a.steps + a.warmup + 1)
    common = ["--dataset", "fashion-mnist", "--train-subset", n_train, "--test-subset", 256, "--batch-size", BATCH,
              "--epochs", 1, "--threads", a.threads]
    lines = [f"\n### TorchScript models (issue 26), {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
             f"{a.threads} threads, medians of {a.reps}\n",
             f"`/usr/bin/python3 bench/torchscript_bench.py --reps {a.reps} --threads {a.threads} --steps {a.steps} "
             f"--warmup {a.warmup} --hvp-steps {a.hvp_steps} --only {a.only}`; load average (1 min) before -> after each round in brackets.\n"]

    if "cnn" in parts:
        lines += ["| ConvMLP training | native `--arch cnn` steps/s | scripted steps/s | scripted/native | target |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for bn in ("none", "torch"):
            pt = os.path.join(tmp, f"convmlp_{bn}.pt")
            scripted_convmlp(pt, bn == "torch")
            nat, scr, loads = [], [], []
            for r in range(a.reps):
                l0 = load()
                nat.append(bnl_rate([*common, "--arch", "cnn", "--bn", bn], os.path.join(tmp, "n.h5"), a.warmup)["steps_per_s"])
                scr.append(bnl_rate([*common, "--arch", "torchscript", "--model", pt], os.path.join(tmp, "s.h5"),
                                    a.warmup)["steps_per_s"])
                loads.append(f"{l0:.1f}->{load():.1f}")
                print(f"cnn --bn {bn} round {r}: native {nat[-1]:.2f}, scripted {scr[-1]:.2f} steps/s", flush=True)
            (mn, ln), (ms, ls) = median_row(nat), median_row(scr)
            lines.append(f"| --bn {bn} [{'; '.join(loads)}] | {mn:.2f} ({ln}) | {ms:.2f} ({ls}) | **{ms / mn:.2f}x** | "
                         f">= 0.9x: {'met' if ms / mn >= 0.9 else 'missed'} |")
        lines.append("")

    if "resnet" in parts or "hvp" in parts:
        rpt = os.path.join(tmp, "resnet20_bn.pt")
        scripted_resnet(rpt)
    if "resnet" in parts:
        lines += ["| ResNet-20 (8-16-32, BN) training | bnlandscape steps/s | Python eager steps/s | bnlandscape/Python | target |",
                  "| --- | ---: | ---: | ---: | --- |"]
        ours, py, loads = [], [], []
        for r in range(a.reps):
            l0 = load()
            m = bnl_rate([*common, "--arch", "torchscript", "--model", rpt], os.path.join(tmp, "r.h5"), a.warmup)
            ours.append(m["steps_per_s"])
            py.append(py_measure("resnet-train", m["intra"], m["blas"], a.steps, a.warmup)["steps_per_s"])
            loads.append(f"{l0:.1f}->{load():.1f}")
            print(f"resnet round {r}: bnlandscape {ours[-1]:.2f}, Python {py[-1]:.2f} steps/s "
                  f"(threads {m['intra']},{m['blas']})", flush=True)
        (mo, lo), (mp, lp) = median_row(ours), median_row(py)
        lines.append(f"| [{'; '.join(loads)}] | {mo:.2f} ({lo}) | {mp:.2f} ({lp}) | **{mo / mp:.2f}x** | "
                     f">= 1.2x: {'met' if mo / mp >= 1.2 else 'missed'} |")
        lines.append("")
    if "hvp" in parts:
        lines += ["| ResNet-20 HVP, batch 128, BN eval | bnlandscape ms/HVP | PyHessian's way ms/HVP | bnlandscape/Python | target |",
                  "| --- | ---: | ---: | ---: | --- |"]
        ours, py, loads = [], [], []
        for r in range(a.reps):
            l0 = load()
            m = bnl_hvp(rpt, a.threads, a.hvp_steps, os.path.join(tmp, "h.h5"))
            ours.append(1e3 * m["seconds_per_hvp"])
            py.append(1e3 * py_measure("hvp", m["intra"], m["blas"], a.hvp_steps, 1)["seconds_per_hvp"])
            loads.append(f"{l0:.1f}->{load():.1f}")
            print(f"hvp round {r}: bnlandscape {ours[-1]:.2f}, Python {py[-1]:.2f} ms", flush=True)
        (mo, lo), (mp, lp) = median_row(ours), median_row(py)
        lines.append(f"| [{'; '.join(loads)}] | {mo:.2f} ({lo}) | {mp:.2f} ({lp}) | **{mo / mp:.2f}x** | "
                     f"<= 0.8x: {'met' if mo / mp <= 0.8 else 'missed'} |")
        lines.append("")
    if "cnncpu" in parts:
        cnn_cpu_rounds(a, tmp, lines)
    if "cpu" in parts:
        rpt = os.path.join(tmp, "resnet20_bn.pt")
        if not os.path.exists(rpt):
            scripted_resnet(rpt)
        cpu_rounds(a, rpt, tmp, lines)
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
