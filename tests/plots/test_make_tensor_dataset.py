"""Tests of data/make_tensor_dataset.py, the converter to the tensor dataset layout
(docs/usage.md, "Your own data"): .npz and image folders in, the documented HDF5 layout out,
with the arrays unchanged, and bad inputs refused with exit 2 and a message.

    /usr/bin/python3 -m unittest tests/plots/test_make_tensor_dataset.py
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "data" / "make_tensor_dataset.py"
_spec = importlib.util.spec_from_file_location("make_tensor_dataset", SCRIPT)
mtd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mtd)


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


class NpzTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_uint8_images_keep_their_values_and_get_a_channel_axis(self):
        rng = np.random.default_rng(1)
        xtr = rng.integers(0, 256, (12, 5, 5), dtype=np.uint8)
        xte = rng.integers(0, 256, (4, 5, 5), dtype=np.uint8)
        ytr, yte = rng.integers(0, 3, 12).astype(np.uint8), rng.integers(0, 3, 4).astype(np.int32)
        np.savez(self.d / "a.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
        r = run("--npz", str(self.d / "a.npz"), "--out", str(self.d / "a.h5"), "--mean", "0.5", "--std", "0.25")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(self.d / "a.h5", "r") as f:
            self.assertEqual(f["train/x"].dtype, np.uint8)
            np.testing.assert_array_equal(f["train/x"][:], xtr[:, None])
            np.testing.assert_array_equal(f["test/x"][:], xte[:, None])
            self.assertEqual(f["train/y"].dtype, np.int64)
            np.testing.assert_array_equal(f["train/y"][:], ytr)
            np.testing.assert_array_equal(f["test/y"][:], yte)
            np.testing.assert_array_equal(f.attrs["mean"], [0.5])
            np.testing.assert_array_equal(f.attrs["std"], [0.25])
            self.assertEqual(f["train/x"].compression, "gzip")
            self.assertNotIn("num_classes", f.attrs)

    def test_float_rows_become_float32_and_stats_come_from_the_training_set(self):
        rng = np.random.default_rng(2)
        xtr = rng.normal(3.0, 2.0, (50, 4))  # float64
        xte = rng.normal(size=(10, 4))
        np.savez(self.d / "b.npz", x_train=xtr, y_train=np.arange(50) % 5, x_test=xte, y_test=np.arange(10) % 5)
        r = run("--npz", str(self.d / "b.npz"), "--out", str(self.d / "b.h5"), "--stats-from-train",
                "--num-classes", "7", "--no-compress")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(self.d / "b.h5", "r") as f:
            self.assertEqual(f["train/x"].dtype, np.float32)
            np.testing.assert_array_equal(f["train/x"][:], xtr.astype(np.float32))
            x32 = xtr.astype(np.float32).astype(np.float64)
            np.testing.assert_allclose(f.attrs["mean"], x32.mean(axis=0), rtol=1e-12)
            np.testing.assert_allclose(f.attrs["std"], x32.std(axis=0), rtol=1e-12)
            self.assertEqual(int(f.attrs["num_classes"]), 7)
            self.assertIsNone(f["train/x"].compression)

    def test_channels_last_and_uint8_stats_are_per_channel_after_dividing_by_255(self):
        x = np.zeros((2, 3, 3, 2), np.uint8)
        x[..., 0], x[..., 1] = 255, 51
        np.savez(self.d / "c.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[1, 0])
        r = run("--npz", str(self.d / "c.npz"), "--out", str(self.d / "c.h5"), "--channels-last", "--stats-from-train")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(self.d / "c.h5", "r") as f:
            self.assertEqual(f["train/x"].shape, (2, 2, 3, 3))
            np.testing.assert_allclose(f.attrs["mean"], [1.0, 0.2])
            np.testing.assert_array_equal(f.attrs["std"], [1.0, 1.0])  # constant channels: 1, not 0

    def test_bad_inputs_exit_2_with_a_message(self):
        np.savez(self.d / "missing.npz", x_train=np.zeros((2, 3)), y_train=[0, 1])
        np.savez(self.d / "float_y.npz", x_train=np.zeros((2, 3)), y_train=[0.5, 1], x_test=np.zeros((1, 3)), y_test=[0])
        np.savez(self.d / "n.npz", x_train=np.zeros((2, 3)), y_train=[0, 1, 1], x_test=np.zeros((1, 3)), y_test=[0])
        np.savez(self.d / "nan.npz", x_train=np.full((2, 3), np.nan), y_train=[0, 1], x_test=np.zeros((1, 3)), y_test=[0])
        np.savez(self.d / "int.npz", x_train=np.zeros((2, 3), np.int32), y_train=[0, 1], x_test=np.zeros((1, 3), np.int32), y_test=[0])
        np.savez(self.d / "shape.npz", x_train=np.zeros((2, 3)), y_train=[0, 1], x_test=np.zeros((1, 4)), y_test=[0])
        cases = {
            "missing.npz": "missing x_test, y_test",
            "float_y.npz": "expected integer labels, got non-integral floats",
            "n.npz": "expected labels [2] (one per row of x), got shape [3]",
            "nan.npz": "expected finite values",
            "int.npz": "expected uint8 or floating-point values, got int32",
            "shape.npz": "expected test x of the training dtype and shape",
        }
        for name, message in cases.items():
            r = run("--npz", str(self.d / name), "--out", str(self.d / "out.h5"))
            self.assertEqual(r.returncode, 2, (name, r.stdout, r.stderr))
            self.assertIn(message, r.stderr, name)
        np.savez(self.d / "ok.npz", x_train=np.zeros((2, 3)), y_train=[0, 1], x_test=np.zeros((1, 3)), y_test=[0])
        r = run("--npz", str(self.d / "ok.npz"), "--out", str(self.d / "out.h5"), "--mean", "0,0", "--std", "1,1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--mean: expected 1 or 3 (channels) values, got 2", r.stderr)


class ImageFolderTest(unittest.TestCase):
    def setUp(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)
        rng = np.random.default_rng(3)
        self.images = {}
        for cls in ("cat", "ant", "bee"):  # labels by sorted name: ant 0, bee 1, cat 2
            os.makedirs(self.d / "imgs" / cls)
            for k in range(4):
                img = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
                plt.imsave(self.d / "imgs" / cls / f"{k}.png", img)
                self.images[(cls, k)] = img

    def tearDown(self):
        self.tmp.cleanup()

    def test_class_folders_are_split_by_seed_and_read_back_exactly(self):
        r = run("--images", str(self.d / "imgs"), "--out", str(self.d / "i.h5"), "--test-fraction", "0.25")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(self.d / "i.h5", "r") as f:
            xtr, ytr, xte, yte = f["train/x"][:], f["train/y"][:], f["test/x"][:], f["test/y"][:]
            self.assertEqual([c.decode() if isinstance(c, bytes) else c for c in f.attrs["classes"]], ["ant", "bee", "cat"])
        self.assertEqual(xtr.shape, (9, 3, 6, 6))
        self.assertEqual(xte.shape, (3, 3, 6, 6))
        self.assertEqual(xtr.dtype, np.uint8)
        # Every image appears once, with its label, as written (PNG is lossless).
        expected = {(lab, img.transpose(2, 0, 1).tobytes()) for (cls, _), img in self.images.items()
                    for lab in [["ant", "bee", "cat"].index(cls)]}
        got = {(int(y), x.tobytes()) for x, y in zip(np.concatenate([xtr, xte]), np.concatenate([ytr, yte]))}
        self.assertEqual(got, expected)

    def test_train_and_test_folders_are_the_split(self):
        for split, n in (("train", 2), ("test", 1)):
            for cls in ("a", "b"):
                os.makedirs(self.d / "tt" / split / cls)
                for k in range(n):
                    self.plt.imsave(self.d / "tt" / split / cls / f"{k}.png", np.full((4, 4), 10 * k, np.uint8), cmap="gray")
        r = run("--images", str(self.d / "tt"), "--out", str(self.d / "tt.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(self.d / "tt.h5", "r") as f:
            self.assertEqual(f["train/x"].shape[0], 4)
            self.assertEqual(f["test/x"].shape[0], 2)
            np.testing.assert_array_equal(f["train/y"][:], [0, 0, 1, 1])

    def test_images_of_different_sizes_are_refused(self):
        self.plt.imsave(self.d / "imgs" / "ant" / "big.png", np.zeros((8, 8, 3), np.uint8))
        r = run("--images", str(self.d / "imgs"), "--out", str(self.d / "x.h5"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("big.png: expected the shape of", r.stderr)


if __name__ == "__main__":
    unittest.main()
