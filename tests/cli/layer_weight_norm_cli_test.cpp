// /train/steps/layer_weight_norm (issue 24, section 2): the row of a checkpoint's step holds the
// norms of exactly the weights that checkpoint stored, per layer in layer_grad_norm's columns;
// the scale-invariant layers (Linear before BN) are listed, and none without BN.
#include <gtest/gtest.h>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 1000 --test-subset 300 --hidden-dims 64,32 --epochs 2 --quiet"
    " --checkpoint-every 5";

// Python check of `path`: layer_weight_norm at every checkpoint's step (the last one has no
// row: no step follows it) against float64 norms of the checkpoint's tensors per layer.
std::string check(const std::string& path, const std::string& invariant) {
  return R"(
import h5py, numpy as np
f = h5py.File(")" + path + R"(", "r")
s = f["train/steps"]
w = s["layer_weight_norm"]
layers = [str(x) for x in w.attrs["layers"]]
assert layers == [str(x) for x in s["layer_grad_norm"].attrs["layers"]], layers
assert w.shape == s["layer_grad_norm"].shape, w.shape
assert w.attrs["dims"] == "step,layer"
assert [str(x) for x in w.attrs["scale_invariant"]] == )" + invariant + R"(, list(w.attrs["scale_invariant"])
assert w.attrs["units"] == "1"
steps = list(s["step"][:])
checked = 0
for name in f["checkpoints"]:
    g = f["checkpoints"][name]
    step = int(g.attrs["step"])
    if step not in steps:
        continue
    row = w[steps.index(step)]
    for j, layer in enumerate(layers):
        sq = sum(float(np.sum(np.asarray(g[k], dtype=np.float64) ** 2)) for k in g
                 if isinstance(g[k], h5py.Dataset) and k.rsplit(".", 1)[0] == layer
                 and k.rsplit(".", 1)[1] in ("weight", "bias", "gamma", "beta"))
        assert abs(row[j] - np.sqrt(sq)) <= 1e-6 * np.sqrt(sq), (step, layer, row[j], np.sqrt(sq))
    # The weights move: the norms of the step before are not these.
    assert np.any(w[steps.index(step) - 1] != row)
    checked += 1
assert checked == 3, checked   # steps 5, 10, 15 (16 ends the run)
print("ok")
)";
}

}  // namespace

TEST(LayerWeightNormCli, RowsAtCheckpointStepsAreTheNormsOfTheCheckpointWeights) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  for (const std::string bn : {"custom", "none"}) {
    SCOPED_TRACE(bn);
    const std::string out = dir / ("run_" + bn + ".h5");
    auto r = bnl("train" + kSmall + " --bn " + bn + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    auto py = python(check(out, bn == "custom" ? R"(["net.0", "net.3"])" : "[]"));
    EXPECT_EQ(py.code, 0) << py.output;
  }
}
