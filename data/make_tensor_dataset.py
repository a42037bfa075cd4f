#!/usr/bin/python3
"""Writes a tensor dataset file for `bnlandscape ... --dataset tensors --data-file FILE.h5`.

The layout (docs/usage.md, "Your own data"):

    /train/x  uint8 or float32, [N, C, H, W] (images) or [N, D] (feature rows)
    /train/y  int64 [N], labels 0..K-1
    /test/x, /test/y   the same for the test set (same dtype and shape but N)
    root attributes, optional:
      mean, std     float64 [C] (or [D]): per-channel normalisation (x/255 - mean) / std for
                    uint8, (x - mean) / std for float32; none: the inputs are used as stored
                    (uint8 scaled by 1/255)
      num_classes   int64 K, when the largest training label is not K-1
      classes       the class names, label order (image folders; informational)

Sources:

  --npz FILE.npz     arrays x_train, y_train, x_test, y_test (numpy.savez). x of uint8 is kept,
                     any float dtype becomes float32; [N, H, W] gets a channel axis
                     ([N, 1, H, W]); --channels-last turns [N, H, W, C] into [N, C, H, W].
  --images DIR       one sub-folder per class (sorted names: labels 0, 1, ...) of PNG files,
                     read with matplotlib's image reader; DIR/train/<class>/ and
                     DIR/test/<class>/ when DIR has train/ and test/, otherwise a seeded split
                     (--test-fraction, --seed). Grey images become [N, 1, H, W], RGB(A) ones
                     [N, 3, H, W] (alpha dropped), as uint8. All must have one size.

Normalisation: --mean and --std (comma-separated, one value or one per channel) are written as
given; --stats-from-train computes them from the training set (after /255 for uint8), per
channel. Chunked, gzip-compressed datasets (--no-compress to store them plain).

Examples:
    /usr/bin/python3 data/make_tensor_dataset.py --npz mydata.npz --out mydata.h5 --stats-from-train
    /usr/bin/python3 data/make_tensor_dataset.py --images flowers/ --out flowers.h5 --test-fraction 0.2
"""

import argparse
import os
import sys

import numpy as np

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class ConvertError(Exception):
    """Bad input to the converter; the message names the file and what was wrong."""


def _float_list(text, what):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConvertError(f"--{what} = {text!r}: expected comma-separated numbers") from None
    if not values:
        raise ConvertError(f"--{what} = {text!r}: expected at least one number")
    return np.asarray(values, dtype=np.float64)


def normalize_x(x, where, channels_last=False):
    """x as the layout wants it: uint8 kept, floats as float32, rank 2 or 4 (a rank-3 x gets a
    channel axis; channels_last moves the last axis of a rank-4 x to position 1)."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        pass
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise ConvertError(f"{where}: expected finite values, got NaN or Inf")
    else:
        raise ConvertError(f"{where}: expected uint8 or floating-point values, got {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    if channels_last:
        if x.ndim != 4:
            raise ConvertError(f"{where}: --channels-last expected [N, H, W, C], got shape {list(x.shape)}")
        x = np.moveaxis(x, 3, 1)
    if x.ndim not in (2, 4):
        raise ConvertError(f"{where}: expected [N, C, H, W], [N, H, W] or [N, D], got shape {list(x.shape)}")
    return np.ascontiguousarray(x)


def normalize_y(y, n, where):
    """y as int64 [n]: integral values only."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ConvertError(f"{where}: expected labels [{n}] (one per row of x), got shape {list(y.shape)}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ConvertError(f"{where}: expected integer labels, got non-integral floats")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ConvertError(f"{where}: expected integer labels, got {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ConvertError(f"{where}: expected labels >= 0, got {int(y.min())}")
    return y


def from_npz(path, channels_last=False):
    """(x_train, y_train, x_test, y_test) from an .npz holding NPZ_KEYS."""
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in NPZ_KEYS if k not in f.files]
        if missing:
            raise ConvertError(f"{path}: expected arrays {', '.join(NPZ_KEYS)}, missing {', '.join(missing)}")
        xtr = normalize_x(f["x_train"], f"{path}:x_train", channels_last)
        xte = normalize_x(f["x_test"], f"{path}:x_test", channels_last)
        ytr = normalize_y(f["y_train"], xtr.shape[0], f"{path}:y_train")
        yte = normalize_y(f["y_test"], xte.shape[0], f"{path}:y_test")
    return xtr, ytr, xte, yte, None


def _read_png(path):
    """One image as uint8 [C, H, W] (C = 1 or 3)."""
    import matplotlib.image as mpimg

    img = np.asarray(mpimg.imread(path))
    if np.issubdtype(img.dtype, np.floating):  # PNG comes as floats in [0, 1]
        img = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return img[None]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return np.moveaxis(img[:, :, :3], 2, 0)
    if img.ndim == 3 and img.shape[2] in (1, 2):
        return np.moveaxis(img[:, :, :1], 2, 0)
    raise ConvertError(f"{path}: expected a grey or RGB(A) image, got shape {list(img.shape)}")


