// `probe --curvature hessian,ggn --sharpness-scaling layer,adaptive --top-k K` end to end (issue
// 24): every new dataset online and offline, the c = 3 rescaling of a pre-BN layer through a
// checkpoint, and the Gauss-Newton eigenvalues of two ranks equal to one process's.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 32,16 --epochs 1 --quiet --seed 3";
const std::string kCurvature =
    " --curvature hessian,ggn --sharpness-scaling layer,adaptive --top-k 5 --trace-samples 4 --density-runs 2"
    " --density-steps 6 --layer-top-k 1";

// The checks every file with kCurvature's options passes (n probes, B = 2 blocks for --bn custom).
std::string check_datasets(const std::string& file, int n) {
  return R"(
import h5py, numpy as np
f = h5py.File(")" + file + R"(", "r")
p = f["probes"]
n, k = )" + std::to_string(n) + R"(, 5
for name in ("eigvals", "grad_topk_share", "eigvals_layer", "eigvals_adaptive", "ggn_eigvals",
             "ggn_grad_topk_share", "ggn_eigvals_layer", "ggn_eigvals_adaptive"):
    assert p[name].shape == (n, k), (name, p[name].shape)
    assert p[name].attrs["units"] and p[name].attrs["description"], name
for name in ("ggn_hvp_count", "ggn_converged", "ggn_trace", "ggn_trace_stderr", "ggn_layer_hvp_count",
             "ggn_layer_converged", "scaled_hvp_count", "scaled_converged", "ggn_scaled_hvp_count",
             "ggn_scaled_converged"):
    assert p[name].shape == (n,), (name, p[name].shape)
assert p["ggn_layer_eigvals"].shape == (n, 5, 1)
assert list(p["ggn_layer_eigvals"].attrs["blocks"]) == ["net.0", "net.1", "net.3", "net.4", "net.6"]
assert p["effective_lr"].shape == (n, 2)
assert list(p.attrs["scale_invariant_blocks"]) == ["net.0", "net.3"]
assert p.attrs["blocks_scale_invariant"] == 1
assert p.attrs["curvature"] == "hessian,ggn" and p.attrs["sharpness_scaling"] == "layer,adaptive"
assert p.attrs["ggn_engine"] == "mlp-r-operator" and p["ggn_eigvals"].attrs["operator"] == "ggn"
g, e = p["ggn_eigvals"][:], p["eigvals"][:]
assert np.all(np.isfinite(g)) and np.all(g > 0) and np.all(np.diff(g, axis=1) <= 0), g
for s in (p["grad_topk_share"][:], p["ggn_grad_topk_share"][:]):
    assert np.all(s >= 0) and np.all(s <= 1 + 1e-9) and np.all(np.diff(s, axis=1) >= -1e-12), s
assert np.all(p["ggn_hvp_count"][:] > 0) and np.all(p["ggn_scaled_hvp_count"][:] > 0)
assert np.all(np.isfinite(p["ggn_trace"][:])) and np.all(p["ggn_trace"][:] > 0)
d = f["density_ggn"]
assert d.attrs["operator"] == "ggn" and f["density"].attrs["operator"] == "hessian"
assert d["nodes"].shape == (n, 12) and list(d["step"][:]) == list(p["step"][:])
print("ok")
)";
}

}  // namespace

TEST(CurvatureCli, OnlineAndOfflineProbesWriteEveryNewDataset) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  auto on = bnl("probe" + kSmall + " --bn custom --step-interval 2" + kCurvature + " --out " + dir / "on.h5");
  ASSERT_EQ(on.code, 0) << on.output;
  auto py = python(check_datasets(dir / "on.h5", 3));
  EXPECT_EQ(py.code, 0) << py.output;
  auto info = bnl("info " + dir / "on.h5");
  EXPECT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("ggn_eigvals[0]"), std::string::npos) << info.output;

  ASSERT_EQ(bnl("train" + kSmall + " --bn custom --out " + dir / "t.h5").code, 0);
  auto off = bnl("probe --checkpoint " + dir / "t.h5" +
                 " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256" + kCurvature +
                 " --quiet --out " + dir / "off.h5");
  ASSERT_EQ(off.code, 0) << off.output;
  py = python(check_datasets(dir / "off.h5", 1));
  EXPECT_EQ(py.code, 0) << py.output;
}

