"""A scripted copy of the study's MLP (issue 26, section 3): `--arch torchscript` on a
torch.jit.script of nn.Sequential(Linear, BatchNorm1d, ReLU, ..., Linear) under the name `net`
(the parameter names of `--arch mlp`) gives what `--arch mlp --bn torch` gives:

- probes of the same weights on the same fixed batch: the native run's last checkpoint probed
  offline by the native model and by the scripted one (`probe --checkpoint native.h5 --arch
  torchscript --model mlp.pt`), and loaded with load_state_dict(strict=True) into the scripted
  module in Python, saved, and probed online at step 0 (BN with batch statistics): every /probes column (loss, gradient norm,
  loss along the gradient, gradient predictiveness, beta, g^T H g, top-3 eigenvalues, Hutchinson
  trace) and the SLQ density (/density), float64 probes to 1e-10 and float32 probes to 1e-5
  relative, BN with batch statistics (the default) and with running statistics (eval);
- the training run step for step from the same initial weights (PyTorch's initialisation after
  torch.manual_seed(seed), which is what `--arch mlp --seed` draws): /train/steps and the last
  checkpoint to 1e-5. Full-batch steps: a native model's construction draws from the global
  generator before the data order is drawn and a loaded module's does not, so the two runs'
  mini-batch orders differ by design (src/train/trainer.cpp); with one batch per epoch they see
  the same examples and differ only in summation order.

`effective_lr` (per scale-invariant block) is left out: only native models declare their
scale-invariant blocks.

Narrower than the study (784-64-32-16-10 instead of 784-512-256-128-10) so that the runs take
seconds; the architecture is the study's otherwise.

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

HIDDEN, SEED, TRAIN_N, EPOCHS = (64, 32, 16), 0, 256, 12
TRAIN = ["--dataset", "fashion-mnist", "--train-subset", TRAIN_N, "--test-subset", 200, "--batch-size", TRAIN_N,
         "--epochs", EPOCHS, "--seed", SEED, "--threads", 1, "--quiet", "--checkpoint-every", 0]
PROBE = ["--probe-batch", "fixed", "--probe-size", 128, "--top-k", 3, "--trace-samples", 8, "--density-runs", 2,
         "--density-steps", 16, "--threads", 1, "--quiet"]
# Probe settings compared: (probe dtype, BN mode, relative tolerance).
CASES = [("float64", "train", 1e-10), ("float32", "train", 1e-5), ("float64", "eval", 1e-10)]
# Columns that are clocks, not numbers of the model.
CLOCKS = ("seconds", "allreduce_seconds", "wall_time")
NOT_COMPARED = CLOCKS + ("effective_lr",)


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
    case.assertEqual(sorted(set(ref) - set(NOT_COMPARED)), sorted(set(got) - set(NOT_COMPARED)), what)
    for k, v in ref.items():
        if k.split("/")[-1] in NOT_COMPARED:
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
        torch.jit.script(StudyMLP()).save(t("mlp_init.pt"))
        try:
            dims = ",".join(map(str, HIDDEN))
            bnl_ok("train", *TRAIN, "--arch", "mlp", "--bn", "torch", "--hidden-dims", dims, "--out", t("native.h5"))
            bnl_ok("train", *TRAIN, "--arch", "torchscript", "--model", t("mlp_init.pt"), "--out", t("scripted.h5"))
            trained = StudyMLP()
            trained.load_state_dict(last_checkpoint(t("native.h5")), strict=True)
            torch.jit.script(trained).save(t("mlp_trained.pt"))
            for dtype, mode, _ in CASES:
                opts = [*PROBE, "--probe-dtype", dtype, "--probe-bn-mode", mode]
                bnl_ok("probe", "--checkpoint", t("native.h5"), *opts, "--out", t(f"native_{dtype}_{mode}.h5"))
                # The same checkpoint through the scripted module (tensors loaded by their names).
                bnl_ok("probe", "--checkpoint", t("native.h5"), "--arch", "torchscript", "--model", t("mlp_init.pt"),
                       *opts, "--out", t(f"scripted_{dtype}_{mode}.h5"))
            # Online: row 0 is step 0 (the weights in the file; the last step is probed too), BN with batch
            # statistics: the step's forward has already moved the running statistics then.
            bnl_ok("probe", "--arch", "torchscript", "--model", t("mlp_trained.pt"), "--dataset", "fashion-mnist",
                   "--train-subset", TRAIN_N, "--batch-size", 128, "--epochs", 1, "--step-interval", 1000,
                   "--seed", SEED, "--checkpoint-every", 0, *PROBE, "--probe-dtype", "float64",
                   "--out", t("online_float64_train.h5"))
        except AssertionError:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def probe_rows(self, dtype: str, mode: str, group: str, scripted: str = "scripted"):
        """(native offline probe, scripted probe `scripted`_...) of `group`: the first row of
        each (the scripted online probe's step 0), `step` left out."""
        ref = datasets(self.path(f"native_{dtype}_{mode}.h5"), group)
        got = datasets(self.path(f"{scripted}_{dtype}_{mode}.h5"), group)
        self.assertEqual(len(ref["step"]), 1)
        self.assertEqual(int(ref["step"][0]), EPOCHS)  # one full-batch step per epoch
        self.assertEqual(int(got["step"][0]), 0 if scripted == "online" else EPOCHS)
        fixed = ("step_sizes",)  # stored once, not per probe
        ref = {k: v for k, v in ref.items() if k != "step"}
        got = {k: (v if k in fixed or k in NOT_COMPARED else v[:1]) for k, v in got.items() if k != "step"}
        return ref, got

    def test_probes_and_density_equal_native(self):
        for dtype, mode, rtol in CASES:
            with self.subTest(dtype=dtype, bn_mode=mode):
                for group in ("probes", "density"):
                    ref, got = self.probe_rows(dtype, mode, group)
                    self.assertIn("eigvals" if group == "probes" else "nodes", ref)
                    compare(self, ref, got, rtol, f"{dtype} {mode} /{group}")
                with h5py.File(self.path(f"scripted_{dtype}_{mode}.h5"), "r") as f:
                    self.assertEqual(f["probes"].attrs["probe_dtype"], dtype)
                    self.assertEqual(f["probes"].attrs["probe_bn_mode"], mode)
                    self.assertEqual(f["probes"].attrs["hvp_engine"], "autograd")
        for group in ("probes", "density"):
            compare(self, *self.probe_rows("float64", "train", group, scripted="online"), 1e-10, f"online /{group}")
        # BN's mode reaches the scripted module: running statistics give other numbers.
        train, _ = self.probe_rows("float64", "train", "probes")
        evals, _ = self.probe_rows("float64", "eval", "probes")
        self.assertGreater(abs(train["loss"][0] - evals["loss"][0]), 1e-6)

    def test_training_equals_native_step_for_step(self):
        ref = datasets(self.path("native.h5"), "train/steps")
        got = datasets(self.path("scripted.h5"), "train/steps")
        self.assertEqual(len(ref["loss"]), EPOCHS)
        print(f"\nfull-batch training, {EPOCHS} steps: max relative loss difference "
              f"{np.max(np.abs(got['loss'] / ref['loss'] - 1)):.1e} (losses {ref['loss'][0]:.4f} .. {ref['loss'][-1]:.4f})")
        self.assertLess(ref["loss"][-1], 0.8 * ref["loss"][0])  # it trained: not a comparison of constants
        for k in ("step", "epoch", "loss", "acc", "grad_norm", "lr"):
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=0, err_msg=k)
        native, scripted = last_checkpoint(self.path("native.h5")), last_checkpoint(self.path("scripted.h5"))
        self.assertEqual(sorted(native), sorted(scripted))
        for k, v in native.items():
            np.testing.assert_allclose(scripted[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
        # Evaluation mode (running statistics) on the test subset after every epoch.
        want = datasets(self.path("native.h5"), "train/epochs")
        got = datasets(self.path("scripted.h5"), "train/epochs")
        np.testing.assert_allclose(got["test_loss"], want["test_loss"], rtol=1e-5, err_msg="test_loss")


if __name__ == "__main__":
    unittest.main()
