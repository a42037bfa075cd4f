"""plots/curvature.py on real probe files of the binary (issue 24): BN and no BN probed with
--curvature hessian,ggn --sharpness-scaling layer,adaptive --top-k 3; both figures render, with
one Hessian and one Gauss-Newton line per group, and a file without the new datasets is skipped
with a notice.

The binary is $BNL_BINARY, else build/bnlandscape; skipped when it is missing or cannot read
Fashion-MNIST.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from plots import curvature, registry  # noqa: E402
from plots.runs import load_runs  # noqa: E402

BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
SMALL = ["--dataset", "fashion-mnist", "--train-subset", "640", "--test-subset", "200", "--epochs", "1",
         "--hidden-dims", "32,16", "--threads", "1", "--quiet", "--step-interval", "2"]
DIR = None


def setUpModule():
    global DIR
    if not os.access(BINARY, os.X_OK):
        raise unittest.SkipTest(f"bnlandscape binary {BINARY} not found (set BNL_BINARY)")
    DIR = Path(tempfile.mkdtemp(prefix="bnl_curvature_"))
    for bn in ("none", "custom"):
        p = subprocess.run([BINARY, "probe", *SMALL, "--bn", bn, "--top-k", "3", "--curvature", "hessian,ggn",
                            "--sharpness-scaling", "layer,adaptive", "--out", str(DIR / f"c_{bn}.h5")],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise unittest.SkipTest(f"probe exited {p.returncode} (no Fashion-MNIST?): {p.stderr[:200]}")
    p = subprocess.run([BINARY, "probe", *SMALL, "--bn", "none", "--top-k", "0", "--out", str(DIR / "plain.h5")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise unittest.SkipTest(f"probe exited {p.returncode}: {p.stderr[:200]}")


def tearDownModule():
    if DIR is not None:
        shutil.rmtree(DIR, ignore_errors=True)


class CurvatureFigures(unittest.TestCase):
    def test_both_figures_render_with_hessian_and_ggn_lines(self):
        notes = []
        runs = load_runs([str(DIR / "c_none.h5"), str(DIR / "c_custom.h5")], notes.append)
        plan = curvature.plan(runs, notes.append)
        names = [n for n, _ in plan]
        self.assertEqual(sorted(n.rsplit("_", 2)[0] for n in names),
                         ["curvature_grad_share", "curvature_sharpness"], names)
        for name, make in plan:
            fig = make()
            labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
            self.assertTrue(any(lb.endswith(": GGN") for lb in labels), (name, labels))
            self.assertTrue(any(lb.endswith(": H") for lb in labels), (name, labels))
            if name.startswith("curvature_sharpness"):
                self.assertEqual(len(fig.axes), 3)  # raw, layer, adaptive

    def test_registered_and_skipped_without_the_datasets(self):
        self.assertIn("curvature", registry.FAMILIES)
        notes = []
        runs = load_runs([str(DIR / "plain.h5")], notes.append)
        out = str(DIR / "figs")
        written, failed = registry.render(curvature.plan(runs, notes.append), out, notes.append)
        self.assertEqual((written, failed), ([], 0))
        self.assertTrue(any("skip curvature_" in n for n in notes), notes)


if __name__ == "__main__":
    unittest.main()
