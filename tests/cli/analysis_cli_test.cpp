// --activations-every, --ics-every, --bn-noise and --bn lp* end to end: the /activations and
// /ics groups h5py reads, and runs whose training metrics do not depend on what is recorded.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 64,32 --epochs 1 --quiet";

/// Python that asserts every series of /train in files a and b is equal value for value.
std::string same_training(const std::string& a, const std::string& b) {
  return R"(
import h5py, numpy as np
fa, fb = h5py.File(")" + a + R"(", "r"), h5py.File(")" + b + R"(", "r")
for g in ["train/steps", "train/epochs"]:
    for k in fa[g]:
        if k == "wall_time":
            continue
        x, y = fa[g][k][()], fb[g][k][()]
        assert np.array_equal(x, y, equal_nan=True), (g, k, x[:3], y[:3])
)";
}

}  // namespace

TEST(AnalysisCli, ActivationsAndIcsAreRecordedAndLeaveTrainingUnchanged) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string base = "train" + kSmall + " --bn custom --bn-noise";
  auto plain = bnl(base + " --out " + dir / "plain.h5");
  ASSERT_EQ(plain.code, 0) << plain.output;
  auto rec = bnl(base + " --activations-every 2 --activation-bins 50 --ics-every 3 --out " + dir / "rec.h5");
  ASSERT_EQ(rec.code, 0) << rec.output;
  auto py = python(same_training(dir / "plain.h5", dir / "rec.h5") + R"(
f = fb
a = f["activations"]
idx = a["batch_indices"][()]
assert idx.shape == (128,) and idx.dtype == np.int64 and len(set(idx)) == 128 and idx.max() < 640
assert sorted(k for k in a if k != "batch_indices") == ["net.0", "net.3"], list(a)
for layer, width in [("net.0", 64), ("net.3", 32)]:
    assert sorted(a[layer]) == ["post_norm", "post_relu", "pre_norm"], list(a[layer])
    for site in a[layer]:
        g = a[layer][site]
        n = len(g["step"])
        assert list(g["step"][()]) == [0, 2, 4], list(g["step"][()])
        assert g["hist"].shape == (n, 50) and g["bin_edges"].shape == (51,)
        assert g["quantiles"].shape == (n, 7)
        for k in ["underflow", "overflow", "mean", "std", "zero_fraction"]:
            assert g[k].shape == (n,), (k, g[k].shape)
        total = g["hist"][()].sum(axis=1) + g["underflow"][()] + g["overflow"][()]
        assert np.all(total == 128 * width), total
        q = g["quantiles"][()]
        assert np.all(np.diff(q, axis=1) >= 0)
        assert "units" in g["hist"].attrs
    z = a[layer]["post_relu"]["zero_fraction"][()]
    assert np.all((z > 0.2) & (z < 0.8)), z
i = f["ics"]
assert list(i.attrs["layers"]) == ["net.0", "net.3", "net.6"], list(i.attrs["layers"])
assert list(i["step"][()]) == [0, 3], list(i["step"][()])
assert i["l2"].shape == (2, 3) and i["cos"].shape == (2, 3)
assert np.all(i["l2"][:, 0] == 0) and np.all(i["l2"][:, 1:] > 0)
assert np.all(np.abs(i["cos"][()]) <= 1 + 1e-12)
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(AnalysisCli, LpNormalisationAndNoiseTrainAndProbe) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  for (const std::string bn : {"lp1", "lp2", "lpinf"}) {
    auto r = bnl("train" + kSmall + " --bn " + bn + " --out " + dir / (bn + ".h5"));
    ASSERT_EQ(r.code, 0) << bn << ": " << r.output;
  }
  // The options belong to `probe` too; the probe's Hessian goes through LpNorm's double backward.
  auto p = bnl("probe" + kSmall + " --bn lpinf --bn-noise --activations-every 4 --step-interval 4 --top-k 1"
               " --out " + dir / "probe.h5");
  ASSERT_EQ(p.code, 0) << p.output;
  auto py = python(R"(
import h5py, numpy as np
for bn in ["lp1", "lp2", "lpinf"]:
    f = h5py.File(")" + dir.path.string() + R"(/" + bn + ".h5", "r")
    assert f.attrs["status"] == "complete"
    assert ('bn = "%s"' % bn) in f.attrs["config_toml"]
    # five steps; eval uses running statistics that are still close to their initial values
    assert f["train/epochs/test_acc"][0] > 0.2, (bn, f["train/epochs/test_acc"][0])
    assert "net.1.running_scale" in f["checkpoints/step_0000005"]
f = h5py.File(")" + dir / "probe.h5" + R"(", "r")
assert "bn_noise = true" in f.attrs["config_toml"]
lam = f["probes/eigvals"][()]
assert lam.shape[0] == 2 and np.all(np.isfinite(lam)), lam
assert "activations/net.0/post_norm" in f
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(AnalysisCli, BadOptionsExitTwoWithoutARunFile) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const std::string out = " --out " + dir / "bad.h5";
  struct Case {
    std::string args, message;
  } cases[] = {
      {" --bn none --bn-noise", "--bn-noise"},
      {" --bn-noise --bn-noise-mu -1", "--bn-noise-mu"},
      {" --activations-every -1", "--activations-every"},
      {" --activation-bins 0", "--activation-bins"},
      {" --activation-range 3,1", "--activation-range"},
      {" --activation-range 1", "--activation-range"},
      {" --ics-every 5 --ics-layers net.0,net.9", "net.9"},
      {" --bn lp3", "lp3"},
  };
  for (const auto& c : cases) {
    auto r = bnl("train" + kSmall + c.args + out);
    EXPECT_EQ(r.code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "bad.h5")) << c.args;
  }
  auto dump = bnl("train --bn lp2 --bn-noise --activations-every 20 --ics-every 10 --dump-config");
  ASSERT_EQ(dump.code, 0) << dump.output;
  for (const char* key : {"bn = \"lp2\"", "bn_noise = true", "bn_noise_mu = 0.5", "bn_noise_sigma = 0.25",
                          "activations_every = 20", "activation_bins = 180", "ics_every = 10", "ics_layers = \"\""})
    EXPECT_NE(dump.output.find(key), std::string::npos) << key << "\n" << dump.output;
}
