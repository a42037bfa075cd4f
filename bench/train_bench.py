#!/usr/bin/python3
"""Training-throughput benchmark of bnlandscape against PyTorch in Python on the same machine.

Steps per second (batch 128, plain SGD lr 0.1, mean cross-entropy, shuffled Fashion-MNIST) of
the original study's MLP (784-512-256-128-10) and ConvMLP (conv 32, conv 64, same dense head),
with and without batch normalisation, for
  * bnlandscape   build/bnlandscape train, --bn none | custom | torch; the rate is taken from
                  the run file's /train/steps/wall_time (evaluation excluded, warm-up skipped);
  * py-preloaded  a Python loop over the data preloaded as one normalised tensor, with the same
                  thread settings (torch.nn.BatchNorm1d for BN);
  * py-original   the original study's pipeline: torchvision FashionMNIST with ToTensor +
                  Normalize, DataLoader(batch 128, shuffle, num_workers=0);
  * gemm-only     nothing but the step's matrix products of every Linear layer (forward,
                  input-gradient except for the first layer, weight-gradient) with the same BLAS:
                  bench/gemm_bench.cpp calling sgemm_ directly, and torch.mm in Python; the
                  limit is the faster of the two.
  * interleaved   the ratio to the GEMM-only limit measured inside one training process
                  (--interleaved N full-epoch runs per BN setting, default 5): bench/sgemm_timer.c
                  with BNL_SGEMM_REPLAY=11 replays the previous step's 11 products back to back
                  before every third step; replay time / clean step time, taken milliseconds
                  apart, so the host's drift between separately timed runs cancels.
Thread settings are (intra-op, BLAS) pairs: libtorch's intra-op OpenMP threads
(at::set_num_threads / torch.set_num_threads) and OpenBLAS's own pthreads
(openblas_set_num_threads). bnlandscape fixes them in configure_threads
(src/train/trainer.cpp); to sweep them without rebuilding, the benchmark runs it with a small
LD_PRELOAD shim (built here into a temp dir) that overrides the two setters with the values of
BNL_BENCH_INTRA / BNL_BENCH_BLAS. Rows without the shim are bnlandscape exactly as shipped.

Every measurement is repeated (default 3, round-robin over variants so a load change hits all
of them alike) and the median is reported. Interference is recorded per measurement as the
foreign CPU use during it (cores busy in /proc/stat minus the measured process's own CPU time);
the run waits (at most --wait-quiet s) for the 1-minute load average to drop to --max-load
first, and re-takes a measurement (up to --retakes times, 20 s apart) when foreign use exceeds
--max-foreign. The peak memory is /usr/bin/time -v's max RSS of a full 1-epoch MLP run.

Usage:  /usr/bin/python3 bench/train_bench.py [--reps 3] [--out bench/RESULTS.md] [--quick]
                                             [--wait-quiet S] [--json PATH]
                                             [--interleaved N] [--only-interleaved]
(bench/run_train_bench.sh is the end-to-end entry point.)  Internal: worker ... (one measurement).
"""

import argparse
import datetime
import gzip
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # bnlandscape's Fashion-MNIST normalisation (src/data/dataset.cpp)
BATCH = 128
HEAD = (512, 256, 128)
IN_DIMS = {"mlp": 784, "cnn": 64 * 7 * 7}

SHIM_SRC = r"""
// Overrides bnlandscape's thread setters for the benchmark's sweep (LD_PRELOAD).
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
namespace at { void set_num_threads(int); }
static int env_or(const char* name, int v) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoi(e) : v;
}
void at::set_num_threads(int n) {
  using F = void (*)(int);
  static F real = reinterpret_cast<F>(dlsym(RTLD_NEXT, "_ZN2at15set_num_threadsEi"));
  n = env_or("BNL_BENCH_INTRA", n);
  if (std::getenv("BNL_BENCH_VERBOSE")) std::fprintf(stderr, "shim: intra-op threads %d\n", n);
  real(n);
}
extern "C" void openblas_set_num_threads(int n) {
  using F = void (*)(int);
  static F real = reinterpret_cast<F>(dlsym(RTLD_NEXT, "openblas_set_num_threads"));
  n = env_or("BNL_BENCH_BLAS", n);
  if (std::getenv("BNL_BENCH_VERBOSE")) std::fprintf(stderr, "shim: BLAS threads %d\n", n);
  real(n);
}
"""


# ----------------------------------------------------------------------------- workers
# A worker is one measurement in a fresh process (thread pools start clean); it prints one
# line of JSON with steps_per_s.

def set_threads(intra, blas):
    import ctypes
    import torch
    torch.set_num_threads(intra)
    ob = ctypes.CDLL("libopenblas.so.0")  # the OpenBLAS libtorch's libblas.so.3 resolves to
    ob.openblas_set_num_threads(blas)
    return torch.get_num_threads(), ob.openblas_get_num_threads()


def build_model(arch, bn):
    import torch.nn as nn

    def head(width):
        layers = []
        for h in HEAD:
            layers.append(nn.Linear(width, h))
            if bn:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            width = h
        layers.append(nn.Linear(width, 10))
        return layers

    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), *head(784))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), *head(64 * 7 * 7))


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def prepare_torchvision_root(root):
    """torchvision wants root/FashionMNIST/raw/<name without .gz>; we never download."""
    raw = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        dst = os.path.join(raw, name)
        if not os.path.exists(dst):
            with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f, open(dst + ".tmp", "wb") as g:
                shutil.copyfileobj(f, g)
            os.replace(dst + ".tmp", dst)


def timed_loop(step, batches, warmup, steps):
    """Runs warmup + steps steps, each pulling its batch from `batches`; returns steps/s of the
    last `steps`."""
    import time as _t
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            t0 = _t.perf_counter()
        x, y = next(batches)
        step(x, y)
    return steps / (_t.perf_counter() - t0)


def worker_train(a):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    intra, blas = set_threads(a.intra, a.blas)
    model = build_model(a.arch, a.bn == "torch")
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    if a.kind == "py-preloaded":
        images = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))
        X = ((torch.from_numpy(images.copy()).float() / 255.0 - MEAN) / STD).unsqueeze(1).contiguous()
        Y = torch.from_numpy(labels.astype("int64"))

        def batches():
            while True:
                perm = torch.randperm(X.shape[0])
                for b in range(0, X.shape[0] - BATCH + 1, BATCH):
                    idx = perm[b:b + BATCH]
                    yield X[idx], Y[idx]
        it = batches()
    else:  # py-original: the original study's input pipeline
        import torchvision
        from torchvision import transforms
        prepare_torchvision_root(a.tv_root)
        ds = torchvision.datasets.FashionMNIST(
            a.tv_root, train=True, download=False,
            transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]))
        loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=0)

        def batches():
            while True:
                for x, y in loader:
                    yield x, y
        it = batches()
    rate = timed_loop(step, it, a.warmup, a.steps)
    print(json.dumps({"steps_per_s": rate, "intra": intra, "blas": blas}))


