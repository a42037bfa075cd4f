"""The HTML report (plots/report/) of real runs of the binary: BN and no BN probed with the SLQ
density, per-layer eigenvalues, activations and ICS, a 2-D and a 1-D surface, a diverged run.

The binary is $BNL_BINARY, else build/bnlandscape; the tests are skipped with a message when it
is missing or cannot read Fashion-MNIST.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

from test_report import REPO, close, csv_of, figures_of, section_ids, trace_named

import h5py  # noqa: E402

from plots.report import cli, header  # noqa: E402

BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
SMALL = ["--train-subset", "1000", "--test-subset", "300", "--epochs", "2", "--hidden-dims",
         "32,16", "--threads", "1", "--quiet", "--overwrite"]
DIR = None


def _run(*args, ok=(0,)):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True)
    if p.returncode not in ok:
        raise unittest.SkipTest(f"bnlandscape {args[0]} exited {p.returncode} (no Fashion-MNIST?): "
                                f"{p.stderr.strip()[:200]}")


def setUpModule():
    global DIR
    if not os.access(BINARY, os.X_OK):
        raise unittest.SkipTest(f"bnlandscape binary {BINARY} not found (set BNL_BINARY)")
    DIR = Path(tempfile.mkdtemp(prefix="bnl_report_runs_"))
    for bn in ("none", "custom"):
        _run("probe", *SMALL, "--bn", bn, "--step-interval", "4", "--density-runs", "2",
             "--density-steps", "12", "--layer-top-k", "1", "--activations-every", "4",
             "--ics-every", "4", "--checkpoint-every", "4", "--out", str(DIR / f"p_{bn}.h5"))
    ck = ["--checkpoint", str(DIR / "p_custom.h5"), "--checkpoint-group", "/checkpoints/step_0000016",
          "--hidden-dims", "32,16", "--bn", "custom", "--surface-size", "200", "--threads", "1",
          "--quiet", "--overwrite"]
    _run("surface", *ck, "--resolution", "7", "--out", str(DIR / "s2.h5"))
    _run("surface", *ck, "--dims", "1", "--resolution", "9", "--out", str(DIR / "s1.h5"))
    _run("train", *SMALL, "--bn", "none", "--lr", "1e5", "--out", str(DIR / "div.h5"), ok=(0, 3))


def tearDownModule():
    if DIR is not None:
        shutil.rmtree(DIR, ignore_errors=True)


class RealRuns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["BNL_BINARY"] = BINARY
        t0 = time.monotonic()
        cls.built = cli.build([str(DIR)])
        cls.seconds = time.monotonic() - t0
        cls.html = cls.built.html
        cls.figs = figures_of(cls.html)

    def test_every_section(self):
        self.assertEqual(section_ids(self.html), ["training", "landscape", "curvature", "density",
                                                  "surfaces", "activations", "ics"])
        self.assertIn("class='compare'", self.html)
        with h5py.File(DIR / "div.h5") as f:
            if f.attrs["status"] == "diverged":
                self.assertIn(f"diverged at step {f.attrs['diverged_at_step']}", self.html)
        self.assertLess(self.seconds, 30)

    def test_per_layer_curvature_and_density(self):
        with h5py.File(DIR / "p_custom.h5") as f:
            lev = f["probes/layer_eigvals"][:]
            blocks = list(f["probes/layer_eigvals"].attrs["blocks"])
            nodes, weights = f["density/nodes"][:], f["density/weights"][:]
            ev = f["probes/eigvals"][:, 0]
        rows = [r for r in csv_of(self.html, "curvature-layers") if r["run"] == "p_custom.h5"]
        got = np.array([float(r["layer_lambda_max"]) for r in rows]).reshape(len(blocks), -1).T
        np.testing.assert_array_equal(got, lev[:, :, 0])
        t = trace_named(self.figs["curvature-layers"], f"BN, lr=0.1 \u00b7 {blocks[0]}")
        close(t["y"], lev[:, 0, 0])
        rows = [r for r in csv_of(self.html, "density-slq") if r["run"] == "p_custom.h5"]
        np.testing.assert_array_equal(np.array([float(r["node"]) for r in rows]), nodes.ravel())
        np.testing.assert_array_equal(np.array([float(r["weight"]) for r in rows]), weights.ravel())
        close(trace_named(self.figs["curvature-lambda-max"], "BN, lr=0.1, seed 0")["y"], ev)
        slider = self.figs["density-slq"]["layout"]["sliders"][0]
        self.assertEqual(len(slider["steps"]), len(nodes))

    def test_surfaces(self):
        with h5py.File(DIR / "s2.h5") as f:
            loss, alpha, beta = f["surface/loss"][:], f["surface/alpha"][:], f["surface/beta"][:]
        s = self.figs["surface-3d-0"]["data"][0]
        self.assertEqual(s["type"], "surface")
        close(np.array(s["z"], float).ravel(), loss.ravel())
        close(s["y"], alpha)
        close(s["x"], beta)
        traj = trace_named(self.figs["surface-contour-0"], "trajectory")
        self.assertEqual(traj["text"][-1], "step 16")
        self.assertAlmostEqual(traj["x"][-1], 0.0)  # the centre checkpoint projects to 0
        rows = csv_of(self.html, "surface-contour-0")
        self.assertEqual([float(r["loss"]) for r in rows], loss.ravel().tolist())
        with h5py.File(DIR / "s1.h5") as f:
            close(trace_named(self.figs["surface-1d"], "s1.h5")["y"], f["surface/loss"][:])

    def test_activations_and_ics(self):
        with h5py.File(DIR / "p_none.h5") as f:
            std = f["activations/net.0/pre_norm/std"][:] if "activations/net.0/pre_norm" in f else None
            l2 = f["ics/l2"][:]
            layers = list(f["ics"].attrs["layers"])
        close(trace_named(self.figs["ics-l2"], f"no BN, lr=0.1 \u00b7 {layers[1]}")["y"], l2[:, 1])
        rows = [r for r in csv_of(self.html, "ics-l2") if r["run"] == "p_none.h5"]
        np.testing.assert_array_equal(np.array([float(r["l2"]) for r in rows]), l2.T.ravel())
        if std is not None:
            close(trace_named(self.figs["activations-std"], "no BN, lr=0.1 \u00b7 net.0 pre_norm")["y"], std)
        self.assertIn("activations-hist", self.figs)

    def test_compare_table_comes_from_the_binary(self):
        doc, msg = header.run_compare([str(DIR / "p_none.h5"), str(DIR / "p_custom.h5")], binary=BINARY)
        self.assertEqual(msg, "")
        acc = doc["groups"][1]["metrics"]["final_test_acc"]["mean"]
        with h5py.File(DIR / "p_custom.h5") as f:
            self.assertAlmostEqual(acc, f["train/epochs/test_acc"][-1], places=4)


if __name__ == "__main__":
    unittest.main()
