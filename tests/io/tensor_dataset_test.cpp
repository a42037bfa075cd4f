// The tensor dataset reader (io/tensor_dataset.h) on files h5py writes: known arrays read back
// equal (uint8 and float32, [N, C, H, W] and [N, D], contiguous and chunked with gzip, with and
// without mean/std), and each kind of bad file is refused with a message naming the file, the
// dataset and what was found.

#include "bnlandscape/io/tensor_dataset.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bnlandscape/core/error.h"
#include "io_test_util.h"

namespace bnl::io {
namespace {

using test::TempDir;

// Known arrays, the same formulas as in kMaker: value i of a flattened x, label i of y.
std::uint8_t u8_at(std::int64_t i) { return static_cast<std::uint8_t>((i * 7 + 3) % 256); }
float f32_at(std::int64_t i) { return static_cast<float>(i % 1000) * 0.25f - 100.0f; }
std::int64_t label_at(std::int64_t i, std::int64_t k) { return (i * 7 + 1) % k; }

// Writes every case file into argv[1] with h5py: the good ones first, then the bad ones.
const char* kMaker = R"PY(
import os, sys
import h5py, numpy as np
d = sys.argv[1]
def u8(shape): return ((np.arange(int(np.prod(shape))) * 7 + 3) % 256).astype(np.uint8).reshape(shape)
def f32(shape): return ((np.arange(int(np.prod(shape))) % 1000) * 0.25 - 100.0).astype(np.float32).reshape(shape)
def lab(n, k, dtype=np.int64): return ((np.arange(n) * 7 + 1) % k).astype(dtype)
def write(name, xtr, ytr, xte, yte, attrs={}, opts={}):
    yopts = dict(opts, chunks=True) if "chunks" in opts else opts
    with h5py.File(os.path.join(d, name + ".h5"), "w") as f:
        for s, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            if x is not None: f.create_dataset(s + "/x", data=x, **opts)
            if y is not None: f.create_dataset(s + "/y", data=y, **yopts)
        for k, v in attrs.items(): f.attrs[k] = v
# good
write("u8_nchw_norm", u8((6, 3, 4, 4)), lab(6, 5), u8((2, 3, 4, 4)), lab(2, 5),
      {"mean": np.array([0.5, 0.4, 0.3]), "std": np.array([0.2, 0.25, 0.3])})
write("f32_nd_gzip", f32((7, 10)), lab(7, 4), f32((3, 10)), lab(3, 4), {},
      dict(compression="gzip", shuffle=True, chunks=(2, 5)))
write("u8_nd_k9", u8((5, 6)), lab(5, 4, ">i4"), u8((2, 6)), lab(2, 4, np.uint8), {"num_classes": 9})
write("f32_nchw_scalar_norm", f32((4, 1, 5, 5)), lab(4, 2), f32((2, 1, 5, 5)), lab(2, 2),
      {"mean": np.float32(0.1), "std": 2.0}, dict(compression="gzip", chunks=(1, 1, 5, 5)))
write("u8_broadcast_norm", u8((3, 3, 2, 2)), lab(3, 3), u8((2, 3, 2, 2)), lab(2, 3),
      {"mean": np.array([0.5]), "std": np.array([0.25])})
# bad
open(os.path.join(d, "not_hdf5.h5"), "w").write("x,y\n1,2\n")
write("rank3", u8((4, 5, 5)), lab(4, 3), u8((2, 5, 5)), lab(2, 3))
write("float_labels", u8((4, 6)), lab(4, 3).astype(np.float64), u8((2, 6)), lab(2, 3))
write("label_range", u8((4, 6)), lab(4, 3), u8((2, 6)), np.array([0, 3]), {"num_classes": 3})
write("negative_label", u8((4, 6)), np.array([0, 1, -1, 2]), u8((2, 6)), lab(2, 3))
write("n_mismatch", u8((6, 6)), lab(7, 3), u8((2, 6)), lab(2, 3))
write("missing_test", u8((4, 6)), lab(4, 3), None, None)
x = f32((4, 6)); x[2, 3] = np.nan
write("nan", x, lab(4, 3), f32((2, 6)), lab(2, 3))
x = f32((2, 6)); x[1, 0] = np.inf
write("inf_test", f32((4, 6)), lab(4, 3), x, lab(2, 3))
write("float64_x", f32((4, 6)).astype(np.float64), lab(4, 3), f32((2, 6)), lab(2, 3))
write("int16_x", u8((4, 6)).astype(np.int16), lab(4, 3), u8((2, 6)), lab(2, 3))
write("test_shape", u8((4, 6)), lab(4, 3), u8((2, 5)), lab(2, 3))
write("test_dtype", u8((4, 6)), lab(4, 3), f32((2, 6)), lab(2, 3))
write("mean_only", u8((4, 6)), lab(4, 3), u8((2, 6)), lab(2, 3), {"mean": np.zeros(6)})
write("std_zero", u8((4, 6)), lab(4, 3), u8((2, 6)), lab(2, 3), {"mean": np.zeros(6), "std": np.zeros(6)})
write("mean_length", u8((4, 3, 2, 2)), lab(4, 3), u8((2, 3, 2, 2)), lab(2, 3), {"mean": np.zeros(2), "std": np.ones(2)})
write("mean_string", u8((4, 6)), lab(4, 3), u8((2, 6)), lab(2, 3), {"mean": "0.5", "std": np.ones(6)})
write("one_class", u8((4, 6)), np.zeros(4, np.int64), u8((2, 6)), np.zeros(2, np.int64))
write("zero_n", u8((0, 6)), lab(0, 3), u8((2, 6)), lab(2, 3))
write("bad_num_classes", u8((4, 6)), lab(4, 3), u8((2, 6)), lab(2, 3), {"num_classes": 2.5})
write("y_2d", u8((4, 6)), lab(4, 3).reshape(4, 1), u8((2, 6)), lab(2, 3))
write("y_scalar", u8((4, 6)), None, u8((2, 6)), lab(2, 3))
with h5py.File(os.path.join(d, "y_scalar.h5"), "a") as f: f["train/y"] = np.int64(1)
write("x_group", None, lab(4, 3), u8((2, 6)), lab(2, 3))
with h5py.File(os.path.join(d, "x_group.h5"), "a") as f: f.create_group("train/x")
write("y_dangling", u8((4, 6)), None, u8((2, 6)), lab(2, 3))
with h5py.File(os.path.join(d, "y_dangling.h5"), "a") as f: f["train/y"] = h5py.SoftLink("/nowhere")
write("y_enum", u8((4, 6)), None, u8((2, 6)), lab(2, 3))
with h5py.File(os.path.join(d, "y_enum.h5"), "a") as f: f["train/y"] = np.array([True, False, True, True])
print("ok")
)PY";

class TensorDatasetFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("bnl_tensors");
    made_ = test::run_python(*dir_, kMaker, "'" + dir_->path.string() + "'");
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override { ASSERT_EQ(made_.rc, 0) << made_.out; }

