"""A scripted ResNet-8 with BN (issue 26, section 3), built here from examples/resnet/model.py,
through `--arch torchscript --model FILE.pt` against Python PyTorch on the same weights and data:

- probe (float64, fixed probe batch, BN with batch statistics as the probe's default): the top-3
  Hessian eigenvalues equal those of the dense Hessian built column by column by double autograd
  (numpy eigvalsh), relative 1e-4; the Hutchinson trace equals the mean of z^T H z over the very
  Rademacher vectors the binary draws (its mt19937_64 stream, reproduced in tscommon), relative
  1e-8, and the exact trace tr(H) lies within 4 of its standard errors; loss and gradient norm
  equal Python's to 1e-10;
- train 20 steps: the losses equal a Python SGD loop over DataLoader(shuffle=True) after
  torch.manual_seed(seed) (the order bnlandscape draws, src/data/batches.cpp) within 1e-5, and
  the final weights and BN statistics equal the loop's;
- the last checkpoint loads into the Python module with load_state_dict(strict=True) and its
  evaluation-mode logits give the test loss and accuracy the run recorded.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/torchscript
The binary is $BNL_BINARY, else build/bnlandscape.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
import unittest

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tscommon import (BINARY, MT19937_64, bnl_ok, dense_hessian, flat_grad_fn, last_checkpoint,  # noqa: E402
                      trace_seed, write_tensor_dataset)
from model import ResNet  # noqa: E402  (examples/resnet/model.py)

SIDE, CLASSES, BATCH, STEPS, SEED = 8, 4, 16, 20, 3
N_TRAIN, N_TEST, PROBE = BATCH * STEPS, 64, 32
TRACE_SAMPLES = 64
LR = 0.1


def resnet8() -> torch.nn.Module:
    """ResNet-8 (one basic block per stage), widths 4-8-8, BN, option-A shortcuts: 2464 parameters."""
    torch.manual_seed(0)
    return ResNet(depth=8, widths=(4, 8, 8), in_channels=1, num_classes=CLASSES, bn=True, shortcut="A")


class ResNetCrossCheck(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest(f"bnlandscape binary not found at {BINARY}")
        cls.tmp = tempfile.mkdtemp(prefix="bnl_ts_resnet_")
        t = lambda name: os.path.join(cls.tmp, name)  # noqa: E731
        cls.data = write_tensor_dataset(t("data.h5"), N_TRAIN, N_TEST, SIDE, CLASSES, seed=1)
        cls.eager = resnet8()
        cls.init_state = copy.deepcopy(cls.eager.state_dict())
        torch.jit.script(cls.eager).save(t("resnet8.pt"))
        common = ["--arch", "torchscript", "--model", t("resnet8.pt"), "--dataset", "tensors", "--data-file",
                  t("data.h5"), "--batch-size", BATCH, "--epochs", 1, "--seed", SEED, "--lr", LR,
                  "--threads", 1, "--quiet", "--checkpoint-every", 0]
        try:
            bnl_ok("train", *common, "--out", t("train.h5"))
            bnl_ok("probe", *common, "--step-interval", 1000, "--probe-batch", "fixed",
                   "--probe-size", PROBE, "--probe-dtype", "float64", "--top-k", 3, "--tol", 1e-10,
                   "--trace-samples", TRACE_SAMPLES, "--out", t("probe.h5"))
        except AssertionError:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def test_probe_eigenvalues_and_trace_equal_autograd_and_numpy(self):
        xtr, ytr = self.data[0], self.data[1]
        model = resnet8()
        model.load_state_dict(self.init_state)
        model = model.double().train()  # the probe's default: BN with the batch's statistics
        x, y = xtr[:PROBE].double(), ytr[:PROBE]
        _, g, loss = flat_grad_fn(copy.deepcopy(model), x, y)
        h = dense_hessian(copy.deepcopy(model), x, y)
        eig = np.linalg.eigvalsh(h)[::-1]
        rng = MT19937_64(trace_seed(SEED, 0))
        zs = [rng.rademacher(h.shape[0]) for _ in range(TRACE_SAMPLES)]
        qs = np.array([z @ h @ z for z in zs])
        exact = float(np.trace(h))

        with h5py.File(self.path("probe.h5"), "r") as f:
            p = f["probes"]
            self.assertEqual(int(p["step"][0]), 0)
            self.assertEqual(int(p.attrs["num_params"]), h.shape[0])
            self.assertEqual(p.attrs["probe_dtype"], "float64")
            self.assertEqual(p.attrs["hvp_engine"], "autograd")
            got_eig, got_loss, got_gn = p["eigvals"][0], float(p["loss"][0]), float(p["grad_norm"][0])
            got_tr, got_se = float(p["trace"][0]), float(p["trace_stderr"][0])
            self.assertEqual(int(p["converged"][0]), 1)

        print(f"\nResNet-8, P = {h.shape[0]}: top-3 binary {got_eig}, numpy {eig[:3]}; trace binary "
              f"{got_tr:.6f} +- {got_se:.3f}, same vectors in Python {qs.mean():.6f}, exact tr(H) {exact:.6f}")
        self.assertAlmostEqual(got_loss, loss.item(), delta=1e-10 * abs(loss.item()))
        self.assertAlmostEqual(got_gn, g.norm().item(), delta=1e-10 * g.norm().item())
        np.testing.assert_allclose(got_eig, eig[:3], rtol=1e-4)
        self.assertAlmostEqual(got_tr, qs.mean(), delta=1e-8 * abs(qs).mean())
        self.assertAlmostEqual(got_se, qs.std(ddof=1) / np.sqrt(TRACE_SAMPLES), delta=1e-6 * got_se)
        self.assertLess(abs(got_tr - exact), 4 * got_se)

    def sgd_loop(self):
        """Python's SGD loop on the binary's batches: (losses, trained model)."""
        xtr, ytr = self.data[0], self.data[1]
        model = resnet8()
        model.load_state_dict(self.init_state)
        model.train()
        torch.manual_seed(SEED)  # what `--seed` does before the data order is drawn
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=BATCH, shuffle=True)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        losses = []
        for x, y in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return np.array(losses), model

    def test_twenty_sgd_steps_equal_pythons_loop(self):
        want, model = self.sgd_loop()
        with h5py.File(self.path("train.h5"), "r") as f:
            got = f["train/steps/loss"][()]
        self.assertEqual(len(got), STEPS)
        print(f"\n20 SGD steps: max |loss binary - Python| = {np.abs(got - want).max():.2e} "
              f"(losses {want[0]:.4f} .. {want[-1]:.4f})")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        self.assertLess(want[-1], want[0])  # it learned something: the comparison is not of constants
        ckpt = last_checkpoint(self.path("train.h5"))
        for k, v in model.state_dict().items():
            self.assertIn(k, ckpt)
            if v.is_floating_point():
                np.testing.assert_allclose(ckpt[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
            else:
                np.testing.assert_array_equal(ckpt[k].numpy(), v.numpy(), err_msg=k)

    def test_checkpoint_loads_strict_and_gives_the_recorded_test_loss(self):
        ckpt = last_checkpoint(self.path("train.h5"))
        model = resnet8()
        model.load_state_dict(ckpt, strict=True)
        self.assertEqual(int(model.bn1.num_batches_tracked), STEPS)
        model.eval()
        xte, yte = self.data[2], self.data[3]
        with torch.no_grad():
            logits = model(xte)
        loss = torch.nn.functional.cross_entropy(logits.double(), yte).item()
        acc = (logits.argmax(1) == yte).double().mean().item()
        with h5py.File(self.path("train.h5"), "r") as f:
            e = f["train/epochs"]
            self.assertEqual(int(e["step"][-1]), STEPS)
            want_loss, want_acc = float(e["test_loss"][-1]), float(e["test_acc"][-1])
        self.assertAlmostEqual(loss, want_loss, delta=1e-5 * max(1.0, want_loss))
        self.assertAlmostEqual(acc, want_acc, delta=1.0 / N_TEST + 1e-12)  # a tie's argmax may flip
        # The loaded module is the trained one, not the initial file's: its logits moved.
        init = resnet8()
        init.load_state_dict(self.init_state)
        init.eval()
        with torch.no_grad():
            self.assertGreater((init(xte) - logits).abs().max().item(), 1e-3)


if __name__ == "__main__":
    unittest.main()