def _class_folders(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if len(classes) < 2:
        raise ConvertError(f"{root}: expected one sub-folder per class (at least 2), got {len(classes)}")
    return classes


def _read_folder(root, classes):
    """x [N, C, H, W] uint8 and y [N] from root/<class>/*.png, classes in the given order."""
    images, labels, first = [], [], None
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            raise ConvertError(f"{folder}: expected a folder of class {name!r} (as in the training set), got none")
        for f in sorted(os.listdir(folder)):
            if not f.lower().endswith(".png"):
                continue
            path = os.path.join(folder, f)
            img = _read_png(path)
            if first is None:
                first = (path, img.shape)
            elif img.shape != first[1]:
                raise ConvertError(f"{path}: expected the shape of {first[0]}, {list(first[1])}, got {list(img.shape)}")
            images.append(img)
            labels.append(label)
    if not images:
        raise ConvertError(f"{root}: expected PNG files in the class folders, got none")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def from_images(root, test_fraction=0.2, seed=0):
    """(x_train, y_train, x_test, y_test, classes) from a folder of class folders."""
    if not os.path.isdir(root):
        raise ConvertError(f"{root}: expected a folder of class folders, got none")
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        classes = _class_folders(train_dir)
        xtr, ytr = _read_folder(train_dir, classes)
        xte, yte = _read_folder(test_dir, classes)
        return xtr, ytr, xte, yte, classes
    if not 0 < test_fraction < 1:
        raise ConvertError(f"--test-fraction = {test_fraction}: expected a value in (0, 1)")
    classes = _class_folders(root)
    x, y = _read_folder(root, classes)
    n_test = int(round(test_fraction * len(y)))
    if n_test < 1 or n_test >= len(y):
        raise ConvertError(f"{root}: expected a split with both sets non-empty, got {len(y)} images and {n_test} for test")
    perm = np.random.default_rng(seed).permutation(len(y))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return x[train], y[train], x[test], y[test], classes


def train_stats(x):
    """Per-channel mean and std of the training x (uint8 scaled by 1/255 first), float64."""
    v = x.astype(np.float64)
    if x.dtype == np.uint8:
        v /= 255.0
    axes = (0, 2, 3) if v.ndim == 4 else (0,)
    mean, std = v.mean(axis=axes), v.std(axis=axes)
    return mean, np.where(std > 0, std, 1.0)


def write(out, xtr, ytr, xte, yte, mean=None, std=None, num_classes=None, classes=None, compress=True):
    """Writes the layout to `out` (replaced if it exists)."""
    import h5py

    if xtr.dtype != xte.dtype or xtr.shape[1:] != xte.shape[1:]:
        raise ConvertError(f"expected test x of the training dtype and shape {xtr.dtype} {list(xtr.shape[1:])}, "
                           f"got {xte.dtype} {list(xte.shape[1:])}")
    channels = xtr.shape[1]
    for name, v in (("mean", mean), ("std", std)):
        if v is not None and len(v) not in (1, channels):
            raise ConvertError(f"--{name}: expected 1 or {channels} (channels) values, got {len(v)}")
    if (mean is None) != (std is None):
        raise ConvertError("--mean and --std: expected both or neither")
    if std is not None and np.any(np.asarray(std) <= 0):
        raise ConvertError("--std: expected values > 0")
    opts = dict(compression="gzip", chunks=True) if compress else {}
    with h5py.File(out, "w") as f:
        for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            g = f.create_group(split)
            g.create_dataset("x", data=x, **opts)
            g.create_dataset("y", data=y.astype(np.int64), **opts)
        if mean is not None:
            f.attrs["mean"] = np.asarray(mean, dtype=np.float64)
            f.attrs["std"] = np.asarray(std, dtype=np.float64)
        if num_classes is not None:
            f.attrs["num_classes"] = np.int64(num_classes)
        if classes is not None:
            f.attrs["classes"] = np.asarray(classes, dtype=h5py.string_dtype())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--npz", help="a .npz with x_train, y_train, x_test, y_test")
    src.add_argument("--images", help="a folder with one sub-folder of PNG images per class")
    ap.add_argument("--out", required=True, help="the HDF5 file to write")
    ap.add_argument("--channels-last", action="store_true", help="npz: x is [N, H, W, C]")
    ap.add_argument("--test-fraction", type=float, default=0.2, help="images without train/ and test/: test share")
    ap.add_argument("--seed", type=int, default=0, help="seed of that split")
    ap.add_argument("--mean", help="per-channel means, comma-separated")
    ap.add_argument("--std", help="per-channel standard deviations, comma-separated")
    ap.add_argument("--stats-from-train", action="store_true", help="mean and std from the training set")
    ap.add_argument("--num-classes", type=int, help="K, when the largest training label is not K-1")
    ap.add_argument("--no-compress", action="store_true", help="contiguous datasets, no gzip")
    a = ap.parse_args(argv)
    try:
        if a.stats_from_train and (a.mean or a.std):
            raise ConvertError("--stats-from-train: expected no --mean/--std beside it")
        if a.npz:
            xtr, ytr, xte, yte, classes = from_npz(a.npz, a.channels_last)
        else:
            xtr, ytr, xte, yte, classes = from_images(a.images, a.test_fraction, a.seed)
        mean = _float_list(a.mean, "mean") if a.mean else None
        std = _float_list(a.std, "std") if a.std else None
        if a.stats_from_train:
            mean, std = train_stats(xtr)
        write(a.out, xtr, ytr, xte, yte, mean, std, a.num_classes, classes, not a.no_compress)
    except ConvertError as e:
        print(f"make_tensor_dataset.py: {e}", file=sys.stderr)
        return 2
    k = a.num_classes if a.num_classes else int(ytr.max()) + 1
    print(f"{a.out}: train x {xtr.dtype} {list(xtr.shape)}, test x {list(xte.shape)}, {k} classes"
          + ("" if mean is None else f", mean {np.round(mean, 4).tolist()}, std {np.round(std, 4).tolist()}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
