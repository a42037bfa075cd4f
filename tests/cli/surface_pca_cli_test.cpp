// `bnlandscape surface --directions pca --trajectory` end to end on a small Fashion-MNIST MLP
// trained with a checkpoint every 2 steps (Li et al. 2018, section 7): the centre checkpoint's
// path point is (0, 0) with the loss `train` recorded for it, every path point's loss is that of
// an independent surface at its checkpoint, the coordinates are the projections of the
// checkpoints on the stored directions, the auto grid covers the path, two ranks write what one
// writes, --resume completes the path and the grid on the stored axes, `info` and the plots read
// the file, and a run with fewer than 3 checkpoints is refused with exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kTrain =
    " --dataset fashion-mnist --train-subset 1024 --test-subset 256 --hidden-dims 32,16 --bn custom --threads 1";
const std::string kCentre = "/checkpoints/step_0000008";

class SurfacePcaCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion() || !have_h5py()) return;
    dir_ = std::make_unique<TempDir>();
    // 8 steps: checkpoints at steps 2, 4, 6, 8; and a run with only two (steps 4, 8).
    auto t = bnl("train" + kTrain + " --epochs 1 --checkpoint-every 2 --quiet --out " + ck());
    ASSERT_EQ(t.code, 0) << t.output;
    auto s = bnl("train" + kTrain + " --epochs 1 --checkpoint-every 4 --quiet --out " + path("short.h5"));
    ASSERT_EQ(s.code, 0) << s.output;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
    if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  }
  static std::string ck() { return *dir_ / "ck.h5"; }
  static std::string path(const std::string& name) { return *dir_ / name; }
  static std::string surface(const std::string& group, const std::string& extra, const std::string& out) {
    return "surface --checkpoint " + ck() + " --checkpoint-group " + group + " --threads 1 --quiet" + extra +
           " --out " + out;
  }
  static std::unique_ptr<TempDir> dir_;
};

std::unique_ptr<TempDir> SurfacePcaCli::dir_;

const std::string kEvalArgs = " --directions pca --surface-set test --surface-size 256 --probe-bn-mode eval --resolution 5";

}  // namespace

TEST_F(SurfacePcaCli, CentreIsTheOriginWithItsTestLossAndThePathIsTheProjectionCoveredByTheGrid) {
  const std::string out = path("pca.h5");
  auto r = bnl(surface(kCentre, kEvalArgs, out));  // --trajectory: the --checkpoint file
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
s, t = h5py.File(")" + out + R"(", "r"), h5py.File(")" + ck() + R"(", "r")
g = s["surface"]
assert s.attrs["status"] == "complete", dict(s.attrs)
assert 'range = "auto"' in s.attrs["config_toml"] and 'trajectory = ")" + ck() + R"("' in s.attrs["config_toml"]
assert g.attrs["directions"] == "pca" and g.attrs["trajectory_file"] == ")" + ck() + R"("
groups = ["/checkpoints/step_%07d" % k for k in (2, 4, 6, 8)]
assert list(g.attrs["trajectory_checkpoints"]) == groups, g.attrs["trajectory_checkpoints"]
p = g["trajectory"]
assert p["step"].dtype == np.int64 and list(p["step"][()]) == [2, 4, 6, 8]
pa, pb, pl, pacc = p["alpha"][()], p["beta"][()], p["loss"][()], p["acc"][()]
# The centre (step 8) is (0, 0) exactly, with the test loss train recorded there (same 256
# examples, evaluation mode, the checkpoint's running statistics).
assert pa[3] == 0.0 and pb[3] == 0.0, (pa, pb)
ep = t["train/epochs"]
assert abs(pl[3] - ep["test_loss"][-1]) < 1e-5 * ep["test_loss"][-1], (pl[3], ep["test_loss"][-1])
assert pacc[3] == ep["test_acc"][-1], (pacc[3], ep["test_acc"][-1])
assert np.all(np.isfinite(pl)) and pl[0] > pl[3], pl
ev = g["explained_variance"][()]
assert ev.shape == (2,) and ev[0] >= ev[1] > 0 and ev.sum() <= 1 + 1e-9, ev
# Unit, orthogonal, over every parameter (biases and BN parameters included), not filter-normalised.
names = list(g["directions/x"])
x = np.concatenate([g["directions/x"][k][()].astype(np.float64).ravel() for k in names])
y = np.concatenate([g["directions/y"][k][()].astype(np.float64).ravel() for k in names])
assert abs(x @ x - 1) < 1e-6 and abs(y @ y - 1) < 1e-6 and abs(x @ y) < 1e-6, (x @ x, y @ y, x @ y)
assert any(g["directions/x"][k].ndim == 1 and np.any(g["directions/x"][k][()]) for k in names)
np.testing.assert_allclose(g["direction_norms"][()], [1, 1], rtol=1e-6)
# The coordinates are the projections of w_i - w_c on x and y (float32 directions: 1e-5).
wc = np.concatenate([t[groups[3]][k][()].astype(np.float64).ravel() for k in names])
scale = np.abs(np.concatenate([pa, pb])).max()
for i, grp in enumerate(groups):
    d = np.concatenate([t[grp][k][()].astype(np.float64).ravel() for k in names]) - wc
    assert abs(x @ d - pa[i]) < 1e-5 * scale and abs(y @ d - pb[i]) < 1e-5 * scale, (i, x @ d, pa[i], y @ d, pb[i])
# The auto grid covers the path and the centre, with a margin on both sides.
a, b = g["alpha"][()], g["beta"][()]
for axis, coord in ((a, pa), (b, pb)):
    lo, hi = min(coord.min(), 0), max(coord.max(), 0)
    assert axis[0] < lo and axis[-1] > hi, (axis, coord)
    np.testing.assert_allclose([axis[0], axis[-1]], [lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo)], rtol=1e-12)
