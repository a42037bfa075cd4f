#!/usr/bin/python3
"""ConvMLP training throughput (the original study's CNN: conv 32, conv 64, dense head
512-256-128-10 on Fashion-MNIST): bnlandscape vs the same network in Python PyTorch, side by
side, at the same thread settings, and where bnlandscape's step time goes.

    /usr/bin/python3 bench/convmlp_bench.py [--reps 3] [--steps 40] [--warmup 5] [--perf]

bnlandscape trains through autograd (`--arch cnn`, `--bn none|custom`, the real Fashion-MNIST
reader, data preloaded) and its rate comes from /train/steps/wall_time with the warm-up steps
skipped; Python trains bench/train_bench.py's `py-preloaded` worker (the same network, BN as
torch.nn.BatchNorm1d in the head). Every measurement is a fresh process; thread settings
(intra-op, BLAS) go through train_bench's LD_PRELOAD shim for bnlandscape and
torch.set_num_threads / openblas_set_num_threads for Python; repeats are round-robin and the
median is printed as a Markdown table.

With --perf, one more bnlandscape run (200 steps) per BN setting is sampled by `perf record` and its samples
are split by shared object (oneDNN's JIT convolution kernels, libtorch's own kernels, OpenBLAS,
the kernel's page faults, libc's memcpy/malloc): that is the breakdown RESULTS.md reports.
"""
import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_bench as tb  # noqa: E402  (shim, thread setters, measured runs)

BATCH = 128


def perf_breakdown(cmd, env, tmp):
    """Samples cmd with perf and returns [(share, shared object)] of the samples in the training
    loop's process, largest first (start-up is included; the runs are long enough to dwarf it)."""
    data = os.path.join(tmp, "perf.data")
    subprocess.run(["perf", "record", "-F", "999", "-o", data] + cmd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso", "--stdio"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout
    shares = collections.Counter()
    for line in rep.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%") and not line.lstrip().startswith("#"):
            name = " ".join(parts[1:])
            # oneDNN's JIT code has no file: perf names it by thread id.
            name = "oneDNN JIT kernels (convolutions)" if name.startswith("[JIT]") else name
            shares[name] += float(parts[0].rstrip("%"))
    return shares.most_common()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--settings", default="1,2;2,1", help="(intra,BLAS) thread settings, ';'-separated")
    p.add_argument("--perf", action="store_true", help="also split bnlandscape's samples by shared object")
    a = p.parse_args()

    binary = os.path.join(tb.ROOT, "build", "bnlandscape")
    tmp = tempfile.mkdtemp(prefix="bnl_convmlp_bench_")
    shim = tb.build_shim(tmp)
    n = (a.steps + a.warmup) * BATCH
    settings = [tuple(int(v) for v in s.split(",")) for s in a.settings.split(";")]
    out = os.path.join(tmp, "run.h5")

    def ours_cmd(bn, examples=n):
        return [binary, "train", "--dataset", "fashion-mnist", "--arch", "cnn", "--bn", bn, "--batch-size",
                str(BATCH), "--epochs", "1", "--train-subset", str(examples), "--test-subset", "256", "--threads", "2",
                "--out", out, "--overwrite", "--quiet"]

    def ours(bn, th):
        return tb.measured_rate(ours_cmd(bn), tb.shim_env(shim, th), out, th, a.steps, a.warmup)

    def python(bn, th):
        cmd = [tb.PY, os.path.join(tb.ROOT, "bench", "train_bench.py"), "worker", "--kind", "py-preloaded",
               "--arch", "cnn", "--bn", "torch" if bn == "custom" else "none", "--intra", str(th[0]),
               "--blas", str(th[1]), "--steps", str(a.steps), "--warmup", str(a.warmup)]
        return tb.worker_rate(cmd, th)

    try:
        tb.side_by_side(ours, python, settings, a.reps, a.steps, a.warmup, "BN (ours / torch.nn.BatchNorm1d)",
                        digits=2)
        if a.perf:
            if not shutil.which("perf"):
                print("\n--perf: perf not found; no breakdown", file=sys.stderr)
            else:
                for bn in ("custom", "none"):
                    th = settings[0]
                    print("\nWhere bnlandscape's time goes, --bn %s, threads %s (perf samples by shared object):\n"
                          % (bn, th))
                    print("| shared object | share of samples |\n|---|---:|")
                    # 200 steps, so that start-up (reading and hashing the data set) is a small share.
                    for name, share in perf_breakdown(ours_cmd(bn, 200 * BATCH), tb.shim_env(shim, th), tmp)[:8]:
                        print("| %s | %.1f%% |" % (name, share))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
