// `bnlandscape train` end to end: run files h5py can read, config files, exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 1000 --test-subset 300 --hidden-dims 64,32 --epochs 2 --quiet";

}  // namespace

TEST(TrainCli, WritesARunFileThatH5pyReads) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  auto r = bnl("train" + kSmall + " --bn custom --eval-every 4 --checkpoint-every 5 --out " + dir / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + dir / "run.h5" + R"(", "r")
a = f.attrs
assert a["format"] == "bnlandscape", a["format"]
assert a["status"] == "complete", a["status"]
assert int(a["diverged_at_step"]) == -1
for k in ["schema_version", "config_toml", "bnlandscape_version", "git_revision", "torch_version", "blas",
          "intra_op_threads", "blas_threads", "host", "seed", "start_time", "end_time", "data_files"]:
    assert k in a, k
assert 'bn = "custom"' in a["config_toml"]
assert a["step_engine"] == "fused", a["step_engine"]  # our BN on an MLP: the fused step
import re
assert re.fullmatch(r"[0-9a-f]{12}|unknown", a["git_revision"]), a["git_revision"]
assert "train-images-idx3-ubyte.gz" in a["data_files"]
s = f["train/steps"]
n = len(s["step"])
assert n == 2 * 8, n   # ceil(1000/128) = 8 steps per epoch
for k in ["step", "epoch", "loss", "acc", "grad_norm", "lr", "wall_time"]:
    assert s[k].shape == (n,), (k, s[k].shape)
    assert "units" in s[k].attrs and "description" in s[k].attrs, k
assert s["layer_grad_norm"].shape == (n, 5)
assert list(s["layer_grad_norm"].attrs["layers"]) == ["net.0", "net.1", "net.3", "net.4", "net.6"]
assert np.all(np.diff(s["step"][:]) == 1) and s["step"][0] == 0
assert np.all(np.isfinite(s["loss"][:]))
e = f["train/epochs"]
for k in ["epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc", "grad_norm_mean", "wall_time"]:
    assert e[k].shape == (2,), k
assert list(e["step"][:]) == [8, 16]
assert abs(e["train_loss"][0] - s["loss"][:8].mean()) < 1e-12
ev = f["train/evals"]
assert list(ev["step"][:]) == [4, 8, 12, 16], list(ev["step"][:])
ck = sorted(f["checkpoints"].keys())
assert ck == ["step_0000005", "step_0000010", "step_0000015", "step_0000016"], ck
g = f["checkpoints/step_0000016"]
assert g["net.0.weight"].shape == (64, 784) and g["net.0.weight"].dtype == np.float32
assert "net.1.running_mean" in g and "net.1.weight" in g and g["net.1.num_batches_tracked"][()] > 0
assert "_state" in g
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

