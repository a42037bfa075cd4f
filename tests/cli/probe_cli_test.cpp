// `bnlandscape probe` end to end: /probes rows, probes leave training untouched, offline
// probes of checkpoints.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 32,16 --epochs 1 --quiet --seed 3";

}  // namespace

TEST(ProbeCli, OnlineProbesEveryKStepsAndLeaveTrainingUnchanged) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  // Two threads: probes run beside training (--overlap, the default), each thread with one, so
  // training is `train --threads 1`'s and the probes are those measured in the training thread.
  const std::string probe = "probe" + kSmall + " --bn custom --step-interval 2 --top-k 2 --trace-samples 3";
  auto p = bnl(probe + " --threads 2 --out " + dir / "p.h5");
  ASSERT_EQ(p.code, 0) << p.output;
  auto s = bnl(probe + " --threads 1 --overlap=false --out " + dir / "s.h5");
  ASSERT_EQ(s.code, 0) << s.output;
  auto t = bnl("train" + kSmall + " --bn custom --threads 1 --out " + dir / "t.h5");
  ASSERT_EQ(t.code, 0) << t.output;
  auto py = python(R"(
import h5py, numpy as np
p = h5py.File(")" + dir / "p.h5" + R"(", "r")
t = h5py.File(")" + dir / "t.h5" + R"(", "r")
g = p["probes"]
assert list(g["step"][:]) == [0, 2, 4], list(g["step"][:])   # 5 steps: 0, 2, 4 (= last)
n = 3
for k in ["loss", "grad_norm", "beta_smoothness", "grad_curvature", "hvp_count", "converged",
          "grad_eig_cosine", "eos_threshold", "trace", "trace_stderr"]:
    assert g[k].shape == (n,), k
    assert np.all(np.isfinite(g[k][:])), (k, g[k][:])
S = len(g["step_sizes"])
assert S == 10
assert np.allclose(g["step_sizes"][[0, -1]], [0.05, 0.4])
assert g["loss_path"].shape == (n, S) and g["grad_pred"].shape == (n, S)
assert g["eigvals"].shape == (n, 2)
assert np.all(g["eigvals"][:, 0] >= g["eigvals"][:, 1])
assert np.allclose(g["eos_threshold"][:], 2 / 0.1)
assert np.all(g["converged"][:] == 1)
assert g.attrs["probe_batch"] == "current"
# beta-smoothness is the max over s of grad_pred / (s ||g||)
ratio = g["grad_pred"][:] / (g["step_sizes"][:][None, :] * g["grad_norm"][:][:, None])
assert np.allclose(g["beta_smoothness"][:], ratio.max(axis=1), rtol=1e-6)
# probes on vs off: identical training metrics
for k in ["loss", "acc", "grad_norm"]:
    assert np.array_equal(p["train/steps"][k][:], t["train/steps"][k][:]), k
for k in ["test_loss", "test_acc", "train_loss"]:
    assert np.array_equal(p["train/epochs"][k][:], t["train/epochs"][k][:]), k
assert np.array_equal(p["checkpoints/step_0000005/net.1.running_var"][:], t["checkpoints/step_0000005/net.1.running_var"][:])
# beside training or in its thread: the same probes, value for value
s = h5py.File(")" + dir / "s.h5" + R"(", "r")
assert g.attrs["overlap"] == 1 and s["probes"].attrs["overlap"] == 0
assert p.attrs["blas_threads"] == 1 and p.attrs["intra_op_threads"] == 1, dict(p.attrs)
for k in g:
    if k != "seconds":
        assert np.array_equal(g[k][()], s["probes"][k][()], equal_nan=True), k
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(ProbeCli, OfflineProbeOfACheckpointUsesTheRunsModel) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  ASSERT_EQ(bnl("train" + kSmall + " --bn none --out " + dir / "t.h5").code, 0);
  // No --bn/--hidden-dims given: taken from the run file's configuration.
  auto r = bnl("probe --checkpoint " + dir / "t.h5" +
               " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256 --quiet --out " +
               dir / "o.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  auto r64 = bnl("probe --checkpoint " + dir / "t.h5" +
                 " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256 --probe-microbatch 128"
                 " --probe-dtype float64 --tol 1e-8 --quiet --out " + dir / "o64.h5");
  ASSERT_EQ(r64.code, 0) << r64.output;
  auto py = python(R"(
import h5py, numpy as np
o = h5py.File(")" + dir / "o.h5" + R"(", "r")
o64 = h5py.File(")" + dir / "o64.h5" + R"(", "r")
g = o["probes"]
assert list(g["step"][:]) == [5]
assert g.attrs["probe_size"] == 256 and g.attrs["probe_batch"] == "fixed"
assert np.all(np.isfinite(g["eigvals"][:]))
assert 'bn = "none"' in o.attrs["config_toml"]
assert o.attrs["status"] == "complete"
# Without BN micro-batching does not change the loss; float64 agrees with float32 to ~1e-3.
l32, l64 = g["eigvals"][0, 0], o64["probes/eigvals"][0, 0]
assert abs(l32 - l64) / abs(l64) < 2e-3, (l32, l64)
assert abs(g["loss"][0] - o64["probes/loss"][0]) < 1e-5
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
  // A checkpoint that does not fit the model is an error naming the parameter.
  auto bad = bnl("probe --checkpoint " + dir / "t.h5" +
                 " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256 --hidden-dims 64,16 --quiet --out " +
                 dir / "bad.h5");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("net.0.weight"), std::string::npos) << bad.output;
  auto missing = bnl("probe --checkpoint " + dir / "t.h5" + " --checkpoint-group /checkpoints/step_9 --probe-batch fixed --out " + dir / "m.h5");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("step_9"), std::string::npos) << missing.output;
}

TEST(ProbeCli, BadProbeOptionsExitTwoBeforeAnyOutput) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  for (const std::string& args : {std::string("--step-interval 0"), std::string("--top-k 100000000"),
                                  std::string("--step-sizes 0.1,-1"), std::string("--probe-batch some"),
                                  std::string("--probe-batch fixed --probe-size 100 --probe-microbatch 30"),
                                  std::string("--probe-dtype float16"), std::string("--tol 0")}) {
    auto r = bnl("probe" + kSmall + " " + args + " --out " + dir / "x.h5");
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.h5")) << args;
  }
}
