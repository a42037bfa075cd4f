"""PyTorch interop (issue 28, item 11): an MLP checkpoint loads into the PyTorch nn.Sequential
of nn.Linear, nn.BatchNorm1d and nn.ReLU with load_state_dict(strict=True), by the very snippet
README.md shows (extracted from README.md, so the two cannot drift), and gives the binary's
numbers: its test loss and accuracy over the test subset equal those the run recorded at the
checkpoint's step. A checkpoint in the names used before (gamma, beta, no num_batches_tracked)
still probes offline and resumes, with the numbers of the file in the new names.

Run from the repository root: /usr/bin/python3 -m unittest tests/plots/test_torch_interop.py
The binary is $BNL_BINARY, else build/bnlandscape; skipped when it, Fashion-MNIST or torch is
missing.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
DATA = Path("/usr/share/datasets/fashion-mnist")

import h5py  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # pragma: no cover - Debian's python3 has torch
    torch = None

STEPS = 16  # 2 epochs of 256 examples in batches of 32
TEST_N = 200
SMALL = ["--dataset", "fashion-mnist", "--arch", "mlp", "--hidden-dims", "32,16", "--train-subset", "256",
         "--test-subset", str(TEST_N), "--batch-size", "32", "--epochs", "2", "--checkpoint-every", "8",
         "--threads", "1", "--quiet"]


def readme_snippet() -> str:
    """The python block of README.md's section "Loading a checkpoint in PyTorch"."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"^## Loading a checkpoint in PyTorch\n(.*?)^## ", text, re.S | re.M)
    assert m, "README.md: expected a section '## Loading a checkpoint in PyTorch'"
    blocks = re.findall(r"^```python\n(.*?)^```", m.group(1), re.S | re.M)
    assert len(blocks) == 1, f"README.md: expected one python block in the section, got {len(blocks)}"
    return blocks[0]