  static std::string path(const std::string& name) { return dir_->file(name + ".h5"); }

  /// The DataError message reading `name` gives ("" when it reads).
  static std::string error_of(const std::string& name) {
    try {
      read_tensor_dataset(path(name));
    } catch (const bnl::DataError& e) {
      return e.what();
    }
    return "";
  }

  static std::unique_ptr<TempDir> dir_;
  static test::PyResult made_;
};

std::unique_ptr<TempDir> TensorDatasetFileTest::dir_;
test::PyResult TensorDatasetFileTest::made_;

void expect_split(const TensorSplit& s, const std::vector<std::int64_t>& shape, bool uint8, std::int64_t k) {
  ASSERT_EQ(s.shape, shape);
  std::int64_t count = 1;
  for (const auto n : shape) count *= n;
  if (uint8) {
    ASSERT_TRUE(s.f32.empty());
    ASSERT_EQ(static_cast<std::int64_t>(s.u8.size()), count);
    for (std::int64_t i = 0; i < count; ++i) ASSERT_EQ(s.u8[i], u8_at(i)) << i;
  } else {
    ASSERT_TRUE(s.u8.empty());
    ASSERT_EQ(static_cast<std::int64_t>(s.f32.size()), count);
    for (std::int64_t i = 0; i < count; ++i) ASSERT_EQ(s.f32[i], f32_at(i)) << i;
  }
  ASSERT_EQ(static_cast<std::int64_t>(s.labels.size()), shape[0]);
  for (std::int64_t i = 0; i < shape[0]; ++i) EXPECT_EQ(s.labels[i], label_at(i, k)) << i;
}

TEST_F(TensorDatasetFileTest, Uint8ImagesWithPerChannelMeanAndStd) {
  const auto f = read_tensor_dataset(path("u8_nchw_norm"));
  EXPECT_EQ(f.path, path("u8_nchw_norm"));
  EXPECT_TRUE(f.uint8);
  expect_split(f.train, {6, 3, 4, 4}, true, 5);
  expect_split(f.test, {2, 3, 4, 4}, true, 5);
  EXPECT_EQ(f.num_classes, 5);  // 1 + the largest training label (lab(6, 5) = 1, 3, 0, 2, 4, 1)
  EXPECT_EQ(f.mean, (std::vector<float>{0.5f, 0.4f, 0.3f}));
  EXPECT_EQ(f.std, (std::vector<float>{0.2f, 0.25f, 0.3f}));
}