assert np.all(np.isfinite(g["loss"][()])) and g["loss"].shape == (5, 5)
print("ok")
)");
  ASSERT_EQ(py.code, 0) << py.output;

  // `info` reads the new datasets back; the figure draws the path.
  auto info = bnl("info " + out);
  EXPECT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("integrity ok"), std::string::npos) << info.output;
  const std::string figs = path("figs");
  auto fig = sh(std::string("cd ") + BNL_SOURCE_DIR + " && " + BNL_PYTHON + " -m plots.surface " + out + " --out " + figs);
  ASSERT_EQ(fig.code, 0) << fig.output;
  auto drawn = python(R"(
import sys, os
sys.path.insert(0, ")" + std::string(BNL_SOURCE_DIR) + R"(")
import numpy as np, h5py
from plots import runs, surface
assert any(f.endswith(".png") for f in os.listdir(")" + figs + R"(")), os.listdir(")" + figs + R"(")
fig = surface.surface_figure(runs.Run(")" + out + R"("))
line = [l for l in fig.axes[0].lines if l.get_gid() == "trajectory"][0]
p = h5py.File(")" + out + R"(", "r")["surface/trajectory"]
assert np.array_equal(line.get_xdata(), p["alpha"][()]) and np.array_equal(line.get_ydata(), p["beta"][()])
lab = fig.axes[0].get_xlabel()
assert "PC1 (" in lab and lab[-2:] == "%" + chr(41), lab
print("ok")
)");
  EXPECT_EQ(drawn.code, 0) << drawn.output;
}