// The reference is PyTorch in Python: after torch.manual_seed(s), the same model and
// DataLoader(shuffle=True), every step's batch loss must be ours, across an epoch boundary, with
// and without BatchNorm (nn.BatchNorm1d standing in for ours).
TEST(TrainCli, SameSeedAsPyTorchGivesPyTorchsWeightsAndBatches) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (python("import torch, h5py\n").code != 0) GTEST_SKIP() << "no python3 with torch and h5py";
  TempDir dir;
  for (const std::string bn : {"none", "custom"}) {
    const std::string out = dir / ("seed_" + bn + ".h5");
    auto r = bnl("train" + kSmall + " --bn " + bn + " --seed 3 --threads 1 --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    auto py = python(R"(
import gzip, h5py, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.set_num_threads(1)
D = "/usr/share/datasets/fashion-mnist/"
x = np.frombuffer(gzip.open(D + "train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 784)[:1000]
y = np.frombuffer(gzip.open(D + "train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)[:1000]
x = torch.tensor((x / 255.0 - 0.2860) / 0.3530, dtype=torch.float32)
y = torch.tensor(y.astype(np.int64))
bn = ")" + bn + R"(" == "custom"
torch.manual_seed(3)
layers, d = [], 784
for h in (64, 32):
    layers += [nn.Linear(d, h)] + ([nn.BatchNorm1d(h)] if bn else []) + [nn.ReLU()]
    d = h
net = nn.Sequential(*layers, nn.Linear(d, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.1)
loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
ref = []
for epoch in range(2):
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        ref.append(loss.item())
ours = h5py.File(")" + out + R"(", "r")["train/steps/loss"][:]
assert len(ours) == len(ref) == 16, (len(ours), len(ref))
gap = np.abs(np.array(ref) - ours)
assert gap.max() < 1e-4, list(zip(ref, ours))
print("ok", gap.max())
)");
    EXPECT_EQ(py.code, 0) << "--bn " << bn << ": " << py.output;
  }
}

TEST(TrainCli, ConfigFileAndCommandLineOverride) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  {
    std::ofstream cfg(dir / "c.toml");
    cfg << "# comment\nlr = 0.05\nhidden_dims = [64, 32]\nbn = 'none'\nepochs = 3\n";
  }
  auto r = bnl("train --config " + dir / "c.toml" + " --epochs 1 --dump-config");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("lr = 0.05"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hidden_dims = \"64,32\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epochs = 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bn = \"none\""), std::string::npos) << r.output;
  // Feeding the dump back gives the same configuration.
  {
    std::ofstream dump(dir / "dump.toml");
    dump << r.output;
  }
  auto again = bnl("train --config " + dir / "dump.toml" + " --dump-config");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(again.output, r.output);
}

TEST(TrainCli, UnknownConfigKeyIsAnErrorNamingIt) {
  TempDir dir;
  {
    std::ofstream cfg(dir / "c.toml");
    cfg << "lr = 0.05\nlrr = 0.1\n";
  }
  auto r = bnl("train --config " + dir / "c.toml" + " --out " + dir / "x.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("lrr"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("c.toml:2"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.h5"));
  {
    std::ofstream cfg(dir / "d.toml");
    cfg << "[train\nlr = 0.1\n";
  }
  EXPECT_EQ(bnl("train --config " + dir / "d.toml" + " --out " + dir / "x.h5").code, 2);
  EXPECT_EQ(bnl("train --config " + dir / "missing.toml" + " --out " + dir / "x.h5").code, 2);
}

TEST(TrainCli, BadOptionsExitTwoBeforeAnyOutput) {
  TempDir dir;
  const std::string out = " --out " + dir / "x.h5";
  struct Case {
    std::string args, needle;
  };
  for (const auto& c : std::vector<Case>{{"--lr -1", "--lr"},
                                         {"--lr abc", "lr"},
                                         {"--batch-size 0", "--batch-size"},
                                         {"--hidden-dims ''", "hidden-dims"},
                                         {"--dataset mnist", "--dataset"},
                                         {"--arch resnet", "--arch"},
                                         {"--bn batch", "--bn"},
                                         {"--epochs 0", "--epochs"},
                                         {"--step-engine manual", "--step-engine"},
                                         {"--no-such-flag 1", "no-such-flag"},
                                         {"--data-dir /nonexistent", "/nonexistent"}}) {
    auto r = bnl("train " + c.args + out);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.h5")) << c.args;
  }
  EXPECT_EQ(bnl("train --help").code, 0);
  EXPECT_EQ(bnl("").code, 2);
}

TEST(TrainCli, RefusesToOverwriteUnlessAsked) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  const std::string args = "train" + kSmall + " --epochs 1 --train-subset 256 --out " + dir / "r.h5";
  ASSERT_EQ(bnl(args).code, 0);
  auto again = bnl(args);
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_NE(again.output.find("r.h5"), std::string::npos) << again.output;
  EXPECT_EQ(bnl(args + " --overwrite").code, 0);
}

TEST(TrainCli, OutCreatesItsDirectoriesAndNamesOneItCannotMake) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  const std::string args = "train" + kSmall + " --epochs 1 --train-subset 256";
  auto made = bnl(args + " --out " + dir / "runs/a/b/c.h5");
  EXPECT_EQ(made.code, 0) << made.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "runs/a/b/c.h5"));
  // Under a regular file no directory can be made, for root too.
  std::ofstream(dir / "plain") << "x\n";
  const std::string bad = dir / "plain/x.h5";
  auto r = bnl(args + " --out " + bad);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--out " + bad + ": cannot create directory '" + dir / "plain" + "': Not a directory"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("lock file"), std::string::npos) << r.output;
}

TEST(TrainCli, DivergenceExitsThreeAndTheFileSaysSo) {
  if (!have_fashion()) GTEST_SKIP();
  if (!have_h5py()) GTEST_SKIP();
  TempDir dir;
  auto r = bnl("train" + kSmall + " --bn none --lr 1e12 --epochs 3 --out " + dir / "d.h5");
  ASSERT_EQ(r.code, 3) << r.output;
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + dir / "d.h5" + R"(", "r")
assert f.attrs["status"] == "diverged"
assert f.attrs["step_engine"] == "fused", f.attrs["step_engine"]  # no-BN MLP: the fused step diverges too
d = int(f.attrs["diverged_at_step"])
loss = f["train/steps/loss"][:]
assert d >= 0 and len(loss) == d + 1, (d, len(loss))
assert np.all(np.isfinite(loss[:-1])) and not np.isfinite(loss[-1])
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(TrainCli, CompareShowsBothRuns) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  ASSERT_EQ(bnl("train" + kSmall + " --epochs 1 --bn none --out " + dir / "a.h5").code, 0);
  ASSERT_EQ(bnl("train" + kSmall + " --epochs 1 --bn custom --out " + dir / "b.h5").code, 0);
  auto r = bnl("compare " + dir / "a.h5" + " " + dir / "b.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("custom"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("final test accuracy"), std::string::npos) << r.output;
}
