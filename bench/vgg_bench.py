#!/usr/bin/python3
"""VGG training throughput: bnlandscape `--arch vgg` vs the same network in Python PyTorch,
side by side, at the same thread settings.

    /usr/bin/python3 bench/vgg_bench.py [--width 0.25] [--reps 3] [--steps 30] [--warmup 5]

VGG-11 at --width on CIFAR-shaped batches of 128 (3 x 32 x 32), plain SGD lr 0.1, mean
cross-entropy, with BN after every convolution (ours, `--bn custom`, vs torch.nn.BatchNorm2d)
and without. bnlandscape trains on generated CIFAR-10 binary batches (the real reader, data
preloaded) and its rate comes from /train/steps/wall_time (warm-up skipped); Python trains on
the same number of preloaded random batches. Every measurement is a fresh process; the thread
settings (intra-op, BLAS) are set through bench/train_bench.py's LD_PRELOAD shim for
bnlandscape and torch.set_num_threads / openblas_set_num_threads for Python; repeats are taken
round-robin and the median is printed as a Markdown table. Needs build/bnlandscape,
python3-torchvision and python3-h5py.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_bench as tb  # noqa: E402  (shim, thread setters, measured runs)

CFG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
BATCH = 128


def widths(mult):
    return [v if v == "M" else max(1, int(v * mult + 0.5)) for v in CFG11]


def worker(a):
    import time
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torchvision.models.vgg import make_layers
    intra, blas = tb.set_threads(a.intra, a.blas)
    torch.manual_seed(0)
    cfg = widths(a.width)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = make_layers(cfg, batch_norm=a.bn == "custom")
            self.classifier = nn.Linear(cfg[-2], 10)

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    model = Net().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    n = a.steps + a.warmup
    xs = torch.randn(n * BATCH, 3, 32, 32)
    ys = torch.randint(0, 10, (n * BATCH,))
    perm = torch.randperm(n * BATCH)
    t0 = None
    for i in range(n):
        if i == a.warmup:
            t0 = time.perf_counter()
        idx = perm[i * BATCH:(i + 1) * BATCH]
        x, y = xs[idx], ys[idx]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    print(json.dumps(dict(steps_per_s=a.steps / (time.perf_counter() - t0), intra=intra, blas=blas)))


def write_cifar(root, n_train):
    d = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(d, exist_ok=True)
    rng = __import__("random").Random(0)
    for name, n in [("data_batch_1", n_train)] + [("data_batch_%d" % i, 1) for i in range(2, 6)] + [("test_batch", 16)]:
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            for _ in range(n):
                f.write(bytes([rng.randrange(10)]) + os.urandom(3072))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--settings", default="1,2;2,1", help="(intra,BLAS) thread settings, ';'-separated")
    p.add_argument("worker", nargs="?")
    p.add_argument("--bn", default="custom")
    p.add_argument("--intra", type=int, default=1)
    p.add_argument("--blas", type=int, default=1)
    a = p.parse_args()
    if a.worker == "worker":
        return worker(a)

    binary = os.path.join(tb.ROOT, "build", "bnlandscape")
    tmp = tempfile.mkdtemp(prefix="bnl_vgg_bench_")
    shim = tb.build_shim(tmp)
    n = (a.steps + a.warmup) * BATCH
    write_cifar(os.path.join(tmp, "cifar"), n)
    settings = [tuple(int(v) for v in s.split(",")) for s in a.settings.split(";")]

    def ours(bn, th):
        out = os.path.join(tmp, "run.h5")
        cmd = [binary, "train", "--dataset", "cifar10", "--data-dir", os.path.join(tmp, "cifar"), "--arch", "vgg",
               "--width-mult", str(a.width), "--bn", bn, "--batch-size", str(BATCH), "--epochs", "1",
               "--train-subset", str(n), "--test-subset", "16", "--threads", "2", "--out", out, "--overwrite",
               "--quiet"]
        return tb.measured_rate(cmd, tb.shim_env(shim, th), out, th, a.steps, a.warmup)

    def python(bn, th):
        cmd = [tb.PY, os.path.abspath(__file__), "worker", "--bn", bn, "--intra", str(th[0]), "--blas", str(th[1]),
               "--steps", str(a.steps), "--warmup", str(a.warmup), "--width", str(a.width)]
        return tb.worker_rate(cmd, th)

    try:
        tb.side_by_side(ours, python, settings, a.reps, a.steps, a.warmup, "BN (ours / torch.nn.BatchNorm2d)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