def worker_gemm_torch(a):
    """The same products as gemm_bench.cpp through torch.mm (adds ATen dispatch per product)."""
    import time as _t
    import torch
    intra, blas = set_threads(a.intra, a.blas)
    dims = [IN_DIMS[a.arch], *HEAD, 10]
    g = torch.Generator().manual_seed(0)
    L = []
    for i, o in zip(dims[:-1], dims[1:]):
        L.append(dict(x=torch.randn(BATCH, i, generator=g), w=torch.randn(o, i, generator=g),
                      b=torch.randn(o, generator=g), dy=torch.randn(BATCH, o, generator=g),
                      y=torch.empty(BATCH, o), dx=torch.empty(BATCH, i), dw=torch.empty(o, i)))

    def one():
        for l in L:
            torch.addmm(l["b"], l["x"], l["w"].t(), out=l["y"])      # Linear forward
        for k in range(len(L) - 1, -1, -1):
            l = L[k]
            if k > 0:                                                 # input-grad (not layer 0)
                torch.mm(l["dy"], l["w"], out=l["dx"])
            torch.mm(l["dy"].t(), l["x"], out=l["dw"])                # weight-grad
    for _ in range(a.warmup):
        one()
    t0 = _t.perf_counter()
    for _ in range(a.steps):
        one()
    print(json.dumps({"steps_per_s": a.steps / (_t.perf_counter() - t0), "intra": intra, "blas": blas}))


# ----------------------------------------------------------------------------- driver

