// `--dataset tensors --data-file FILE.h5` end to end: training on feature rows and images,
// what the run file records, the cross-check against --dataset fashion-mnist on the same
// images (exported through data/make_tensor_dataset.py), offline probes and surfaces that find
// the data again, and every bad file or option refused with exit 2 and its message.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

/// Writes into DIR (argv-free: the path is pasted in) small.h5 (float32 feature rows [256, 20],
/// 3 classes around three means, test [64, 20]), the bad files, and - when Fashion-MNIST is
/// installed - fmnist.h5: its first 1000 training and 300 test images through the converter
/// (.npz of uint8 [N, 28, 28] -> [N, 1, 28, 28], mean 0.2860, std 0.3530).
std::string maker(const std::string& dir) {
  return R"PY(
import gzip, os, subprocess, sys
import h5py, numpy as np
d = ")PY" + dir + R"PY("
rng = np.random.default_rng(0)
centres = rng.normal(size=(3, 20)).astype(np.float32) * 2
def rows(n):
    y = rng.integers(0, 3, n)
    return (centres[y] + rng.normal(size=(n, 20)).astype(np.float32)).astype(np.float32), y.astype(np.int64)
def write(name, xtr, ytr, xte, yte, attrs={}):
    with h5py.File(os.path.join(d, name), "w") as f:
        for s, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            if x is not None: f[s + "/x"] = x
            if y is not None: f[s + "/y"] = y
        for k, v in attrs.items(): f.attrs[k] = v
xtr, ytr = rows(256); xte, yte = rows(64)
write("small.h5", xtr, ytr, xte, yte)
write("rank3.h5", xtr.reshape(256, 4, 5), ytr, xte.reshape(64, 4, 5), yte)
write("float_labels.h5", xtr, ytr.astype(np.float32), xte, yte)
write("label_range.h5", xtr, ytr, xte, np.where(yte == 0, 7, yte), {"num_classes": 3})
write("n_mismatch.h5", xtr, ytr[:200], xte, yte)
write("missing_test.h5", xtr, ytr, None, None)
bad = xtr.copy(); bad[5, 2] = np.nan
write("nan.h5", bad, ytr, xte, yte)
open(os.path.join(d, "not_hdf5.h5"), "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(100))
D = "/usr/share/datasets/fashion-mnist/"
if os.path.exists(D + "train-images-idx3-ubyte.gz"):
    img = lambda f, n: np.frombuffer(gzip.open(D + f).read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    lab = lambda f, n: np.frombuffer(gzip.open(D + f).read(), np.uint8, offset=8)[:n]
    np.savez(os.path.join(d, "fmnist.npz"), x_train=img("train-images-idx3-ubyte.gz", 1000),
             y_train=lab("train-labels-idx1-ubyte.gz", 1000), x_test=img("t10k-images-idx3-ubyte.gz", 300),
             y_test=lab("t10k-labels-idx1-ubyte.gz", 300))
    r = subprocess.run([sys.executable, ")PY" BNL_SOURCE_DIR R"PY(/data/make_tensor_dataset.py", "--npz",
                        os.path.join(d, "fmnist.npz"), "--out", os.path.join(d, "fmnist.h5"),
                        "--mean", "0.2860", "--std", "0.3530"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
print("ok")
)PY";
}

class TensorsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("bnl_tensors_cli");
    made_ = python(maker(dir_->path.string()));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
    ASSERT_EQ(made_.code, 0) << made_.output;
  }
  static std::string file(const std::string& name) { return dir_->file(name); }
  static TempDir* dir_;
  static Result made_;
};

TempDir* TensorsCli::dir_ = nullptr;
Result TensorsCli::made_;

const std::string kRows = " --dataset tensors --arch mlp --hidden-dims 16 --batch-size 32 --epochs 2 --quiet";

TEST_F(TensorsCli, TrainsAnMlpOnFeatureRowsAndRecordsTheDataFile) {
  const std::string out = file("rows_run.h5");
  auto r = bnl("train" + kRows + " --data-file " + file("small.h5") + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"PY(
import hashlib, h5py, numpy as np
data = ")PY" + file("small.h5") + R"PY("
f = h5py.File(")PY" + out + R"PY(", "r")
a = f.attrs
sha = hashlib.sha256(open(data, "rb").read()).hexdigest()
assert a["data_files"] == data + " " + sha + "\n", a["data_files"]
assert a["num_classes"] == 3 and a["input_shape"] == "20", (a["num_classes"], a["input_shape"])
assert a["input_normalization"] == "none (float32 values as stored)", a["input_normalization"]
assert 'dataset = "tensors"' in a["config_toml"] and ('data_file = "' + data + '"') in a["config_toml"]
ck = f["checkpoints/step_0000016"]
assert ck["net.0.weight"].shape == (16, 20) and ck["net.3.weight"].shape == (3, 16), ck["net.3.weight"].shape
loss = f["train/steps/loss"][:]
assert len(loss) == 16 and loss[-4:].mean() < loss[:4].mean(), loss
assert f["train/epochs/test_acc"][-1] > 0.6, f["train/epochs/test_acc"][:]
print("ok")
)PY");
  EXPECT_EQ(py.code, 0) << py.output;
}

// The same images with the same normalisation in the same order must give the same numbers:
// the tensors path adds nothing and loses nothing.
TEST_F(TensorsCli, FashionMnistExportedToTheTensorsLayoutGivesTheSameLosses) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const std::string common = " --train-subset 1000 --test-subset 300 --hidden-dims 64,32 --epochs 2 --seed 4 --bn custom"
                             " --eval-every 5 --threads 1 --quiet";
  auto a = bnl("train --dataset fashion-mnist" + common + " --out " + file("fm_ref.h5"));
  ASSERT_EQ(a.code, 0) << a.output;
  auto b = bnl("train --dataset tensors --data-file " + file("fmnist.h5") + common + " --out " + file("fm_tensors.h5"));
  ASSERT_EQ(b.code, 0) << b.output;
  auto py = python(R"PY(
import h5py, numpy as np
a = h5py.File(")PY" + file("fm_ref.h5") + R"PY(", "r")
b = h5py.File(")PY" + file("fm_tensors.h5") + R"PY(", "r")
for k in ("train/steps/loss", "train/steps/grad_norm", "train/evals/test_loss", "train/epochs/test_acc"):
    assert np.array_equal(a[k][:], b[k][:]), (k, a[k][:5], b[k][:5])
for k in ("num_classes", "input_shape", "input_normalization"):
    assert a.attrs[k] == b.attrs[k], (k, a.attrs[k], b.attrs[k])
assert b.attrs["input_normalization"] == "x/255, then (x - mean[c]) / std[c] with mean = (0.286), std = (0.353)", b.attrs["input_normalization"]
assert b.attrs["input_shape"] == "1x28x28"
print("ok", len(a["train/steps/loss"]))
)PY");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(TensorsCli, ConvMlpOnImagesAndOfflineProbeAndSurfaceFindTheDataAgain) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const std::string run = file("cnn_run.h5");
  auto r = bnl("train --dataset tensors --data-file " + file("fmnist.h5") +
               " --arch cnn --conv-channels 4,8 --hidden-dims 16 --train-subset 256 --test-subset 64 --batch-size 64"
               " --epochs 1 --quiet --out " + run);
  ASSERT_EQ(r.code, 0) << r.output;
  // Neither the dataset nor the file is named: both come from the run's configuration.
  auto p = bnl("probe --checkpoint " + run + " --checkpoint-group /checkpoints/step_0000004 --probe-batch fixed"
               " --probe-size 64 --top-k 1 --quiet --out " + file("cnn_probe.h5"));
  ASSERT_EQ(p.code, 0) << p.output;
  auto s = bnl("surface --checkpoint " + run + " --checkpoint-group /checkpoints/step_0000004 --surface-size 64"
               " --resolution 3 --quiet --out " + file("cnn_surface.h5"));
  ASSERT_EQ(s.code, 0) << s.output;
  auto py = python(R"PY(
import h5py
t = h5py.File(")PY" + run + R"PY(", "r").attrs
assert t["input_shape"] == "1x28x28" and t["num_classes"] == 10, (t["input_shape"], t["num_classes"])
for name in (")PY" + file("cnn_probe.h5") + R"PY(", ")PY" + file("cnn_surface.h5") + R"PY("):
    a = h5py.File(name, "r").attrs
    assert a["data_files"] == t["data_files"], (name, a["data_files"], t["data_files"])
    assert 'dataset = "tensors"' in a["config_toml"] and ('data_file = ")PY" + file("fmnist.h5") + R"PY("') in a["config_toml"], name
    assert a["input_shape"] == "1x28x28", name
print("ok")
)PY");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(TensorsCli, BadDataFilesExitTwoWithTheirMessageAndWriteNothing) {
  struct Case {
    std::string file;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"rank3.h5", "/train/x: expected uint8 or float32 [N, C, H, W] (images) or [N, D] (feature rows), got rank 3 [256, 4, 5]"},
      {"float_labels.h5", "/train/y: expected integer labels [N] with N = 256 (the rows of /train/x), got float32"},
      {"label_range.h5", "/test/y: expected labels in 0..2 (K = 3 from the attribute num_classes), got 7"},
      {"n_mismatch.h5", "/train/y: expected integer labels [N] with N = 256 (the rows of /train/x), got shape [200]"},
      {"missing_test.h5", "/test/x: expected a dataset (the layout is /train/x, /train/y, /test/x, /test/y), got no group /test"},
      {"nan.h5", "/train/x: expected finite float32 values, got NaN in example 5 (value 2)"},
      {"not_hdf5.h5", "expected an HDF5 file with /train/x, /train/y, /test/x, /test/y"},
      {"absent.h5", "cannot open the data file (No such file or directory)"},
  };
  for (const auto& c : cases) {
    const std::string out = file("bad_" + c.file);
    auto r = bnl("train" + kRows + " --data-file " + file(c.file) + " --out " + out);
    EXPECT_EQ(r.code, 2) << c.file << ": " << r.output;
    EXPECT_NE(r.output.find(file(c.file) + ": "), std::string::npos) << c.file << ": " << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.file << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.file;
  }
}

