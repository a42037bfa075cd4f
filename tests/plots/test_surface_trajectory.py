"""The trajectory of a `surface --directions pca` file drawn over its contours (plots/surface.py).

    /usr/bin/python3 -m unittest tests.plots.test_surface_trajectory   (from the repository root)

A pca surface file is written by hand as the binary writes it (docs/hdf5_schema.md, /surface):
L = 0.2 + a^2 + 3 b^2 on the grid, a path of 7 checkpoints, explained variances 0.832 and
0.121. The figure must draw the path with its markers where the file puts it, label a few
points with their step, and name the axes after the principal components.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import h5py  # noqa: E402

from plots import make_all, runs, style, surface  # noqa: E402

STEPS = np.array([4, 8, 12, 16, 20, 24, 28])
PATH_A = np.array([-1.2, -0.9, -0.6, -0.35, -0.15, -0.05, 0.0])
PATH_B = np.array([0.3, 0.45, 0.4, 0.25, 0.1, 0.02, 0.0])


def write_pca_surface(path: str, trajectory: bool = True) -> str:
    a = np.linspace(-1.5, 0.3, 9)
    b = np.linspace(-0.1, 0.6, 7)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "bnlandscape"
        f.attrs["config_toml"] = 'dataset = "fashion-mnist"\narch = "mlp"\nbn = "custom"\ndirections = "pca"\n'
        f.attrs["status"] = "complete"
        g = f.create_group("surface")
        g["alpha"], g["beta"] = a, b
        loss = 0.2 + a[:, None] ** 2 + 3 * b[None, :] ** 2
        g["loss"], g["acc"] = loss, 1.0 - loss / loss.max()
        g["direction_norms"] = np.ones(2)
        g.attrs.update({"directions": "pca", "probe_bn_mode": "train", "surface_set": "train",
                        "surface_size": np.int64(100), "dims": np.int64(2), "directions_from": ""})
        if trajectory:
            g["explained_variance"] = np.array([0.832, 0.121])
            g["trajectory/step"] = STEPS.astype(np.int64)
            g["trajectory/alpha"], g["trajectory/beta"] = PATH_A, PATH_B
            g["trajectory/loss"] = 0.2 + PATH_A ** 2 + 3 * PATH_B ** 2
            g["trajectory/acc"] = np.full(len(STEPS), 0.5)
    return path


class TrajectoryFigure(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_the_path_is_drawn_over_the_contours_with_its_steps_and_the_components(self):
        fig = surface.surface_figure(runs.Run(write_pca_surface(os.path.join(self.tmp, "pca.h5"))))
        loss_ax, acc_ax = fig.axes[0], fig.axes[2]  # panels a, b, c (the colour bars come after)
        for ax in (loss_ax, acc_ax):
            paths = [l for l in ax.lines if l.get_gid() == "trajectory"]
            self.assertEqual(len(paths), 1, ax.get_title())
            np.testing.assert_array_equal(paths[0].get_xdata(), PATH_A)
            np.testing.assert_array_equal(paths[0].get_ydata(), PATH_B)
            self.assertEqual(paths[0].get_marker(), "o")
            self.assertEqual(ax.get_xlabel(), "\u03b1: PC1 (83.2%)")
            self.assertEqual(ax.get_ylabel(), "\u03b2: PC2 (12.1%)")
        # A few points, the first and the last among them, carry their step.
        labels = {t.get_text(): t.xy for t in loss_ax.texts}
        self.assertEqual(sorted(labels, key=int), ["4", "12", "16", "20", "28"])
        self.assertEqual(tuple(labels["28"]), (0.0, 0.0))
        self.assertEqual(tuple(labels["4"]), (PATH_A[0], PATH_B[0]))
        style.close(fig)

    def test_a_surface_without_a_trajectory_keeps_its_plain_axes(self):
        fig = surface.surface_figure(runs.Run(write_pca_surface(os.path.join(self.tmp, "plain.h5"), False)))
        self.assertFalse([l for l in fig.axes[0].lines if l.get_gid() == "trajectory"])
        self.assertEqual(fig.axes[0].get_xlabel(), "\u03b1 (direction x)")
        style.close(fig)

    def test_make_all_renders_it(self):
        out = os.path.join(self.tmp, "out")
        notes = []
        res = make_all.make_all([write_pca_surface(os.path.join(self.tmp, "pca.h5"))], out,
                                families=("surface",), formats=("png",), strict=True, notice=notes.append)
        self.assertEqual(res.failed, 0, notes)
        self.assertEqual(os.listdir(out), ["surface_pca.png"])
        self.assertGreater(os.path.getsize(os.path.join(out, "surface_pca.png")), 1000)

    def test_the_legend_goes_to_the_corner_farthest_from_the_path(self):
        a, b = np.linspace(0, 1, 5), np.linspace(0, 2, 7)  # the origin is the lower left corner
        self.assertEqual(surface.legend_corner(a, b, None), "upper right")
        near_origin = {"alpha": np.array([0.2, 0.1]), "beta": np.array([0.4, 0.2])}
        self.assertEqual(surface.legend_corner(a, b, near_origin), "upper right")
        # (0.2, 0.5) and (0.8, 0.9) in the panel's fractions: lower right is 0.92 from the path.
        up = {"alpha": np.array([0.8, 0.2]), "beta": np.array([1.8, 1.0])}
        self.assertEqual(surface.legend_corner(a, b, up), "lower right")

    def test_label_points(self):
        self.assertEqual(surface.label_points(3), [0, 1, 2])
        self.assertEqual(surface.label_points(30), [0, 7, 14, 22, 29])


if __name__ == "__main__":
    unittest.main()