TEST_F(TensorDatasetFileTest, Float32FeatureRowsChunkedAndCompressedWithoutNormalisation) {
  const auto f = read_tensor_dataset(path("f32_nd_gzip"));
  EXPECT_FALSE(f.uint8);
  expect_split(f.train, {7, 10}, false, 4);
  expect_split(f.test, {3, 10}, false, 4);
  EXPECT_EQ(f.num_classes, 4);
  EXPECT_TRUE(f.mean.empty());
  EXPECT_TRUE(f.std.empty());
}

TEST_F(TensorDatasetFileTest, AnyIntegerLabelTypeAndTheNumClassesAttribute) {
  const auto f = read_tensor_dataset(path("u8_nd_k9"));  // big-endian int32 and uint8 labels
  expect_split(f.train, {5, 6}, true, 4);
  expect_split(f.test, {2, 6}, true, 4);
  EXPECT_EQ(f.num_classes, 9);
}

TEST_F(TensorDatasetFileTest, ScalarAndOneValueMeanStdApplyToEveryChannel) {
  const auto f = read_tensor_dataset(path("f32_nchw_scalar_norm"));
  expect_split(f.train, {4, 1, 5, 5}, false, 2);
  EXPECT_EQ(f.mean, std::vector<float>{0.1f});
  EXPECT_EQ(f.std, std::vector<float>{2.0f});
  const auto g = read_tensor_dataset(path("u8_broadcast_norm"));
  EXPECT_EQ(g.mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(g.std, (std::vector<float>{0.25f, 0.25f, 0.25f}));
}

TEST_F(TensorDatasetFileTest, EachBadFileIsADataErrorNamingTheFileTheDatasetAndWhatWasFound) {
  struct Case {
    const char* name;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"not_hdf5", {"expected an HDF5 file with /train/x", "got a file that is not HDF5"}},
      {"no_such_file", {"cannot open the data file (No such file"}},
      {"rank3", {"/train/x: expected uint8 or float32 [N, C, H, W]", "got rank 3 [4, 5, 5]", "x[:, None]"}},
      {"float_labels", {"/train/y: expected integer labels [N] with N = 4", "got float64"}},
      {"label_range", {"/test/y: expected labels in 0..2 (K = 3 from the attribute num_classes), got 3 at example 1"}},
      {"negative_label", {"/train/y: expected labels in 0..2", "got -1 at example 2"}},
      {"n_mismatch", {"/train/y: expected integer labels [N] with N = 6 (the rows of /train/x), got shape [7]"}},
      {"missing_test", {"/test/x: expected a dataset", "got no group /test"}},
      {"nan", {"/train/x: expected finite float32 values, got NaN in example 2 (value 3)"}},
      {"inf_test", {"/test/x: expected finite float32 values, got Inf in example 1 (value 0)"}},
      {"float64_x", {"/train/x: expected uint8 or float32", "got float64 (store x.astype(numpy.float32))"}},
      {"int16_x", {"/train/x: expected uint8 or float32", "got int16"}},
      {"test_shape", {"/test/x: expected the shape of /train/x but N, [4, 6], got [2, 5]"}},
      {"test_dtype", {"/test/x: expected the dtype of /train/x (uint8), got float32"}},
      {"mean_only", {"attribute std: expected mean and std together", "got only mean"}},
      {"std_zero", {"attribute std: expected finite values > 0, got 0"}},
      {"mean_length", {"attribute mean: expected 1 or 3 (channels) values, got 2"}},
      {"mean_string", {"attribute mean: expected numbers, got string"}},
      {"one_class", {"/train/y: expected labels 0..K-1 with 2 <= K", "got largest label 0"}},
      {"zero_n", {"/train/x: expected", "with every dimension >= 1, got [0, 6]"}},
      {"bad_num_classes", {"attribute num_classes: expected one integer in 2..1048576, got 2.5"}},
      {"y_2d", {"/train/y: expected integer labels [N] with N = 4", "got shape [4, 1]"}},
      {"y_scalar", {"/train/y: expected integer labels", "got a scalar or empty (null) dataspace"}},
      {"x_group", {"/train/x: expected a dataset, got a group"}},
      {"y_dangling", {"/train/y: expected a dataset", "got none"}},
      {"y_enum", {"/train/y: expected integer labels", "got enum"}},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of(c.name);
    ASSERT_FALSE(msg.empty()) << c.name << " was read without an error";
    EXPECT_EQ(msg.rfind(path(c.name) + ": ", 0), 0u) << c.name << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << c.name << ": " << msg;
    for (const auto& p : c.parts) EXPECT_NE(msg.find(p), std::string::npos) << c.name << ": \"" << p << "\" not in " << msg;
  }
}

}  // namespace
}  // namespace bnl::io
