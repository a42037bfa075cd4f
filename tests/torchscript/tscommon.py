"""Shared helpers of the TorchScript cross-check tests (issue 26, section 3): the binary, run
file readers, the tensor-dataset writer, the probe seeds' random vectors and the dense Hessian
by double autograd. Imported by the test_*.py files of this folder.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
FASHION = Path("/usr/share/datasets/fashion-mnist")
sys.path.insert(0, str(REPO / "examples" / "resnet"))


def bnl(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Runs the binary with `args`; output captured as text."""
    return subprocess.run([BINARY, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def bnl_ok(*args, cwd=None) -> None:
    """Runs the binary; raises AssertionError with its output unless it exits 0."""
    p = bnl(*args, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"bnlandscape {' '.join(map(str, args))} exited {p.returncode}: {p.stdout}{p.stderr}")


def datasets(path, group: str) -> dict:
    """Every dataset under `group` of an HDF5 file, by its path relative to the group."""
    out = {}
    with h5py.File(path, "r") as f:
        f[group].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def last_checkpoint(path) -> dict:
    """name -> torch tensor of the newest /checkpoints/step_N group (the _state subgroup left out)."""
    with h5py.File(path, "r") as f:
        g = f["checkpoints"][max(f["checkpoints"], key=lambda k: int(k[5:]))]
        return {k: torch.tensor(v[()]) for k, v in g.items() if isinstance(v, h5py.Dataset)}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion(n: int, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The first n Fashion-MNIST examples of `split`, normalised as bnlandscape does:
    images [n, 1, 28, 28] float32 (x / 255 - 0.2860) / 0.3530, labels int64 [n]."""
    prefix = "train" if split == "train" else "t10k"
    x = torch.tensor(read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz")[:n], dtype=torch.float32)
    y = torch.tensor(read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz")[:n].astype(np.int64))
    return ((x / 255.0 - 0.2860) / 0.3530).reshape(n, 1, 28, 28), y


def write_tensor_dataset(path, n_train: int, n_test: int, side: int, classes: int, seed: int):
    """A small learnable image set for --dataset tensors: float32 [N, 1, side, side] (a class's
    mean pattern plus noise; no mean/std attributes, so the model sees the values as stored) and
    int64 labels. Returns (train x, train y, test x, test y) as torch tensors."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(classes, 1, side, side)).astype(np.float32)

    def draw(n):
        y = rng.integers(0, classes, size=n).astype(np.int64)
        x = (patterns[y] + rng.normal(size=(n, 1, side, side))).astype(np.float32)
        return x, y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    ytr[:classes] = np.arange(classes)  # every class in the training labels: K = classes
    with h5py.File(path, "w") as f:
        for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            f[f"{split}/x"] = x
            f[f"{split}/y"] = y
    return tuple(torch.tensor(a) for a in (xtr, ytr, xte, yte))


class MT19937_64:
    """std::mt19937_64 (C++11 [rand.predef]), the engine of the probes' seeded vectors
    (src/probes/random.h), written out so the tests can draw the very vectors the binary draws."""

    N, M, MASK = 312, 156, (1 << 64) - 1

    def __init__(self, seed: int):
        self.mt = [seed & self.MASK]
        for i in range(1, self.N):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & self.MASK)
        self.index = self.N

    def _twist(self):
        mt = self.mt
        for i in range(self.N):
            x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % self.N] & 0x7FFFFFFF)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + self.M) % self.N] ^ xa
        self.index = 0

    def __call__(self) -> int:
        if self.index >= self.N:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & self.MASK

    def rademacher(self, n: int) -> np.ndarray:
        """SeededRandom::rademacher_vector: bit i % 64 of every 64th draw, 1 -> +1, 0 -> -1."""
        words = [self() for _ in range((n + 63) // 64)]
        bits = np.array([(words[i // 64] >> (i % 64)) & 1 for i in range(n)])
        return np.where(bits == 1, 1.0, -1.0)


def trace_seed(run_seed: int, probe_index: int) -> int:
    """The seed of the Hutchinson vectors of a run's probe_index-th probe
    (src/probes/landscape_probe.cpp: seed * 1000003 + probes done; spectral_suite.cpp: + 2)."""
    return (run_seed * 1000003 + probe_index + 2) & MT19937_64.MASK


def flat_grad_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    """(params, g): the parameters in named_parameters order and the flat gradient of the mean
    cross-entropy at them, with the graph kept for double backward."""
    params = [p for _, p in model.named_parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    return params, torch.cat([t.reshape(-1) for t in g]), loss


def dense_hessian(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The full Hessian [P, P] of the mean cross-entropy, column by column: H e_j = d(g . e_j)/dw
    by double autograd (PyHessian's product with unit vectors), symmetrised."""
    params, g, _ = flat_grad_fn(model, x, y)
    n = g.numel()
    h = np.empty((n, n))
    for j in range(n):
        col = torch.autograd.grad(g[j], params, retain_graph=True)
        h[:, j] = torch.cat([c.reshape(-1) for c in col]).detach().double().numpy()
    return 0.5 * (h + h.T)