def cpu_busy_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, wall, foreign_cores): foreign_cores is the CPU use of every
    other process on the machine during the run, in cores."""
    load = loadavg1()
    b0, c0, t0 = cpu_busy_seconds(), children_cpu(), time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b1, c1, t1 = cpu_busy_seconds(), children_cpu(), time.monotonic()
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    wall = t1 - t0
    foreign = max(0.0, ((b1 - b0) - (c1 - c0)) / wall)
    return p.stdout, p.stderr, wall, foreign, load


def build_shim(tmp):
    """Compiles the thread shim (SHIM_SRC) into tmp; returns the .so to LD_PRELOAD."""
    shim = os.path.join(tmp, "threads_shim.so")
    src = os.path.join(tmp, "shim.cpp")
    with open(src, "w") as f:
        f.write(SHIM_SRC)
    subprocess.run([shutil.which("g++"), "-O2", "-shared", "-fPIC", "-o", shim, src, "-ldl"], check=True)
    return shim


def shim_env(shim, threads):
    """Environment that makes bnlandscape run at threads = (intra-op, BLAS) through the shim."""
    return dict(os.environ, LD_PRELOAD=shim, BNL_BENCH_INTRA=str(threads[0]), BNL_BENCH_BLAS=str(threads[1]),
                BNL_BENCH_VERBOSE="1")


def measured_rate(cmd, env, out, threads, steps, warmup):
    """Runs a bnlandscape `train` command under the shim; returns (steps/s over the steps after
    the warm-up, from out's /train/steps/wall_time, foreign cores, load)."""
    _, err, _, foreign, load = run_measured(cmd, env)
    if "shim: intra-op threads %d" % threads[0] not in err or "shim: BLAS threads %d" % threads[1] not in err:
        raise RuntimeError("thread shim not effective:\n" + err)
    import h5py
    with h5py.File(out, "r") as f:
        wt = f["/train/steps/wall_time"][()]
    if len(wt) != steps + warmup:
        raise RuntimeError("expected %d steps in %s, got %d" % (steps + warmup, out, len(wt)))
    return steps / (wt[-1] - wt[warmup - 1]), foreign, load


def worker_rate(cmd, threads):
    """Runs a Python worker command (one that prints one line of JSON with intra, blas and
    steps_per_s) at threads = (intra-op, BLAS); returns (steps/s, foreign cores, load), as
    measured_rate does for bnlandscape."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads[1]), OMP_NUM_THREADS=str(threads[0]))
    stdout, _, _, foreign, load = run_measured(cmd, env)
    r = json.loads(stdout.strip().splitlines()[-1])
    assert (r["intra"], r["blas"]) == threads, r
    return r["steps_per_s"], foreign, load


def side_by_side(ours, python, settings, reps, steps, warmup, bn_label, digits=3):
    """Round-robin repeats of ours(bn, threads) and python(bn, threads) (each returning
    (steps/s, foreign cores, load)) for bn in custom, none and every thread setting; prints
    each measurement to stderr and the medians and ratios as a Markdown table to stdout."""
    rates, foreign, loads = {}, [], []
    for _ in range(reps):
        for th in settings:
            for bn in ("custom", "none"):
                for impl, fn in (("bnlandscape", ours), ("Python", python)):
                    r, fr, ld = fn(bn, th)
                    rates.setdefault((impl, bn, th), []).append(r)
                    foreign.append(fr)
                    loads.append(ld)
                    print("%-11s bn=%-6s threads=%s %.3f steps/s (foreign %.2f cores, load %.2f)"
                          % (impl, bn, th, r, fr, ld), file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print("| variant | " + " | ".join("(%d, %d)" % th for th in settings) + " |")
    print("|---|" + "---:|" * len(settings))
    for bn in ("custom", "none"):
        label = bn_label if bn == "custom" else "no BN"
        for impl in ("bnlandscape", "Python"):
            print("| %s %s | %s |" % (impl, label, " | ".join("%.*f" % (digits, med[(impl, bn, th)]) for th in settings)))
        cells = ["%.2fx" % (med[("bnlandscape", bn, th)] / med[("Python", bn, th)]) for th in settings]
        print("| ratio bnlandscape / Python, %s | %s |" % (label, " | ".join(cells)))
    print()
    print("Median of %d repeats, %d steps after %d warm-up; 1-minute load before the runs: median %.2f, max %.2f; "
          "CPU use of other processes during them: median %.2f, max %.2f cores."
          % (reps, steps, warmup, statistics.median(loads), max(loads), statistics.median(foreign), max(foreign)))


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="bnl_train_bench_")
        self.source_binary = os.path.join(ROOT, "build", "bnlandscape")
        self.binary = os.path.join(self.tmp, "bnlandscape")  # snapshot: a rebuild mid-run cannot mix versions
        self.tv_root = os.path.join(self.tmp, "tv")
        self.log = []

    # --- builds
    def snapshot_binary(self):
        shutil.copy2(self.source_binary, self.binary)
        st = os.stat(self.binary)
        import hashlib
        with open(self.binary, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        self.binary_info = "build/bnlandscape built %s, sha256 %s" % (
            datetime.datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%d %H:%M:%S"), digest)

    def build_helpers(self):
        cxx = shutil.which("g++") or shutil.which("c++")
        src = os.path.join(self.tmp, "threads_shim.cpp")
        with open(src, "w") as f:
            f.write(SHIM_SRC)
        self.shim = os.path.join(self.tmp, "threads_shim.so")
        subprocess.run([cxx, "-O2", "-shared", "-fPIC", "-o", self.shim, src, "-ldl"], check=True)
        self.gemm = os.path.join(self.tmp, "gemm_bench")
        subprocess.run([cxx, "-O2", "-std=c++17", os.path.join(ROOT, "bench", "gemm_bench.cpp"),
                        "-o", self.gemm, "-l:libblas.so.3", "-l:libopenblas.so.0"], check=True)
        self.sgemm_timer = os.path.join(self.tmp, "sgemm_timer.so")
        subprocess.run([shutil.which("gcc") or shutil.which("cc"), "-O2", "-shared", "-fPIC",
                        os.path.join(ROOT, "bench", "sgemm_timer.c"), "-o", self.sgemm_timer, "-ldl"], check=True)
        prepare_torchvision_root(self.tv_root)

    # --- one measurement of each kind; each returns (steps_per_s, extra dict)
    def bnl(self, arch, bn, threads, steps, warmup, shim=True, gemm_log=None, engine="auto"):
        out = os.path.join(self.tmp, "run_%s_%s.h5" % (arch, bn))
        n = (steps + warmup) * BATCH
        cmd = [self.binary, "train", "--dataset", "fashion-mnist", "--arch", arch, "--bn", bn,
               "--epochs", "1", "--train-subset", str(n), "--test-subset", "256",
               "--out", out, "--overwrite", "--threads", "2", "--quiet", "--step-engine", engine]
        env = dict(os.environ)
        if shim:
            env.update(LD_PRELOAD=self.shim, BNL_BENCH_INTRA=str(threads[0]),
                       BNL_BENCH_BLAS=str(threads[1]), BNL_BENCH_VERBOSE="1")
        if gemm_log:
            env.update(LD_PRELOAD=self.sgemm_timer, BNL_SGEMM_LOG=gemm_log)
        _, err, wall, foreign, load = run_measured(cmd, env)
        if shim and ("shim: intra-op threads %d" % threads[0] not in err
                     or "shim: BLAS threads %d" % threads[1] not in err):
            raise RuntimeError("thread shim not effective for bnlandscape:\n" + err)
        import h5py
        with h5py.File(out, "r") as f:
            wt = f["/train/steps/wall_time"][()]
            rev = f.attrs.get("git_revision", b"?")
            self.git_revision = rev.decode() if isinstance(rev, bytes) else str(rev)
        if len(wt) != steps + warmup:
            raise RuntimeError("expected %d steps in %s, got %d" % (steps + warmup, out, len(wt)))
        rate = steps / (wt[-1] - wt[warmup - 1])
        return rate, dict(wall=wall, foreign=foreign, load=load)

    def py(self, kind, arch, bn, threads, steps, warmup, gemm_log=None):
        cmd = [PY, os.path.abspath(__file__), "worker", "--kind", kind, "--arch", arch, "--bn", bn,
               "--intra", str(threads[0]), "--blas", str(threads[1]), "--steps", str(steps),
               "--warmup", str(warmup), "--tv-root", self.tv_root]
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads[1]), OMP_NUM_THREADS=str(threads[0]))
        if gemm_log:
            env.update(LD_PRELOAD=self.sgemm_timer, BNL_SGEMM_LOG=gemm_log)
        out, _, wall, foreign, load = run_measured(cmd, env)
        r = json.loads(out.strip().splitlines()[-1])
        if (r["intra"], r["blas"]) != tuple(threads):
            raise RuntimeError("thread settings not applied: %s" % r)
        return r["steps_per_s"], dict(wall=wall, foreign=foreign, load=load)

    def gemm_cpp(self, arch, threads, steps, warmup):
        dims = ",".join(str(d) for d in [IN_DIMS[arch], *HEAD, 10])
        cmd = [self.gemm, "--dims", dims, "--batch", str(BATCH), "--blas-threads", str(threads[1]),
               "--steps", str(steps), "--warmup", str(warmup)]
        out, _, wall, foreign, load = run_measured(cmd)
        return json.loads(out)["steps_per_s"], dict(wall=wall, foreign=foreign, load=load)

    def gemm_share(self, spec):
        """Fraction of the training steps' time spent inside sgemm_ (torch's products) and
        cblas_sgemm (bnlandscape's fused step), both timed in one process
        over the same steps (bench/sgemm_timer.c). Steps W..N-2 of N: step k's products are the
        calls [c k, c (k+1)) with c = 3 L - 1 per step for L Linear layers (forward, weight
        gradient, and input gradient except for the first layer), and its time runs from its
        first product to the next step's first product."""
        arch, bn, threads, steps, warmup = spec["arch"], spec["bn"], spec["threads"], spec["steps"], spec["warmup"]
        log = os.path.join(self.tmp, "sgemm_%s_%s.log" % (spec["of"], bn))
        if spec["of"] in ("bnlandscape", "bnlandscape-autograd"):
            engine = "autograd" if spec["of"] == "bnlandscape-autograd" else "auto"
            _, extra = self.bnl(arch, bn, threads, steps, warmup, shim=False, gemm_log=log, engine=engine)
        else:
            _, extra = self.py("py-preloaded", arch, bn, threads, steps, warmup, gemm_log=log)
        with open(log) as f:
            calls = [tuple(map(float, line.split())) for line in f]
        per_step = 3 * (len(HEAD) + 1) - 1
        n = steps + warmup
        if len(calls) < n * per_step:
            raise RuntimeError("expected at least %d sgemm calls for %d steps, got %d" % (n * per_step, n, len(calls)))
        first, last = warmup * per_step, (n - 1) * per_step
        span = calls[last][0] - calls[first][0]
        busy = sum(d for _, d in calls[first:last])
        extra = dict(extra, gemm_ms_per_step=1e3 * busy / (n - 1 - warmup), step_ms=1e3 * span / (n - 1 - warmup))
        return busy / span, extra

    def paired(self, pairs):
        """Ratio of bnlandscape's MLP rate (as shipped, (1, 2)) to the GEMM-only limit measured
        right before it, pair by pair: the host's speed drifts by +-20% within minutes, and a
        ratio of medians taken minutes apart carries that drift; a ratio within one pair mostly
        does not. Returns {bn: [ratio per pair]} and the raw rates."""
        n, w = 120, 12
        ratios = {"none": [], "custom": []}
        raw = []
        for i in range(pairs):
            cpp, _ = self.gemm_cpp("mlp", (1, 2), 400, 40)
            tmm, _ = self.py("gemm-torch", "mlp", "-", (1, 2), 400, 40)
            limit = max(cpp, tmm)
            row = dict(gemm_cpp=cpp, gemm_torch=tmm)
            for bn in ("none", "custom"):
                rate, _ = self.bnl("mlp", bn, (1, 2), n, w, shim=False)
                ratios[bn].append(rate / limit)
                row[bn] = rate
            raw.append(row)
            print("  pair %d: GEMM-only limit %.1f steps/s, no BN %.1f (%.2f), BN custom %.1f (%.2f)"
                  % (i + 1, limit, row["none"], ratios["none"][-1], row["custom"], ratios["custom"][-1]), flush=True)
        return ratios, raw

    def interleaved(self, bn):
        """Ratio to the GEMM-only limit measured inside one training process, interleaved with
        its steps (bench/sgemm_timer.c with BNL_SGEMM_REPLAY = P, the products of one step):
        before every third step the previous step's P products (same shapes, transposes,
        strides) are replayed back to back twice on private buffers; the second pass is the
        GEMM-only time of one step. Steps k = 1 (mod 3) neither follow nor contain a replay and
        give the training step's own time (first product to the next step's first product).
        The two are taken milliseconds apart in the same process, so the host's drift, which
        moves separately timed rates by +-20%, cancels in their ratio. A full 1-epoch MLP run,
        bnlandscape as shipped; the first `warmup` steps and the last (partial) batch are left
        out. Returns (median replay pass 2 / median clean step, details)."""
        per_step = 3 * (len(HEAD) + 1) - 1
        warmup = 20
        log = os.path.join(self.tmp, "interleaved_%s.log" % bn)
        out = os.path.join(self.tmp, "interleaved_%s.h5" % bn)
        cmd = [self.binary, "train", "--dataset", "fashion-mnist", "--arch", "mlp", "--bn", bn,
               "--epochs", "1", "--test-subset", "256", "--out", out, "--overwrite", "--threads", "2", "--quiet"]
        env = dict(os.environ, LD_PRELOAD=self.sgemm_timer, BNL_SGEMM_LOG=log, BNL_SGEMM_REPLAY=str(per_step))
        _, _, wall, foreign, load = run_measured(cmd, env)
        import h5py
        with h5py.File(out, "r") as f:
            n = len(f["/train/steps/wall_time"])
        calls, replays = [], []
        with open(log) as f:
            for line in f:
                p = line.split()
                if p[0] == "R":
                    replays.append((float(p[1]), float(p[2])))
                else:
                    calls.append((float(p[0]), float(p[1])))
        if len(calls) < n * per_step:
            raise RuntimeError("expected at least %d products for %d steps, got %d" % (n * per_step, n, len(calls)))
        steps, busy = [], []
        for k in range(warmup, n - 1):
            if k % 3 == 1:
                c0, c1 = k * per_step, (k + 1) * per_step
                steps.append(calls[c1][0] - calls[c0][0])
                busy.append(sum(d for _, d in calls[c0:c1]))
        # Replay i runs before step 3 (i + 1) and replays step 3 i + 2: keep the full-batch ones
        # after the warm-up.
        pass1, pass2 = [], []
        for i in range(len(replays) // 2):
            replayed = 3 * i + 2
            if warmup <= replayed <= n - 2:
                pass1.append(replays[2 * i][1])
                pass2.append(replays[2 * i + 1][1])
        if len(steps) < 20 or len(pass2) < 20:
            raise RuntimeError("too few clean steps (%d) or replays (%d) in %s" % (len(steps), len(pass2), log))
        step, limit = statistics.median(steps), statistics.median(pass2)
        extra = dict(wall=wall, foreign=foreign, load=load, step_ms=1e3 * step, gemm_only_ms=1e3 * limit,
                     replay_pass1_ms=1e3 * statistics.median(pass1), products_ms=1e3 * statistics.median(busy),
                     share=sum(busy) / sum(steps), clean_steps=len(steps), replays=len(pass2))
        return limit / step, extra

    # --- scheduling
    def wait_quiet(self):
        deadline = time.monotonic() + self.a.wait_quiet
        while loadavg1() > self.a.max_load and time.monotonic() < deadline:
            print("  load %.2f > %.2f, waiting..." % (loadavg1(), self.a.max_load), flush=True)
            time.sleep(30)
        return loadavg1()

    def measure(self, spec):
        kind, arch, bn, threads = spec["kind"], spec["arch"], spec["bn"], spec["threads"]
        steps, warmup = spec["steps"], spec["warmup"]
        for attempt in range(self.a.retakes + 1):
            if kind == "bnlandscape":
                rate, extra = self.bnl(arch, bn, threads, steps, warmup, shim=spec.get("shim", True))
            elif kind in ("py-preloaded", "py-original"):
                rate, extra = self.py(kind, arch, bn, threads, steps, warmup)
            elif kind == "gemm-cpp":
                rate, extra = self.gemm_cpp(arch, threads, steps, warmup)
            elif kind == "gemm-torch":
                rate, extra = self.py("gemm-torch", arch, bn, threads, steps, warmup)
            elif kind == "gemm-share":
                rate, extra = self.gemm_share(spec)
            else:
                raise ValueError(kind)
            if extra["foreign"] <= self.a.max_foreign:
                break
            print("    foreign CPU %.2f cores > %.2f: re-taking after a pause" % (extra["foreign"], self.a.max_foreign),
                  flush=True)
            time.sleep(20)
        return rate, extra


def spec_key(s):
    return (s["kind"] + ("/" + s["of"] if "of" in s else ""), s["arch"], s["bn"], tuple(s["threads"]),
            s.get("shim", True))


def make_specs(a):
    """The measurements of one repeat. MLP: every variant at the four thread settings. ConvMLP
    (about 6 steps/s here, so fewer steps): the shipped (1, 2) and (2, 1). The original pipeline
    (about 25 steps/s) only at (1, 2), which is bnlandscape's setting and also Python's default
    here (torch.get_num_threads() = 1, OpenBLAS 2)."""
    S = []
    # Share of the MLP step spent in matrix products, in-process (the steady estimate of the
    # ratio to the GEMM-only limit), for bnlandscape as shipped and Python preloaded.
    share_steps = (100, 10) if a.quick else (400, 20)
    # bnlandscape-autograd: the same binary with --step-engine autograd, to show what the fused
    # step (the default for these two models) changes.
    for of, bns in (("bnlandscape", ("none", "custom")), ("bnlandscape-autograd", ("none", "custom")),
                    ("py-preloaded", ("none", "torch"))):
        for bn in bns:
            S.append(dict(kind="gemm-share", of=of, arch="mlp", bn=bn, threads=(1, 2), shim=False,
                          steps=share_steps[0], warmup=share_steps[1]))
    if a.only_share:
        return S
    sizes = {"mlp": (60, 10) if a.quick else (120, 12), "cnn": (8, 2) if a.quick else (20, 3)}
    settings = {"mlp": [(1, 1), (1, 2), (2, 1), (2, 2)], "cnn": [(1, 2), (2, 1)]}
    for arch in ("mlp", "cnn"):
        n, w = sizes[arch]
        # bnlandscape exactly as shipped (--threads 2, no shim)
        for bn in ("none", "custom", "torch"):
            S.append(dict(kind="bnlandscape", arch=arch, bn=bn, threads=(1, 2), shim=False, steps=n, warmup=w))
        for th in settings[arch]:
            for bn in ("none", "custom", "torch"):
                if arch == "cnn" and bn == "torch":
                    continue
                S.append(dict(kind="bnlandscape", arch=arch, bn=bn, threads=th, steps=n, warmup=w))
            for bn in ("none", "torch"):
                S.append(dict(kind="py-preloaded", arch=arch, bn=bn, threads=th, steps=n, warmup=w))
        # the GEMM-only limit depends on BLAS threads only
        for blas in (1, 2):
            S.append(dict(kind="gemm-cpp", arch=arch, bn="-", threads=(1, blas), steps=400, warmup=40))
            if arch == "mlp":
                S.append(dict(kind="gemm-torch", arch=arch, bn="-", threads=(1, blas), steps=400, warmup=40))
        for bn in ("none", "torch"):
            S.append(dict(kind="py-original", arch=arch, bn=bn, threads=(1, 2), steps=n // 2, warmup=w))
    return S


def peak_memory(bench, bn):
    out = os.path.join(bench.tmp, "mem_%s.h5" % bn)
    cmd = ["/usr/bin/time", "-v", bench.binary, "train", "--dataset", "fashion-mnist", "--arch", "mlp",
           "--bn", bn, "--epochs", "1", "--out", out, "--overwrite", "--threads", "2", "--quiet"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    w = re.search(r"Elapsed \(wall clock\) time.*: ([\d:.]+)", p.stderr)
    return int(m.group(1)) / 1024.0, w.group(1)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], stdout=subprocess.PIPE, text=True).stdout.strip()
    return nproc, model


def fmt(x, d=1):
    return "-" if x is None else ("%.*f" % (d, x))


def run_interleaved(bench, reps):
    """reps x (no BN, BN custom) interleaved runs, alternating; {bn: [(ratio, extra)]}."""
    res = {"none": [], "custom": []}
    for i in range(reps):
        for bn in ("none", "custom"):
            r, ex = bench.interleaved(bn)
            res[bn].append((r, ex))
            print("  interleaved %d bn=%-6s: ratio %.3f (GEMM-only %.3f ms, first pass %.3f ms; step %.3f ms, "
                  "its products %.3f ms, share %.3f; %d steps, %d replays; load %.2f, foreign %.2f cores)"
                  % (i + 1, bn, r, ex["gemm_only_ms"], ex["replay_pass1_ms"], ex["step_ms"], ex["products_ms"],
                     ex["share"], ex["clean_steps"], ex["replays"], ex["load"], ex["foreign"]), flush=True)
    return res


def main_run(a):
    t_start = time.monotonic()
    bench = Bench(a)
    if not os.path.exists(bench.source_binary):
        sys.exit("missing %s: cmake --build build --target bnlandscape -j2" % bench.source_binary)
    bench.snapshot_binary()
    bench.build_helpers()
    if a.only_interleaved:
        inter = run_interleaved(bench, a.interleaved)
        for bn, v in inter.items():
            print("interleaved %s: median ratio %.3f over %s" % (bn, statistics.median(r for r, _ in v),
                                                                 ", ".join("%.3f" % r for r, _ in v)))
        shutil.rmtree(bench.tmp, ignore_errors=True)
        return
    specs = make_specs(a)
    print("%d measurements x %d repeats" % (len(specs), a.reps), flush=True)
    load0 = bench.wait_quiet()
    results = {spec_key(s): [] for s in specs}
    extras = {spec_key(s): [] for s in specs}
    for rep in range(a.reps):
        for i, s in enumerate(specs):
            rate, extra = bench.measure(s)
            results[spec_key(s)].append(rate)
            extras[spec_key(s)].append(extra)
            if s["kind"] == "gemm-share":
                print("  rep %d gemm share of %-12s mlp bn=%-6s: %.3f (products %.2f ms of a %.2f ms step; "
                      "load %.2f, foreign %.2f cores)" % (rep + 1, s["of"], s["bn"], rate, extra["gemm_ms_per_step"],
                                                         extra["step_ms"], extra["load"], extra["foreign"]), flush=True)
                continue
            print("  rep %d %-13s %-3s bn=%-6s intra=%d blas=%d%s: %8.1f steps/s  (load %.2f, foreign %.2f cores)"
                  % (rep + 1, s["kind"], s["arch"], s["bn"], s["threads"][0], s["threads"][1],
                     "" if s.get("shim", True) else " (as shipped)", rate, extra["load"], extra["foreign"]),
                  flush=True)
    if a.only_share:
        for k, v in results.items():
            print("%s %s: median share %.3f over %s" % (k[0], k[2], statistics.median(v), ", ".join("%.3f" % x for x in v)))
        shutil.rmtree(bench.tmp, ignore_errors=True)
        return
    paired = bench.paired(a.pairs) if a.pairs > 0 else None
    inter = run_interleaved(bench, a.interleaved) if a.interleaved > 0 else None
    mem = {bn: peak_memory(bench, bn) for bn in ("custom", "none")}
    elapsed = time.monotonic() - t_start
    info = "%s, git revision %s" % (bench.binary_info, getattr(bench, "git_revision", "?"))
    write_results(a, specs, results, extras, mem, load0, elapsed, info, paired, inter)
    shutil.rmtree(bench.tmp, ignore_errors=True)


def write_results(a, specs, results, extras, mem, load0, elapsed, info="?", paired=None, inter=None):
    med = {k: statistics.median(v) for k, v in results.items()}
    allfor = [e for v in extras.values() for e in v]
    max_foreign = max(e["foreign"] for e in allfor)
    med_foreign = statistics.median(e["foreign"] for e in allfor)
    max_load = max(e["load"] for e in allfor)
    nproc, model = machine()

    def get(kind, arch, bn, th, shim=True):
        return med.get((kind, arch, bn, tuple(th), shim))

    def gemm(kind, arch, th):
        for k, v in med.items():
            if k[0] == kind and k[1] == arch and k[3][1] == th[1]:
                return v
        return None

    def gemm_limit(arch, th):
        vals = [v for v in (gemm("gemm-cpp", arch, th), gemm("gemm-torch", arch, th)) if v is not None]
        return max(vals) if vals else None

    def ratio(x, y):
        return "-" if x is None or y is None else "%.2f" % (x / y)

    L = []
    L.append("# Training throughput: bnlandscape vs PyTorch (Python) on this machine\n")
    L.append("Generated by `bench/run_train_bench.sh` (`bench/train_bench.py`) on %s in %.0f s. "
             "Machine: `nproc` = %s, CPU: %s; libtorch %s (Debian), BLAS: OpenBLAS via libblas.so.3."
             % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), elapsed, nproc, model, torch_version()))
    L.append("Binary: %s." % info)
    L.append("")
    L.append("Steps per second at batch 128 (plain SGD lr 0.1, mean cross-entropy, shuffled Fashion-MNIST), "
             "median of %d repeats taken round-robin. Python BN is `torch.nn.BatchNorm1d`; bnlandscape "
             "`--bn custom` is its own BatchNorm (the MLP's `--bn none` and `--bn custom` train through the fused step, "
             "`--step-engine auto`; the ConvMLP through autograd), `--bn torch` libtorch's BatchNorm1d. "
             "Steps: %s after %s warm-up (MLP), %s after %s (ConvMLP), half as many for the original pipeline; bnlandscape's rate comes from "
             "`/train/steps/wall_time` of a `--train-subset` run (evaluation excluded, warm-up skipped)."
             % (a.reps, *(("60", "10", "8", "2") if a.quick else ("120", "12", "20", "3"))))
    L.append("")
    L.append("Load: 1-minute load average %.2f before the first measurement, at most %.2f before any "
             "(our own runs included); CPU use of other processes during the measurements: median %.2f, "
             "max %.2f cores." % (load0, max_load, med_foreign, max_foreign))
    L.append("")
    L.append("Thread settings are (intra-op, BLAS): libtorch's intra-op OpenMP threads and OpenBLAS's own "
             "threads. bnlandscape `--threads 2` ships as (1, 2) (`configure_threads`, src/train/trainer.cpp); "
             "other settings are reached with an LD_PRELOAD shim overriding its two setters.")
    L.append("")
    for arch, title in (("mlp", "MLP 784-512-256-128-10"), ("cnn", "ConvMLP (conv 32, conv 64, dense head 512-256-128-10)")):
        th = (1, 2)
        L.append("## %s, bnlandscape's thread setting (1, 2)\n" % title)
        L.append("| variant | steps/s | ratio vs Python preloaded | ratio vs original pipeline | "
                 "ratio vs GEMM-only limit | threads (intra, BLAS) |")
        L.append("|---|---:|---:|---:|---:|---|")
        limit = gemm_limit(arch, th)
        for bn, pybn, label in (("none", "none", "no BN"), ("custom", "torch", "BN custom"),
                                ("torch", "torch", "BN torch")):
            x = get("bnlandscape", arch, bn, th, shim=False)
            pre = get("py-preloaded", arch, pybn, th)
            ori = get("py-original", arch, pybn, th)
            L.append("| bnlandscape %s (as shipped) | %s | %s | %s | %s | (1, 2) |"
                     % (label, fmt(x), ratio(x, pre), ratio(x, ori), ratio(x, limit)))
        for bn, label in (("none", "no BN"), ("torch", "BatchNorm1d")):
            pre = get("py-preloaded", arch, bn, th)
            ori = get("py-original", arch, bn, th)
            L.append("| Python preloaded, %s | %s | 1.00 | %s | %s | (1, 2) |"
                     % (label, fmt(pre), ratio(pre, ori), ratio(pre, limit)))
            L.append("| Python original pipeline, %s | %s | %s | 1.00 | %s | (1, 2) |"
                     % (label, fmt(ori), ratio(ori, pre), ratio(ori, limit)))
        gt = gemm("gemm-torch", arch, th)
        gc = gemm("gemm-cpp", arch, th)
        L.append("| GEMM-only, sgemm_ direct (%s) | %s | - | - | %s | BLAS 2 |"
                 % ("Linear layers only: the convolutions are not in it" if arch == "cnn" else "all Linear products",
                    fmt(gc), ratio(gc, limit)))
        if gt is not None:
            L.append("| GEMM-only via torch.mm (same products) | %s | - | - | %s | BLAS 2 |" % (fmt(gt), ratio(gt, limit)))
        L.append("")
        # sweep
        L.append("### %s: thread sweep (steps/s, median)\n" % title)
        settings = sorted({k[3] for k in med if k[1] == arch and k[0] != "gemm-cpp" and k[4]})
        L.append("| variant | " + " | ".join("(%d, %d)" % t for t in settings) + " |")
        L.append("|---|" + "---:|" * len(settings))
        rows = [("bnlandscape", "none", "bnlandscape no BN"), ("bnlandscape", "custom", "bnlandscape BN custom"),
                ("bnlandscape", "torch", "bnlandscape BN torch"), ("py-preloaded", "none", "Python preloaded no BN"),
                ("py-preloaded", "torch", "Python preloaded BatchNorm1d"),
                ("py-original", "none", "Python original pipeline no BN"),
                ("py-original", "torch", "Python original pipeline BatchNorm1d")]
        best_lines = []
        for kind, bn, label in rows:
            vals = [get(kind, arch, bn, t) for t in settings]
            if any(v is not None for v in vals):
                top = max(v for v in vals if v is not None)
                cells = [("**%s**" % fmt(v)) if (v == top and sum(x is not None for x in vals) > 1) else fmt(v)
                         for v in vals]
                L.append("| %s | %s |" % (label, " | ".join(cells)))
                if sum(x is not None for x in vals) > 1:
                    bt = settings[vals.index(top)]
                    ref = get(kind, arch, bn, (1, 2))
                    best_lines.append("%s (%d, %d)%s" % (label, bt[0], bt[1],
                                      "" if bt == (1, 2) or ref is None else " (%.2fx of (1, 2))" % (top / ref)))
        vals = [gemm("gemm-cpp", arch, t) for t in settings]
        L.append("| GEMM-only, sgemm_ direct (depends on BLAS threads only) | %s |" % " | ".join(fmt(v) for v in vals))
        vals = [gemm("gemm-torch", arch, t) for t in settings]
        if any(v is not None for v in vals):
            L.append("| GEMM-only via torch.mm | %s |" % " | ".join(fmt(v) for v in vals))
        L.append("")
        L.append("Fastest setting (bold): " + "; ".join(best_lines) + ".")
        L.append("")
    # targets
    th = (1, 2)
    x0 = get("bnlandscape", "mlp", "none", th, shim=False)
    x1 = get("bnlandscape", "mlp", "custom", th, shim=False)
    lim = gemm_limit("mlp", th)
    # The shim runs at (1, 2) apply exactly the shipped settings: pool them for a second, steadier figure.
    def pooled(kind, arch, bn):
        v = results.get((kind, arch, bn, (1, 2), False), []) + results.get((kind, arch, bn, (1, 2), True), [])
        return statistics.median(v) if v else None

    L.append("## MLP targets (bnlandscape as shipped, (1, 2))\n")
    L.append("\"pooled\": median over the as-shipped runs and the shim runs at the same (1, 2) setting "
             "(%d repeats each), which is the steadier figure." % a.reps)
    L.append("")
    L.append("| target | measured (as shipped) | met | measured (pooled) | met |")
    L.append("|---|---:|---|---:|---|")
    for bn, pybn, label in (("none", "none", "no BN"), ("custom", "torch", "BN custom"), ("torch", "torch", "BN torch")):
        x = get("bnlandscape", "mlp", bn, th, shim=False)
        xp = pooled("bnlandscape", "mlp", bn)
        pre = get("py-preloaded", "mlp", pybn, th)
        ori = get("py-original", "mlp", pybn, th)
        L.append("| %s: >= 1.2x Python preloaded | %s | %s | %s | %s |"
                 % (label, ratio(x, pre), yes(x, pre, 1.2), ratio(xp, pre), yes(xp, pre, 1.2)))
        L.append("| %s: >= 3x original pipeline | %s | %s | %s | %s |"
                 % (label, ratio(x, ori), yes(x, ori, 3.0), ratio(xp, ori), yes(xp, ori, 3.0)))
    x0p, x1p = pooled("bnlandscape", "mlp", "none"), pooled("bnlandscape", "mlp", "custom")
    L.append("| no BN: >= 0.75 of GEMM-only limit | %s | %s | %s | %s |"
             % (ratio(x0, lim), yes(x0, lim, 0.75), ratio(x0p, lim), yes(x0p, lim, 0.75)))
    L.append("| BN custom: fraction of GEMM-only limit (report only) | %s | - | %s | - |" % (ratio(x1, lim), ratio(x1p, lim)))
    if paired:
        pr = statistics.median(paired[0]["none"])
        L.append("| no BN: >= 0.75 of GEMM-only limit, paired (median over %d pairs of the ratio to the limit "
                 "measured just before) | %.2f | %s | | |" % (len(paired[0]["none"]), pr, "yes" if pr >= 0.75 else "NO"))
        L.append("| BN custom: fraction of GEMM-only limit, paired (report only) | %.2f | - | | |"
                 % statistics.median(paired[0]["custom"]))
    if inter:
        r0 = statistics.median(r for r, _ in inter["none"])
        L.append("| no BN: >= 0.75 of GEMM-only limit, interleaved in-process (median over %d full-epoch runs of "
                 "the ratio of one step's products replayed back to back to a training step) | %.2f | %s | | |"
                 % (len(inter["none"]), r0, "yes" if r0 >= 0.75 else "NO"))
        L.append("| BN custom: fraction of GEMM-only limit, interleaved in-process (report only) | %.2f | - | | |"
                 % statistics.median(r for r, _ in inter["custom"]))
    share = {(k[0].split("/", 1)[1], k[2]): v for k, v in med.items() if k[0].startswith("gemm-share/")}
    if ("bnlandscape", "none") in share:
        v = share[("bnlandscape", "none")]
        L.append("| no BN: GEMM share of the step, in-process (steady estimate of the line above) | %.2f | %s | | |"
                 % (v, "yes" if v >= 0.75 else "NO"))
    if ("bnlandscape", "none") in share and ("py-preloaded", "none") in share:
        v = share[("bnlandscape", "none")] / share[("py-preloaded", "none")]
        L.append("| no BN: >= 1.2x Python preloaded, from the in-process GEMM shares | %.2f | %s | | |"
                 % (v, "yes" if v >= 1.2 else "NO"))
    if ("bnlandscape", "custom") in share and ("py-preloaded", "torch") in share:
        v = share[("bnlandscape", "custom")] / share[("py-preloaded", "torch")]
        L.append("| BN custom: >= 1.2x Python preloaded BatchNorm1d, from the in-process GEMM shares | %.2f | %s | | |"
                 % (v, "yes" if v >= 1.2 else "NO"))
    mb = mem["custom"][0]
    L.append("| peak RSS, full Fashion-MNIST MLP 1 epoch, BN custom < 600 MB | %.0f MB | %s | | |"
             % (mb, "yes" if mb < 600 else "NO"))
    L.append("")
    L.append("Peak memory (`/usr/bin/time -v`, max RSS) of `bnlandscape train --dataset fashion-mnist --arch mlp "
             "--epochs 1 --threads 2` on the full data: BN custom %.0f MB (wall %s), no BN %.0f MB (wall %s)."
             % (mem["custom"][0], mem["custom"][1], mem["none"][0], mem["none"][1]))
    L.append("")
    if share:
        L.append("In-process GEMM share (`bench/sgemm_timer.c`, LD_PRELOAD): every `sgemm_` and `cblas_sgemm` call "
                 "of a 1-epoch "
                 "run is timed inside the process, and the products' time is divided by the time of the same "
                 "steps (after the warm-up). Both come from one window of one process, so the share does not "
                 "swing with the host's speed the way separately timed runs do; it equals the ratio to the "
                 "GEMM-only limit when the products run as fast in the training process as back to back. "
                 "The ratio of two shares is the ratio of the two loops' speeds when their products take the "
                 "same time. Median of %d repeats:" % a.reps)
        L.append("")
        L.append("| loop | GEMM share | products ms / step | step ms | non-GEMM ms / step |")
        L.append("|---|---:|---:|---:|---:|")
        for (of, bn) in sorted(share):
            key = ("gemm-share/" + of, "mlp", bn, (1, 2), False)
            ex = extras[key]
            g = statistics.median(e["gemm_ms_per_step"] for e in ex)
            st = statistics.median(e["step_ms"] for e in ex)
            nong = statistics.median(e["step_ms"] - e["gemm_ms_per_step"] for e in ex)
            L.append("| %s %s | %.3f | %.2f | %.2f | %.2f |" % (of, "no BN" if bn == "none" else "BN " + bn,
                                                              share[(of, bn)], g, st, nong))
        L.append("")
    if inter:
        L.append("Interleaved ratio to the GEMM-only limit (`bench/sgemm_timer.c` with `BNL_SGEMM_REPLAY=11`): in "
                 "a full 1-epoch MLP run of bnlandscape as shipped, before every third step the previous step's 11 "
                 "products (same shapes, transposes, strides) are replayed back to back, twice, on private "
                 "buffers; the second pass is the GEMM-only time of one step. Steps that neither follow nor "
                 "contain a replay give the training step's time. Both are taken milliseconds apart in the same "
                 "process, so the host's drift (which moves separately timed rates by +-20%%) cancels in the "
                 "ratio. Per run: medians over about 150 clean steps and 150 replays after a 20-step warm-up.")
        L.append("")
        L.append("| run | no BN ratio | GEMM-only ms | step ms | BN custom ratio | GEMM-only ms | step ms |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for i, ((r0, e0), (r1, e1)) in enumerate(zip(inter["none"], inter["custom"])):
            L.append("| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (i + 1, r0, e0["gemm_only_ms"], e0["step_ms"],
                                                                       r1, e1["gemm_only_ms"], e1["step_ms"]))
        L.append("")
    L.append("GEMM-only limit: per Linear layer with input [128, in] and weight [out, in], the forward "
             "[128,in]x[in,out], the input-gradient [128,out]x[out,in] (skipped for the first layer, whose "
             "input needs no gradient, as autograd skips it) and the weight-gradient [out,128]x[128,in] "
             "products, back to back through OpenBLAS `sgemm_` (bench/gemm_bench.cpp) and through `torch.mm` "
             "(same products, `out=` buffers); the limit is the faster of the two medians; steps/s = 1 / time of "
             "one step's products. For the ConvMLP it covers only the dense head, so it is not a limit for "
             "that model's step.")
    L.append("")
    L.append("Repeat-to-repeat spread on this (virtual) machine is about +-10% for the MLP and +-20% for the "
             "ConvMLP even with no other load; the per-repeat values and the foreign CPU use of every "
             "measurement are in the script's log (and in `--json PATH`).")
    text = "\n".join(L) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            out = {"|".join(map(str, k)): dict(rates=results[k], extras=extras[k]) for k in results}
            if paired:
                out["paired"] = dict(ratios=paired[0], raw=paired[1])
            if inter:
                out["interleaved"] = {bn: [dict(ratio=r, **e) for r, e in v] for bn, v in inter.items()}
            json.dump(out, f, indent=1)
    print(text)


def yes(x, y, t):
    if x is None or y is None:
        return "-"
    return "yes" if x / y >= t else "NO"


def torch_version():
    try:
        out = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        return out
    except Exception:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--kind", required=True, choices=["py-preloaded", "py-original", "gemm-torch"])
    w.add_argument("--arch", default="mlp", choices=["mlp", "cnn"])
    w.add_argument("--bn", default="none")
    w.add_argument("--intra", type=int, default=1)
    w.add_argument("--blas", type=int, default=2)
    w.add_argument("--steps", type=int, default=200)
    w.add_argument("--warmup", type=int, default=20)
    w.add_argument("--tv-root", default=os.path.join(tempfile.gettempdir(), "bnl_tv"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=8,
                    help="GEMM-only / bnlandscape pairs for the paired ratio to the limit (0 = none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    ap.add_argument("--json", metavar="PATH", help="also write the raw measurements (every repeat) to PATH")
    ap.add_argument("--quick", action="store_true", help="fewer steps and settings (a smoke test)")
    ap.add_argument("--only-share", action="store_true",
                    help="only the in-process GEMM-share measurements (prints them, writes no RESULTS.md)")
    ap.add_argument("--interleaved", type=int, default=5,
                    help="full-epoch runs per BN setting for the interleaved in-process ratio to the limit (0 = none)")
    ap.add_argument("--only-interleaved", action="store_true",
                    help="only the interleaved measurements (prints them, writes no RESULTS.md)")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-min load average to drop to this")
    ap.add_argument("--wait-quiet", type=float, default=0, help="seconds to wait at most for --max-load")
    ap.add_argument("--max-foreign", type=float, default=0.3,
                    help="re-take a measurement when other processes used more cores than this")
    ap.add_argument("--retakes", type=int, default=3, help="re-takes at most per measurement (20 s apart)")
    a = ap.parse_args()
    if a.cmd == "worker":
        if a.kind == "gemm-torch":
            worker_gemm_torch(a)
        else:
            worker_train(a)
    else:
        main_run(a)


if __name__ == "__main__":
    main()