TEST_F(SurfacePcaCli, EveryPathPointIsTheLossAtItsCheckpoint) {
  // Batch statistics: the loss at w_i does not depend on whose running statistics the model holds.
  const std::string args = " --surface-set train --surface-size 300 --surface-batch 128 --probe-bn-mode train";
  const std::string out = path("pca_train.h5");
  auto r = bnl(surface(kCentre, " --directions pca --resolution 3 --trajectory " + ck() + args, out));
  ASSERT_EQ(r.code, 0) << r.output;
  // Independently: a 1-D surface centred on each checkpoint, whose alpha = 0 cell is w_i itself.
  std::string refs;
  for (const std::string step : {"2", "4", "6", "8"}) {
    const std::string ref = path("at_" + step + ".h5");
    auto a = bnl(surface("/checkpoints/step_000000" + step, " --dims 1 --range 0,1 --resolution 2" + args, ref));
    ASSERT_EQ(a.code, 0) << a.output;
    refs += "\"" + ref + "\", ";
  }
  auto py = python(R"(
import h5py, numpy as np
p = h5py.File(")" + out + R"(", "r")["surface/trajectory"]
for i, ref in enumerate([)" + refs + R"(]):
    g = h5py.File(ref, "r")["surface"]
    assert g["alpha"][0] == 0.0
    assert abs(p["loss"][i] - g["loss"][0]) <= 1e-6 * g["loss"][0], (i, p["loss"][i], g["loss"][0])
    assert p["acc"][i] == g["acc"][0], (i, p["acc"][i], g["acc"][0])
assert len(set(np.round(p["loss"][()], 6))) == 4, p["loss"][()]
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfacePcaCli, TwoRanksWriteWhatOneWritesAndResumeCompletesPathAndGridOnTheStoredAxes) {
  const std::string one = path("one.h5"), two = path("two.h5"), part = path("part.h5");
  const std::string cmd = surface(kCentre, " --directions pca --surface-size 200 --surface-batch 100 --resolution 4", "");
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks(cmd.substr(0, cmd.size() - 1), " " + one, " " + two));
  auto cut = python(R"(
import h5py, numpy as np, shutil
shutil.copy(")" + one + R"(", ")" + part + R"(")
with h5py.File(")" + part + R"(", "r+") as f:
    g = f["surface"]
    loss, acc = g["loss"][()], g["acc"][()]
    loss[2:, :] = np.nan; acc[2:, :] = np.nan
    g["loss"][...] = loss; g["acc"][...] = acc
    pl, pa = g["trajectory/loss"][()], g["trajectory/acc"][()]
    pl[1:3] = np.nan; pa[1:3] = np.nan
    pl[0] = 123.0  # computed: must stay
    g["trajectory/loss"][...] = pl; g["trajectory/acc"][...] = pa
    f.attrs["status"] = "interrupted"
)");
  ASSERT_EQ(cut.code, 0) << cut.output;
  auto res = bnl("surface --resume " + part + " --quiet");
  ASSERT_EQ(res.code, 0) << res.output;
  auto py = python(R"(
import h5py, numpy as np
a, b, c = (h5py.File(f, "r")["surface"] for f in (")" + one + R"(", ")" + two + R"(", ")" + part + R"("))
assert b.attrs["world_size"] == 2 and c.file.attrs["status"] == "complete"
for k in ("alpha", "beta", "loss", "acc", "explained_variance", "trajectory/step", "trajectory/alpha",
          "trajectory/beta", "trajectory/loss", "trajectory/acc"):
    assert np.array_equal(a[k][()], b[k][()]), (k, a[k][()], b[k][()])
    if k != "trajectory/loss":
        assert np.array_equal(a[k][()], c[k][()]), (k, a[k][()], c[k][()])
assert c["trajectory/loss"][0] == 123.0
assert np.array_equal(a["trajectory/loss"][1:], c["trajectory/loss"][1:])
assert a["alpha"][0] != -1.0, a["alpha"][()]  # the trajectory's axes, not the default range
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfacePcaCli, FewerThanThreeCheckpointsAndBadCombinationsExitWithUsageCode) {
  const std::string bad = path("bad.h5");
  auto r = bnl(surface(kCentre, " --directions pca --trajectory " + path("short.h5"), bad));
  EXPECT_EQ(r.code, 2) << r.output;
  for (const std::string what : {"expected at least 3 checkpoints", "got 2", "--checkpoint-every"})
    EXPECT_NE(r.output.find(what), std::string::npos) << what << ": " << r.output;
  auto own = bnl("surface --checkpoint " + path("short.h5") + " --checkpoint-group " + kCentre +
                 " --directions pca --threads 1 --quiet --out " + bad);  // the default --trajectory
  EXPECT_EQ(own.code, 2) << own.output;
  EXPECT_NE(own.output.find("got 2"), std::string::npos) << own.output;
  for (const std::string& extra : std::vector<std::string>{" --directions pca --dims 1", " --trajectory " + ck(), " --range auto",
                                  " --directions pca --directions-from " + ck()}) {
    auto b = bnl(surface(kCentre, extra, bad));
    EXPECT_EQ(b.code, 2) << extra << ": " << b.output;
    EXPECT_NE(b.output.find("expected"), std::string::npos) << b.output;
  }
  EXPECT_FALSE(std::filesystem::exists(bad));
}
