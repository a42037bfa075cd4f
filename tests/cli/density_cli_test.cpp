// `probe --density-runs/--density-steps` (/density) and `--layer-top-k` (/probes/layer_eigvals)
// end to end: shapes, attributes, the quadrature's invariants, online steps, several ranks.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 32,16 --epochs 1 --quiet --seed 3";

}  // namespace

TEST(DensityCli, OfflineProbeWritesDensityAndLayerEigenvalues) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  ASSERT_EQ(bnl("train" + kSmall + " --bn custom --out " + dir / "t.h5").code, 0);
  auto r = bnl("probe --checkpoint " + dir / "t.h5" +
               " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256 --probe-dtype float64"
               " --tol 1e-8 --top-k 1 --bottom-k 1 --density-runs 3 --density-steps 12 --layer-top-k 2 --quiet --out " +
               dir / "o.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + dir / "o.h5" + R"(", "r")
d, p = f["density"], f["probes"]
assert list(d["step"][:]) == list(p["step"][:]) == [5]
K, M = 3, 12
assert d["nodes"].shape == (1, K * M) and d["weights"].shape == (1, K * M), (d["nodes"].shape, d["weights"].shape)
for k in ("step", "nodes", "weights", "hvp_count", "seconds"):
    assert d[k].attrs["units"] and d[k].attrs["description"], k
assert d.attrs["runs"] == K and d.attrs["steps"] == M and d.attrs["num_params"] == p.attrs["num_params"]
assert d["hvp_count"][0] == K * M
nodes, w = d["nodes"][0].reshape(K, M), d["weights"][0].reshape(K, M)
assert np.all(np.isfinite(nodes)) and np.all(w >= 0)
assert np.allclose(w.sum(axis=1), 1.0, atol=1e-12), w.sum(axis=1)
assert np.all(np.diff(nodes, axis=1) >= 0)
# Ritz values lie inside [lambda_min, lambda_max] (Lanczos eigenvalues at tol 1e-8).
lmax, lmin = p["eigvals"][0, 0], p["eigvals_bottom"][0, 0]
span = lmax - lmin
assert nodes.max() <= lmax + 1e-6 * span and nodes.min() >= lmin - 1e-6 * span, (nodes.min(), nodes.max(), lmin, lmax)
# After 12 steps the top Ritz value is close to lambda_max.
assert nodes.max() > lmax - 0.05 * span, (nodes.max(), lmax)
# SLQ's trace estimate: P * mean over runs of sum w theta; same order as lambda_max * a few.
L = p["layer_eigvals"]
assert L.shape == (1, 5, 2), L.shape
assert list(L.attrs["blocks"]) == ["net.0", "net.1", "net.3", "net.4", "net.6"], list(L.attrs["blocks"])
assert list(L.attrs["block_kinds"]) == ["linear", "norm", "linear", "norm", "linear"]
assert L.attrs["units"] and L.attrs["description"]
l = L[0]
assert np.all(np.isfinite(l)) and np.all(l[:, 0] >= l[:, 1]), l
# Cauchy interlacing: a diagonal block's top eigenvalue is at most H's.
assert np.all(l[:, 0] <= lmax * (1 + 1e-6)), (l[:, 0], lmax)
assert p["layer_converged"][0] == 1 and p["layer_hvp_count"][0] > 0
assert p.attrs["layer_top_k"] == 2
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(DensityCli, OnlineDensityAtTheProbeStepsAndTheSameOnTwoRanks) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  auto on = bnl("probe" + kSmall + " --bn none --step-interval 2 --top-k 1 --density-runs 2 --density-steps 6"
                " --layer-top-k 1 --out " + dir / "on.h5");
  ASSERT_EQ(on.code, 0) << on.output;
  ASSERT_EQ(bnl("train" + kSmall + " --bn none --out " + dir / "t.h5").code, 0);
  const std::string offline = "probe --checkpoint " + dir / "t.h5" +
                              " --checkpoint-group /checkpoints/step_0000005 --probe-batch fixed --probe-size 256"
                              " --probe-microbatch 64 --probe-dtype float64 --top-k 0 --density-runs 2"
                              " --density-steps 8 --layer-top-k 1 --tol 1e-10 --threads 1 --quiet --out ";
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks(offline, dir / "one.h5", dir / "two.h5"));
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + dir / "on.h5" + R"(", "r")
assert list(f["density/step"][:]) == list(f["probes/step"][:]) == [0, 2, 4]
assert f["density/nodes"].shape == (3, 12)
w = f["density/weights"][:].reshape(3, 2, 6)
assert np.allclose(w.sum(axis=2), 1.0, atol=1e-9), w.sum(axis=2)
assert f["probes/layer_eigvals"].shape == (3, 3, 1)
assert list(f["probes/layer_eigvals"].attrs["blocks"]) == ["net.0", "net.2", "net.4"]
a, b = h5py.File(")" + dir / "one.h5" + R"(", "r"), h5py.File(")" + dir / "two.h5" + R"(", "r")
assert b["probes"].attrs["world_size"] == 2
na, nb = a["density/nodes"][:], b["density/nodes"][:]
assert np.allclose(na, nb, rtol=1e-8, atol=1e-10), np.abs(na - nb).max()
assert np.allclose(a["density/weights"][:], b["density/weights"][:], rtol=1e-6, atol=1e-9)
assert np.allclose(a["probes/layer_eigvals"][:], b["probes/layer_eigvals"][:], rtol=1e-8)
assert a["density/hvp_count"][0] == b["density/hvp_count"][0] == 16
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(DensityCli, BadDensityAndLayerOptionsExitTwoBeforeAnyOutput) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  // BN block net.4 has 2 x 16 = 32 parameters.
  for (const std::string& args : {std::string("--density-runs 2"), std::string("--density-steps 5"),
                                  std::string("--density-runs -1 --density-steps 5"),
                                  std::string("--density-runs 2 --density-steps 100000000"),
                                  std::string("--layer-top-k 32"), std::string("--layer-top-k -1")}) {
    auto r = bnl("probe" + kSmall + " --bn custom " + args + " --out " + dir / "x.h5");
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.h5")) << args;
  }
  auto r = bnl("probe" + kSmall + " --bn custom --layer-top-k 32 --out " + dir / "x.h5");
  EXPECT_NE(r.output.find("net.4"), std::string::npos) << r.output;
}