// A pre-BN layer's weight and bias times 3 in the checkpoint: the same function (to BN's eps),
// that layer's Hessian block / 9, the scaled sharpness unchanged to 1e-4, the raw one not.
TEST(CurvatureCli, RescaledPreBnLayerInACheckpointLeavesTheScaledSharpness) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  ASSERT_EQ(bnl("train" + kSmall + " --bn custom --out " + dir / "t.h5").code, 0);
  auto scale = python(R"(
import h5py, shutil
shutil.copy(")" + dir / "t.h5" + R"(", ")" + dir / "t3.h5" + R"(")
with h5py.File(")" + dir / "t3.h5" + R"(", "r+") as f:
    g = f["checkpoints/step_0000005"]
    for name in ("net.0.weight", "net.0.bias"):
        g[name][...] = 3.0 * g[name][...]
print("ok")
)");
  ASSERT_EQ(scale.code, 0) << scale.output;
  const std::string probe = " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256"
                            " --probe-dtype float64 --tol 1e-10 --top-k 2 --layer-top-k 1 --curvature hessian,ggn"
                            " --sharpness-scaling layer,adaptive --quiet --out ";
  for (const char* name : {"t", "t3"}) {
    auto r = bnl("probe --checkpoint " + dir / (std::string(name) + ".h5") + probe + dir / (std::string(name) + "_p.h5"));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  auto py = python(R"(
import h5py, numpy as np
a = h5py.File(")" + dir / "t_p.h5" + R"(", "r")["probes"]
b = h5py.File(")" + dir / "t3_p.h5" + R"(", "r")["probes"]
rel = lambda x, y: float(np.max(np.abs(x - y) / np.abs(y)))
assert rel(b["loss"][0], a["loss"][0]) < 1e-6, (b["loss"][0], a["loss"][0])
i = list(a["layer_eigvals"].attrs["blocks"]).index("net.0")
assert rel(b["layer_eigvals"][0, i], a["layer_eigvals"][0, i] / 9) < 1e-4
assert rel(b["ggn_layer_eigvals"][0, i], a["ggn_layer_eigvals"][0, i] / 9) < 1e-4
for name in ("eigvals_layer", "eigvals_adaptive", "ggn_eigvals_layer", "ggn_eigvals_adaptive"):
    assert rel(b[name][0], a[name][0]) < 1e-4, (name, b[name][0], a[name][0])
assert rel(b["eigvals"][0, 0], a["eigvals"][0, 0]) > 1e-2, (b["eigvals"][0], a["eigvals"][0])
# The checkpoint holds float32 weights: 3 w rounds to float32 (relative 6e-8 per entry).
assert rel(b["effective_lr"][0, 0], a["effective_lr"][0, 0] / 9) < 1e-6
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(CurvatureCli, GgnOnTwoRanksEqualsOneProcess) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  ASSERT_EQ(bnl("train" + kSmall + " --bn custom --out " + dir / "t.h5").code, 0);
  const std::string offline = "probe --checkpoint " + dir / "t.h5" +
                              " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256"
                              " --probe-microbatch 64 --probe-dtype float64 --top-k 3 --tol 1e-10 --curvature ggn"
                              " --sharpness-scaling adaptive --trace-samples 3 --threads 1 --quiet --out ";
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks(offline, dir / "one.h5", dir / "two.h5"));
  auto py = python(R"(
import h5py, numpy as np
a = h5py.File(")" + dir / "one.h5" + R"(", "r")["probes"]
b = h5py.File(")" + dir / "two.h5" + R"(", "r")["probes"]
assert "eigvals" not in a and "ggn_eigvals" in a
assert b.attrs["world_size"] == 2
for name in ("ggn_eigvals", "ggn_eigvals_adaptive", "ggn_grad_topk_share", "ggn_trace"):
    x, y = a[name][:], b[name][:]
    assert np.allclose(x, y, rtol=1e-8, atol=1e-12), (name, x, y)
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(CurvatureCli, BadCurvatureAndScalingListsExitTwoNamingTheOption) {
  auto r = bnl("probe --dataset fashion-mnist --train-subset 640 --curvature hessian,fisher --out /tmp/never.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--curvature = \"hessian,fisher\": expected a comma list of hessian | ggn"), std::string::npos)
      << r.output;
  r = bnl("probe --dataset fashion-mnist --train-subset 640 --sharpness-scaling none,layer --out /tmp/never.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--sharpness-scaling = \"none,layer\""), std::string::npos) << r.output;
  r = bnl("probe --dataset fashion-mnist --train-subset 640 --top-k 0 --sharpness-scaling layer --out /tmp/never.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--top-k >= 1"), std::string::npos) << r.output;
}

// A resumed probe run carries the Gauss-Newton solve's warm start in the checkpoint's state
// (probe.ggn_lanczos_warm_start), so its rows equal the uninterrupted run's.
TEST(CurvatureCli, ResumedProbeContinuesTheGaussNewtonSolves) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  const std::string args = "probe" + kSmall +
                           " --bn custom --checkpoint-every 5 --step-interval 3 --top-k 2 --curvature hessian,ggn"
                           " --sharpness-scaling adaptive --density-runs 1 --density-steps 4 --overlap=false";
  auto ref = bnl(args + " --out " + dir / "ref.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  auto cut = python(R"(
import h5py, shutil
shutil.copy(")" + dir / "ref.h5" + R"(", ")" + dir / "cut.h5" + R"(")
with h5py.File(")" + dir / "cut.h5" + R"(", "r+") as f:
    assert "probe.ggn_lanczos_warm_start" in f["checkpoints/step_0000005/_state"], list(f["checkpoints/step_0000005/_state"])
    for k in list(f["checkpoints"]):
        if int(k[5:]) > 5:
            del f["checkpoints"][k]
    f.attrs["status"] = "running"
print("ok")
)");
  ASSERT_EQ(cut.code, 0) << cut.output;
  auto r = bnl("probe --resume " + dir / "cut.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
a, b = h5py.File(")" + dir / "ref.h5" + R"(", "r"), h5py.File(")" + dir / "cut.h5" + R"(", "r")
for g in ("probes", "density_ggn"):
    for k in a[g]:
        if k in ("seconds", "allreduce_seconds"):
            continue
        assert np.array_equal(a[g][k][:], b[g][k][:], equal_nan=True), (g, k, a[g][k][:], b[g][k][:])
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}
