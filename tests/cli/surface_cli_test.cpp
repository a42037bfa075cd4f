// `bnlandscape surface` end to end on a small Fashion-MNIST MLP: the centre equals the loss
// `train` recorded, the stored directions have the weights' filter norms, the gradient line
// equals `probe`'s loss_path, two ranks write the grid one process writes, --resume computes
// only the missing cells, --directions-from reuses the directions bit for bit.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <sstream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kTrain =
    " --dataset fashion-mnist --train-subset 1024 --test-subset 256 --hidden-dims 32,16 --bn custom --threads 1";

class SurfaceCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion() || !have_h5py()) return;
    dir_ = std::make_unique<TempDir>();
    // 8 steps, checkpoints at steps 4 and 8.
    auto t = bnl("train" + kTrain + " --epochs 1 --checkpoint-every 4 --quiet --out " + ck());
    ASSERT_EQ(t.code, 0) << t.output;
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

std::unique_ptr<TempDir> SurfaceCli::dir_;

const std::string kFinal = "/checkpoints/step_0000008";

}  // namespace

TEST_F(SurfaceCli, CentreIsTheCheckpointsTestLossAndDirectionsHaveItsFilterNorms) {
  const std::string out = path("centre.h5");
  auto r = bnl(surface(kFinal, " --surface-set test --surface-size 256 --probe-bn-mode eval --resolution 5 --seed 3", out));
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
s, t = h5py.File(")" + out + R"(", "r"), h5py.File(")" + ck() + R"(", "r")
g = s["surface"]
assert s.attrs["status"] == "complete" and s.attrs["format"] == "bnlandscape", dict(s.attrs)
assert "config_toml" in s.attrs and s.attrs["checkpoint_group"] == ")" + kFinal + R"("
assert g.attrs["probe_bn_mode"] == "eval" and g.attrs["dims"] == 2 and g.attrs["directions"] == "filter-random"
assert g.attrs["surface_size"] == 256 and g.attrs["world_size"] == 1
np.testing.assert_array_equal(g["alpha"][()], [-1, -0.5, 0, 0.5, 1])
np.testing.assert_array_equal(g["beta"][()], g["alpha"][()])
loss, acc = g["loss"][()], g["acc"][()]
assert loss.shape == (5, 5) and np.all(np.isfinite(loss)) and np.all(np.isfinite(acc)), loss
# The centre is the checkpoint: train evaluated the same 256 test examples in evaluation mode.
ep = t["train/epochs"]
assert abs(loss[2, 2] - ep["test_loss"][-1]) < 1e-5 * ep["test_loss"][-1], (loss[2, 2], ep["test_loss"][-1])
assert acc[2, 2] == ep["test_acc"][-1], (acc[2, 2], ep["test_acc"][-1])
assert loss.max() > loss[2, 2] + 0.01, loss
w = t["checkpoints/step_0000008"]
norms = []
for axis in ("x", "y"):
    d = g["directions/" + axis]
    params = set(k for k in w if isinstance(w[k], h5py.Dataset) and "running" not in k and "num_batches" not in k)
    assert set(d.keys()) == params, (list(d), list(w))
    sq = 0.0
    for k in d:
        dv, wv = d[k][()].astype(np.float64), w[k][()].astype(np.float64)
        assert dv.shape == wv.shape and d[k].dtype == np.float32
        if dv.ndim == 1:
            assert not dv.any(), k
        else:
            np.testing.assert_allclose(np.linalg.norm(dv.reshape(len(dv), -1), axis=1),
                                       np.linalg.norm(wv.reshape(len(wv), -1), axis=1), rtol=1e-5, err_msg=k)
        sq += (dv ** 2).sum()
    norms.append(np.sqrt(sq))
np.testing.assert_allclose(g["direction_norms"][()], norms, rtol=1e-6)
assert not np.array_equal(g["directions/x/net.0.weight"][()], g["directions/y/net.0.weight"][()])
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfaceCli, GradientLineEqualsProbeLossPath) {
  const std::string out = path("grad.h5");
  auto r = bnl(surface(kFinal,
                       " --directions gradient --dims 1 --range 0,0.9 --resolution 4 --surface-set train"
                       " --surface-size 512 --surface-batch 1024 --probe-bn-mode train",
                       out));
  ASSERT_EQ(r.code, 0) << r.output;
  // Step sizes s = alpha / ||g|| put probe's w - s g on the surface's points.
  auto steps = python(R"(
import h5py
g = h5py.File(")" + out + R"(", "r")["surface"]
assert g["loss"].shape == (4,) and "beta" not in g and "y" not in g["directions"]
G = g.attrs["gradient_norm"]
print(",".join(repr(a / G) for a in g["alpha"][1:]), end="")
)");
  ASSERT_EQ(steps.code, 0) << steps.output;
  const std::string probe_out = path("grad_probe.h5");
  auto p = bnl("probe --checkpoint " + ck() + " --checkpoint-group " + kFinal +
               " --probe-batch fixed --probe-size 512 --top-k 0 --threads 1 --quiet --step-sizes " + steps.output +
               " --out " + probe_out);
  ASSERT_EQ(p.code, 0) << p.output;
  auto py = python(R"(
import h5py, numpy as np
s, p = h5py.File(")" + out + R"(", "r")["surface"], h5py.File(")" + probe_out + R"(", "r")["probes"]
loss = s["loss"][()]
assert abs(loss[0] - p["loss"][0]) < 1e-6 * loss[0], (loss[0], p["loss"][0])
assert abs(s.attrs["gradient_norm"] - p["grad_norm"][0]) < 1e-4 * p["grad_norm"][0]
np.testing.assert_allclose(loss[1:], p["loss_path"][0], rtol=1e-5)
assert loss[1] < loss[0], loss
np.testing.assert_allclose(s["direction_norms"][()], [1.0], rtol=1e-6)
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfaceCli, TwoRanksWriteTheGridOfOneProcess) {
  const std::string args = " --surface-size 300 --surface-batch 128 --resolution 5 --range -0.5,1 --seed 5";
  auto one = bnl(surface(kFinal, args, path("one.h5")));
  ASSERT_EQ(one.code, 0) << one.output;
  auto two = bnl("launch --nproc 2 -- " + surface(kFinal, args, path("two.h5")));
  ASSERT_EQ(two.code, 0) << two.output;
  auto py = python(R"(
import h5py, numpy as np
a, b = h5py.File(")" + path("one.h5") + R"(", "r")["surface"], h5py.File(")" + path("two.h5") + R"(", "r")["surface"]
assert a.attrs["world_size"] == 1 and b.attrs["world_size"] == 2
for k in ("loss", "acc", "alpha", "beta", "direction_norms"):
    assert np.array_equal(a[k][()], b[k][()]), (k, a[k][()], b[k][()])
assert np.all(np.isfinite(b["loss"][()]))
for k in a["directions/x"]:
    assert np.array_equal(a["directions/x"][k][()], b["directions/x"][k][()]), k
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfaceCli, ResumeComputesOnlyTheMissingCells) {
  const std::string full = path("full.h5"), part = path("part.h5");
  auto r = bnl(surface(kFinal, " --surface-size 256 --resolution 5", full));
  ASSERT_EQ(r.code, 0) << r.output;
  // An interrupted run: some cells NaN, status interrupted; one computed cell marked so that a
  // recomputation would show.
  auto cut = python(R"(
import h5py, numpy as np, shutil
shutil.copy(")" + full + R"(", ")" + part + R"(")
with h5py.File(")" + part + R"(", "r+") as f:
    g = f["surface"]
    loss, acc = g["loss"][()], g["acc"][()]
    loss[3:, :] = np.nan; acc[3:, :] = np.nan
    loss[2, 4] = np.nan; acc[2, 4] = np.nan
    loss[0, 0] = 123.0
    g["loss"][...] = loss; g["acc"][...] = acc
    f.attrs["status"] = "interrupted"
)");
  ASSERT_EQ(cut.code, 0) << cut.output;
  auto res = bnl("surface --resume " + part + " --quiet");
  ASSERT_EQ(res.code, 0) << res.output;
  auto py = python(R"(
import h5py, numpy as np
a, b = h5py.File(")" + full + R"(", "r"), h5py.File(")" + part + R"(", "r")
assert b.attrs["status"] == "complete"
la, lb = a["surface/loss"][()], b["surface/loss"][()]
assert lb[0, 0] == 123.0, lb[0, 0]
lb[0, 0] = la[0, 0]
assert np.array_equal(la, lb), (la, lb)
assert np.array_equal(a["surface/acc"][()], b["surface/acc"][()])
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
  // A complete surface has nothing to continue.
  auto again = bnl("surface --resume " + part + " --quiet");
  EXPECT_EQ(again.code, 2) << again.output;
}

TEST_F(SurfaceCli, DirectionsFromReusesTheDirectionsBitForBit) {
  const std::string first = path("first.h5"), second = path("second.h5");
  auto a = bnl(surface(kFinal, " --surface-size 256 --resolution 3 --seed 1", first));
  ASSERT_EQ(a.code, 0) << a.output;
  // Another checkpoint and another seed: the directions must still be the first file's.
  auto b = bnl(surface("/checkpoints/step_0000004", " --surface-size 256 --resolution 3 --seed 2 --directions-from " + first,
                       second));
  ASSERT_EQ(b.code, 0) << b.output;
  auto py = python(R"(
import h5py, numpy as np
a, b = h5py.File(")" + first + R"(", "r")["surface"], h5py.File(")" + second + R"(", "r")["surface"]
assert b.attrs["directions_from"] == ")" + first + R"(" and b.attrs["directions"] == "filter-random"
n = 0
for axis in ("x", "y"):
    for k in a["directions"][axis]:
        assert np.array_equal(a["directions"][axis][k][()], b["directions"][axis][k][()]), (axis, k)
        n += 1
assert n >= 8, n
assert not np.array_equal(a["loss"][()], b["loss"][()])
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfaceCli, EigenDirectionsAreUnitAndRecordTheirEigenvalues) {
  const std::string out = path("eigen.h5");
  auto r = bnl(surface(kFinal, " --directions eigen --surface-size 256 --resolution 3 --eigen-tol 1e-4", out));
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
g = h5py.File(")" + out + R"(", "r")["surface"]
ev = g["eigenvalues"][()]
assert ev.shape == (2,) and ev[0] >= ev[1] > 0, ev
assert g.attrs["eigen_converged"] == 1 and g.attrs["hvp_count"] > 0
np.testing.assert_allclose(g["direction_norms"][()], [1, 1], rtol=1e-5)
x = np.concatenate([g["directions/x"][k][()].ravel() for k in g["directions/x"]])
y = np.concatenate([g["directions/y"][k][()].ravel() for k in g["directions/y"]])
assert abs(x @ y) < 1e-3, x @ y
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST_F(SurfaceCli, BadOptionsExitWithUsageCode) {
  for (const std::string extra : {" --dims 3", " --directions gradient --dims 2", " --range 1,-1", " --surface-set val",
                                  " --probe-bn-mode batch", " --resolution 0"}) {
    auto r = bnl(surface(kFinal, extra, path("bad.h5")));
    EXPECT_EQ(r.code, 2) << extra << ": " << r.output;
    EXPECT_NE(r.output.find("expected"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(path("bad.h5")));
}
