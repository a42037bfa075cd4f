"""--pad-to 32 (issue 25 section 1): the binary's padded Fashion-MNIST batch is the Python transform
F.pad(x, (2, 2, 2, 2)) of the normalised images. Checked through a model: an MLP on 32x32 inputs
is trained by the binary with --pad-to 32, then its checkpoint is probed offline on the first 64
training examples (float64 probe arithmetic); PyTorch evaluates the same weights on
F.pad((x/255 - 0.2860)/0.3530, (2, 2, 2, 2)) of the same images and must give the probe's loss.
A wrong placement or pad value would move the loss by far more than the tolerance (the test
checks that too, so it can fail). Also: the run file records the padding, --arch vgg trains on
padded Fashion-MNIST (and a surface of its checkpoint rebuilds the same network) and refuses
unpadded 28x28 inputs, and a --pad-to below 28 is refused.

Run from the repository root: /usr/bin/python3 -m unittest tests/plots/test_pad_to.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

import h5py
import numpy as np

import plots.schema as S

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_torch_interop as interop  # noqa: E402  (its IDX reader; a module, so its tests are not collected twice)

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
DATA = Path("/usr/share/datasets/fashion-mnist")
N = 64

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - Debian's python3 has torch
    torch = None


def bnl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=600)


@unittest.skipIf(torch is None, "no torch in this python")
class PadTo(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest(f"bnlandscape binary not found at {BINARY}")
        if not (DATA / "train-images-idx3-ubyte.gz").exists():
            raise unittest.SkipTest("Fashion-MNIST not installed")
        cls.tmp = tempfile.mkdtemp(prefix="bnl_padto_")
        cls.run_file = os.path.join(cls.tmp, "mlp.h5")
        cls.probe = os.path.join(cls.tmp, "probe.h5")
        p = bnl("train", "--dataset", "fashion-mnist", "--arch", "mlp", "--hidden-dims", "32", "--bn", "none",
                "--pad-to", "32", "--train-subset", "256", "--test-subset", "64", "--batch-size", "64",
                "--epochs", "1", "--threads", "1", "--quiet", "--out", cls.run_file)
        assert p.returncode == 0, p.stdout + p.stderr
        p = bnl("probe", "--checkpoint", cls.run_file, "--probe-size", str(N), "--probe-dtype", "float64",
                "--top-k", "0", "--threads", "1", "--quiet", "--out", cls.probe)
        assert p.returncode == 0, p.stdout + p.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def loss_of(self, pad: tuple[int, int, int, int], value: float = 0.0) -> float:
        images = interop.read_idx(DATA / "train-images-idx3-ubyte.gz")[:N]
        labels = torch.tensor(interop.read_idx(DATA / "train-labels-idx1-ubyte.gz")[:N].astype(np.int64))
        x = (torch.tensor(images, dtype=torch.float32).reshape(N, 1, 28, 28) / 255.0 - 0.2860) / 0.3530
        x = F.pad(x, pad, value=value).double().reshape(N, -1)
        with h5py.File(self.run_file, "r") as f:
            g = f[S.CHECKPOINTS]
            ck = g[max(g, key=lambda k: int(g[k].attrs["step"]))]
            w = {k: torch.tensor(ck[k][()], dtype=torch.float64) for k in ck if isinstance(ck[k], h5py.Dataset)}
        h = torch.relu(x @ w["net.0.weight"].T + w["net.0.bias"])
        logits = h @ w["net.2.weight"].T + w["net.2.bias"]
        return float(F.cross_entropy(logits, labels))

    def test_padded_batch_is_F_pad_of_the_normalised_images(self):
        with h5py.File(self.probe, "r") as f:
            binary = float(f[S.PROBES_LOSS][0])
        python = self.loss_of((2, 2, 2, 2))
        self.assertAlmostEqual(python, binary, delta=1e-6 * abs(binary))
        # The comparison discriminates: the image in a corner, or padding with raw 0 pixels
        # (normalised -0.81) instead of 0 after normalisation, changes the loss visibly.
        self.assertGreater(abs(self.loss_of((0, 4, 0, 4)) - binary), 1e-4)
        self.assertGreater(abs(self.loss_of((2, 2, 2, 2), value=-0.2860 / 0.3530) - binary), 1e-4)

    def test_run_file_records_the_padding(self):
        with h5py.File(self.run_file, "r") as f:
            cfg = tomllib.loads(f.attrs[S.CONFIG_TOML])
            self.assertEqual(cfg["pad_to"], 32)
            self.assertEqual(f.attrs["input_shape"], "1x32x32")
            self.assertIn("zero-padded from 28x28 to 32x32", f.attrs["input_normalization"])
            self.assertEqual(f[S.CHECKPOINTS][next(iter(f[S.CHECKPOINTS]))]["net.0.weight"].shape, (32, 1024))

    def test_vgg_trains_on_padded_fashion_mnist_and_not_on_28x28(self):
        common = ["--dataset", "fashion-mnist", "--arch", "vgg", "--width-mult", "0.125", "--bn", "custom",
                  "--train-subset", "128", "--test-subset", "64", "--batch-size", "64", "--epochs", "1",
                  "--threads", "1", "--quiet"]
        ok = bnl("train", *common, "--pad-to", "32", "--out", os.path.join(self.tmp, "vgg.h5"))
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        # A surface of the run rebuilds the same network: width, configuration and padding come
        # from the checkpoint's configuration (they once did not, and the load failed on shapes).
        surf = bnl("surface", "--checkpoint", os.path.join(self.tmp, "vgg.h5"), "--resolution", "3",
                   "--surface-size", "64", "--threads", "1", "--quiet", "--out", os.path.join(self.tmp, "vgg_s.h5"))
        self.assertEqual(surf.returncode, 0, surf.stdout + surf.stderr)
        with h5py.File(os.path.join(self.tmp, "vgg_s.h5"), "r") as f:
            self.assertEqual(f.attrs["input_shape"], "1x32x32")
        bad = bnl("train", *common, "--out", os.path.join(self.tmp, "vgg28.h5"))
        self.assertEqual(bad.returncode, 2, bad.stdout + bad.stderr)
        self.assertIn("input size 28", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "vgg28.h5")))
        small = bnl("train", *common, "--pad-to", "20", "--out", os.path.join(self.tmp, "vgg20.h5"))
        self.assertEqual(small.returncode, 2, small.stdout + small.stderr)
        self.assertIn("--pad-to = 20: expected at least the image size 28x28", small.stderr)


if __name__ == "__main__":
    unittest.main()