TEST_F(TensorsCli, DataFileGoesWithTensorsOnlyAndConvolutionsNeedImages) {
  auto missing = bnl("train --dataset tensors --quiet --out " + file("o1.h5"));
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("--data-file = \"\": expected an HDF5 file (--data-file FILE.h5) with --dataset tensors"),
            std::string::npos) << missing.output;
  auto stray = bnl("train --dataset fashion-mnist --data-file " + file("small.h5") + " --quiet --out " + file("o2.h5"));
  EXPECT_EQ(stray.code, 2) << stray.output;
  EXPECT_NE(stray.output.find("expected no data file with --dataset fashion-mnist"), std::string::npos) << stray.output;
  auto rows_cnn = bnl("train --dataset tensors --data-file " + file("small.h5") + " --arch cnn --quiet --out " + file("o3.h5"));
  EXPECT_EQ(rows_cnn.code, 2) << rows_cnn.output;
  EXPECT_NE(rows_cnn.output.find("expected images [N, C, H, W] (convolutions need a height and width), got feature rows [N, 20]"),
            std::string::npos) << rows_cnn.output;
  for (const char* o : {"o1.h5", "o2.h5", "o3.h5"}) EXPECT_FALSE(std::filesystem::exists(file(o))) << o;
}

}  // namespace