def run_snippet(workdir: str) -> dict:
    """Executes the README snippet in `workdir` (where run.h5 is); returns its variables."""
    ns: dict = {}
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        exec(compile(readme_snippet(), "README.md (snippet)", "exec"), ns)
    finally:
        os.chdir(cwd)
    return ns


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def bnl(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def to_old_names(path: str) -> None:
    """Rewrites every checkpoint of `path` as written before the change: a BatchNorm layer's
    weight and bias as gamma and beta, and no num_batches_tracked."""
    with h5py.File(path, "r+") as f:
        for name in f["checkpoints"]:
            g = f["checkpoints"][name]
            layers = [k[: -len(".running_var")] for k in g if k.endswith(".running_var")]
            assert layers, "expected BatchNorm layers in the checkpoint"
            for p in layers:
                g.move(f"{p}.weight", f"{p}.gamma")
                g.move(f"{p}.bias", f"{p}.beta")
                del g[f"{p}.num_batches_tracked"]


def datasets(path: str, group: str) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f[group].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


@unittest.skipIf(torch is None, "no torch in this python")
class TorchInterop(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest(f"bnlandscape binary not found at {BINARY}")
        if not (DATA / "t10k-images-idx3-ubyte.gz").exists():
            raise unittest.SkipTest("Fashion-MNIST not installed")
        cls.tmp = tempfile.mkdtemp(prefix="bnl_interop_")
        for bn in ("custom", "none"):
            p = bnl("train", *SMALL, "--bn", bn, "--out", os.path.join(cls.tmp, f"{bn}.h5"))
            if p.returncode != 0:
                shutil.rmtree(cls.tmp, ignore_errors=True)
                raise AssertionError(f"train --bn {bn} failed ({p.returncode}): {p.stdout}{p.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_readme_snippet_loads_strict_and_gives_the_binarys_test_loss(self):
        images = read_idx(DATA / "t10k-images-idx3-ubyte.gz")[:TEST_N]
        labels = torch.tensor(read_idx(DATA / "t10k-labels-idx1-ubyte.gz")[:TEST_N].astype(np.int64))
        x = (torch.tensor(images, dtype=torch.float32).reshape(TEST_N, -1) / 255.0 - 0.2860) / 0.3530
        for bn in ("custom", "none"):
            with self.subTest(bn=bn):
                work = os.path.join(self.tmp, f"snippet_{bn}")
                os.makedirs(work)
                shutil.copy(os.path.join(self.tmp, f"{bn}.h5"), os.path.join(work, "run.h5"))
                ns = run_snippet(work)
                net = ns["net"]
                kinds = [type(m).__name__ for m in net]
                if bn == "custom":
                    self.assertEqual(kinds, ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"])
                    # A trained BN: its counter is the number of training steps, its statistics moved.
                    self.assertEqual(int(net[1].num_batches_tracked), STEPS)
                    self.assertFalse(torch.allclose(net[1].running_var, torch.ones(32)))
                else:
                    self.assertEqual(kinds, ["Linear", "ReLU"] * 2 + ["Linear"])
                with h5py.File(os.path.join(work, "run.h5"), "r") as f:
                    self.assertEqual(sorted(f["checkpoints"])[-1], f"step_{STEPS:07d}")
                    e = f["train/epochs"]
                    self.assertEqual(int(e["step"][-1]), STEPS)
                    want_loss, want_acc = float(e["test_loss"][-1]), float(e["test_acc"][-1])
                self.assertFalse(net.training)
                with torch.no_grad():
                    logits = net(x)
                loss = torch.nn.functional.cross_entropy(logits.double(), labels).item()
                acc = (logits.argmax(1) == labels).double().mean().item()
                # float32 forwards of one model by two builds: rounding apart, equal. A BN layer
                # loaded wrongly (statistics, scale) moves the loss by far more.
                self.assertAlmostEqual(loss, want_loss, delta=1e-5 * max(1.0, want_loss))
                self.assertAlmostEqual(acc, want_acc, delta=1.0 / TEST_N + 1e-12)

    def test_old_names_still_probe_offline_and_resume(self):
        new = os.path.join(self.tmp, "custom.h5")
        old = os.path.join(self.tmp, "old.h5")
        shutil.copy(new, old)
        to_old_names(old)
        group = f"/checkpoints/step_{STEPS:07d}"
        probe = ["--checkpoint-group", group, "--probe-batch", "fixed", "--probe-size", "64", "--top-k", "2",
                 "--threads", "1", "--quiet"]
        outs = {}
        for name, src in (("new", new), ("old", old)):
            out = os.path.join(self.tmp, f"probe_{name}.h5")
            p = bnl("probe", "--checkpoint", src, *probe, "--out", out)
            self.assertEqual(p.returncode, 0, f"probe --checkpoint {name}: {p.stdout}{p.stderr}")
            outs[name] = datasets(out, "probes")
        self.assertTrue(outs["new"])
        self.assertEqual(sorted(outs["new"]), sorted(outs["old"]))
        for k, v in outs["new"].items():
            if k.endswith("wall_time") or k.endswith("seconds"):
                continue
            np.testing.assert_array_equal(v, outs["old"][k], err_msg=k)

        # Killed after the step-8 checkpoint (in the old names): the resumed run's series are
        # the uninterrupted run's.
        cut = os.path.join(self.tmp, "cut.h5")
        shutil.copy(old, cut)
        with h5py.File(cut, "r+") as f:
            for k in list(f["checkpoints"]):
                if int(k[5:]) > 8:
                    del f["checkpoints"][k]
            f.attrs["status"] = "running"
        p = bnl("train", "--resume", cut, "--quiet")
        self.assertEqual(p.returncode, 0, f"train --resume: {p.stdout}{p.stderr}")
        ref, got = datasets(new, "train"), datasets(cut, "train")
        self.assertEqual(sorted(ref), sorted(got))
        for k, v in ref.items():
            if k.split("/")[-1] in ("wall_time", "seconds"):
                continue
            np.testing.assert_array_equal(v, got[k], err_msg=k)
        # The checkpoint the resumed run wrote is in torch's names.
        with h5py.File(cut, "r") as f:
            g = f["checkpoints"][f"step_{STEPS:07d}"]
            self.assertIn("net.1.weight", g)
            self.assertIn("net.1.num_batches_tracked", g)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    unittest.main()
