"""A scripted copy of the study's MLP (issue 26, section 3): `--arch torchscript` on a
torch.jit.script of nn.Sequential(Linear, BatchNorm1d, ReLU, ..., Linear) under the name `net`
(the parameter names of `--arch mlp`) gives what `--arch mlp --bn torch` gives on the same
batches: every /probes column (loss, gradient norm, loss along the gradient, gradient
predictiveness, beta, top eigenvalues, Hutchinson trace), the SLQ density (/density) and the
training run step for step (/train/steps), in float64 probes to 1e-10 relative and float32
probes to 1e-5. The scripted module's weights are PyTorch's initialisation after
torch.manual_seed(seed), which is the native model's (`--seed`; checked here by the step-0
numbers and by the checkpoints).

Narrower than the study (784-64-32-16-10 instead of 784-512-256-128-10) so that four probe runs
take seconds; the architecture is the study's otherwise.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/torchscript
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tscommon import BINARY, FASHION, bnl_ok, datasets, last_checkpoint  # noqa: E402

HIDDEN, SEED = (64, 32, 16), 0
RUN = ["--dataset", "fashion-mnist", "--train-subset", 512, "--test-subset", 200, "--batch-size", 32,
       "--epochs", 1, "--seed", SEED, "--step-interval", 8, "--probe-batch", "fixed", "--probe-size", 128,
       "--top-k", 3, "--trace-samples", 8, "--density-runs", 2, "--density-steps", 16, "--threads", 1,
       "--quiet", "--checkpoint-every", 8]
# Columns that are clocks, not numbers of the model.
CLOCKS = ("seconds", "allreduce_seconds", "wall_time")


class StudyMLP(nn.Module):
    """The study's MLP with torch's BatchNorm1d, parameters named as --arch mlp's (net.0.weight, ...)."""

    def __init__(self, hidden=HIDDEN, inputs: int = 784, classes: int = 10):
        super().__init__()
        layers = []
        for h in hidden:
            layers += [nn.Linear(inputs, h), nn.BatchNorm1d(h), nn.ReLU()]
            inputs = h
        self.net = nn.Sequential(*layers, nn.Linear(inputs, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.flatten(x, 1))


def compare(case: unittest.TestCase, ref: dict, got: dict, rtol: float, what: str) -> None:
    """Every dataset of `ref` (but clocks) equals `got`'s: integers exactly, floats to rtol
    relative to the column's largest magnitude (NaN where ref has NaN)."""
    case.assertEqual(sorted(ref), sorted(got), what)
    for k, v in ref.items():
        if k.split("/")[-1] in CLOCKS:
            continue
        w = got[k]
        if np.issubdtype(np.asarray(v).dtype, np.floating):
            scale = np.nanmax(np.abs(v)) if np.size(v) and not np.all(np.isnan(v)) else 1.0
            np.testing.assert_allclose(w, v, rtol=0, atol=rtol * max(scale, 1e-300), equal_nan=True,
                                       err_msg=f"{what}: {k}")
        else:
            np.testing.assert_array_equal(w, v, err_msg=f"{what}: {k}")


class MlpCrossCheck(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest(f"bnlandscape binary not found at {BINARY}")
        if not (FASHION / "train-images-idx3-ubyte.gz").exists():
            raise unittest.SkipTest("Fashion-MNIST not installed")
        cls.tmp = tempfile.mkdtemp(prefix="bnl_ts_mlp_")
        t = lambda name: os.path.join(cls.tmp, name)  # noqa: E731
        torch.manual_seed(SEED)  # PyTorch's initialisation, as --arch mlp --seed draws it
        torch.jit.script(StudyMLP()).save(t("mlp.pt"))
        try:
            for dtype in ("float64", "float32"):
                bnl_ok("probe", *RUN, "--arch", "mlp", "--bn", "torch", "--hidden-dims", ",".join(map(str, HIDDEN)),
                       "--probe-dtype", dtype, "--out", t(f"native_{dtype}.h5"))
                bnl_ok("probe", *RUN, "--arch", "torchscript", "--model", t("mlp.pt"), "--probe-dtype", dtype,
                       "--out", t(f"scripted_{dtype}.h5"))
        except AssertionError:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pair(self, dtype: str, group: str):
        return (datasets(os.path.join(self.tmp, f"native_{dtype}.h5"), group),
                datasets(os.path.join(self.tmp, f"scripted_{dtype}.h5"), group))

    def test_probes_and_density_equal_native_float64(self):
        for group in ("probes", "density"):
            ref, got = self.pair("float64", group)
            self.assertIn("eigvals" if group == "probes" else "nodes", ref)
            compare(self, ref, got, 1e-10, f"float64 /{group}")
        ref, _ = self.pair("float64", "probes")
        self.assertEqual(list(ref["step"]), [0, 8, 16])

    def test_probes_and_density_equal_native_float32(self):
        for group in ("probes", "density"):
            ref, got = self.pair("float32", group)
            compare(self, ref, got, 1e-5, f"float32 /{group}")

    def test_training_equals_native_step_for_step(self):
        for dtype in ("float64", "float32"):
            ref, got = self.pair(dtype, "train/steps")
            self.assertEqual(len(ref["loss"]), 16)
            for k in ("step", "epoch", "loss", "acc", "grad_norm", "lr"):
                np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=0, err_msg=k)
            native = last_checkpoint(os.path.join(self.tmp, f"native_{dtype}.h5"))
            scripted = last_checkpoint(os.path.join(self.tmp, f"scripted_{dtype}.h5"))
            self.assertEqual(sorted(native), sorted(scripted))
            for k, v in native.items():
                np.testing.assert_allclose(scripted[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)

    def test_engines_recorded(self):
        for kind in ("native", "scripted"):
            with h5py.File(os.path.join(self.tmp, f"{kind}_float64.h5"), "r") as f:
                self.assertEqual(f["probes"].attrs["hvp_engine"], "autograd", kind)


if __name__ == "__main__":
    unittest.main()
