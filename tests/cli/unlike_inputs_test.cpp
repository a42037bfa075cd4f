// Inputs that used to give wrong results without a word (issue 28, items 2-4): offline probes
// recorded default settings and no provenance, surface --resolution 1 evaluated one corner,
// a subset larger than the data set was accepted and recorded.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 32,16 --quiet --threads 1";

bool has(const std::string& out, const std::string& s) { return out.find(s) != std::string::npos; }

/// The last checkpoint group of a run file.
std::string last_group(const std::string& file) {
  auto r = python("import h5py\nprint('/checkpoints/' + sorted(h5py.File('" + file + "', 'r')['checkpoints'])[-1])\n");
  return r.code == 0 ? r.output.substr(0, r.output.find('\n')) : "";
}

}  // namespace

TEST(UnlikeInputs, OfflineProbeRecordsTheCheckpointsRunAndProvenance) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  const std::string ck = dir / "ck.h5", out = dir / "p.h5";
  auto t = bnl("train" + kSmall + " --epochs 2 --lr 0.05 --out " + ck);
  ASSERT_EQ(t.code, 0) << t.output;
  const std::string group = last_group(ck);
  ASSERT_FALSE(group.empty());
  auto p = bnl("probe --checkpoint " + ck + " --checkpoint-group " + group +
               " --probe-batch fixed --probe-size 128 --threads 1 --quiet --out " + out);
  ASSERT_EQ(p.code, 0) << p.output;
  auto py = python(R"(
import h5py, hashlib
f = h5py.File(")" + out + R"(", "r")
a = f.attrs
toml = a["config_toml"]
for line in ["epochs = 2", "train_subset = 640", "test_subset = 200", "lr = 0.05", 'hidden_dims = "32,16"',
             "probe_size = 128", 'out = ")" + out + R"("']:
    assert line in toml.splitlines(), (line, toml)
assert a["checkpoint_file"] == ")" + ck + R"(" and a["checkpoint_group"] == ")" + group + R"("
assert a["checkpoint_sha256"] == hashlib.sha256(open(")" + ck + R"(", "rb").read()).hexdigest()
for k in ["torch_version", "torch_build", "blas", "host", "device", "device_name", "intra_op_threads"]:
    assert k in a and str(a[k]) not in ("", "?"), (k, dict(a))
assert "train-images" in a["data_files"], a["data_files"]
assert a["status"] == "complete" and a["end_time"] != ""
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(UnlikeInputs, SurfaceResolutionBelowTwoIsAnError) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  const std::string ck = dir / "ck.h5";
  ASSERT_EQ(bnl("train" + kSmall + " --epochs 1 --out " + ck).code, 0);
  auto r = bnl("surface --checkpoint " + ck + " --checkpoint-group " + last_group(ck) +
               " --resolution 1 --quiet --out " + dir / "s.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--resolution = 1: expected 2 <= N")) << r.output;
}

TEST(UnlikeInputs, SubsetsLargerThanTheDataSetAreErrors) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  auto r = bnl("train --dataset fashion-mnist --train-subset 100000 --epochs 1 --quiet --out " + dir / "a.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--train-subset = 100000: expected at most the 60000 training examples")) << r.output;
  r = bnl("train --dataset fashion-mnist --train-subset 640 --test-subset 20000 --epochs 1 --quiet --out " +
          dir / "b.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--test-subset = 20000: expected at most the 10000 test examples")) << r.output;
}
