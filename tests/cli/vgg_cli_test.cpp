// `--arch vgg` end to end: the paper's VGG configs train (and probe, Figure 4) on generated
// CIFAR-10 binary batches read by the real reader; --device on this CPU-only libtorch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

// CIFAR-10 binary layout (cifar-10-batches-bin): records of 1 label byte + 3072 pixel bytes.
void write_cifar_bin(const std::string& dir, std::int64_t per_batch) {
  std::filesystem::create_directories(dir + "/cifar-10-batches-bin");
  std::mt19937 rng(7);
  const char* names[] = {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"};
  for (const char* n : names) {
    std::ofstream f(dir + "/cifar-10-batches-bin/" + n + ".bin", std::ios::binary);
    for (std::int64_t r = 0; r < per_batch; ++r) {
      const auto label = static_cast<char>(rng() % 10);
      f.put(label);
      // A class-dependent mean, so a few steps can learn something.
      for (int i = 0; i < 3072; ++i) f.put(static_cast<char>((label * 20 + rng() % 56) & 0xff));
    }
  }
}

const std::string kTiny =
    " --train-subset 96 --test-subset 20 --batch-size 16 --width-mult 0.125 --epochs 1 --quiet";

}  // namespace

TEST(VggCli, PaperConfigsTrainOnGeneratedCifar) {
  TempDir dir;
  write_cifar_bin(dir / "cifar", 20);
  for (const std::string name : {"vgg_cifar10_bn", "vgg_cifar10_nobn"}) {
    const std::string out = dir / (name + ".h5");
    auto r = bnl("train --config " + std::string(BNL_SOURCE_DIR) + "/configs/paper/" + name + ".toml --data-dir " +
                 dir / "cifar" + kTiny + " --out " + out);
    ASSERT_EQ(r.code, 0) << name << ": " << r.output;
    ASSERT_TRUE(std::filesystem::exists(out)) << name;
    if (!have_h5py()) continue;
    auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + out + R"(", "r")
assert f.attrs["status"] == "complete", f.attrs["status"]
assert len(f["train/steps/loss"]) == 6, len(f["train/steps/loss"])
assert np.all(np.isfinite(f["train/steps/loss"][:]))
assert f.attrs["device"] == "cpu", f.attrs["device"]          # --device auto on a CPU-only libtorch
assert f.attrs["device_name"] != "", f.attrs["device_name"]
assert f.attrs["torch_build"].startswith("libtorch ") and f.attrs["torch_build"].endswith("CUDA no"), f.attrs["torch_build"]
assert f.attrs["step_engine"] == "autograd"
c = f.attrs["config_toml"]
assert 'arch = "vgg"' in c and 'width_mult = 0.125' in c and 'device = "auto"' in c, c
ck = [k for k in f["checkpoints"].keys()][-1]
g = f["checkpoints"][ck]
assert g["features.0.weight"].shape == (8, 3, 3, 3), g["features.0.weight"].shape
assert g["classifier.weight"].shape == (10, 64), g["classifier.weight"].shape
bn = ")" + name + R"(" == "vgg_cifar10_bn"
assert ("features.1.running_mean" in g) == bn
if bn:
    assert g["features.1.num_batches_tracked"][()] == 6, g["features.1.num_batches_tracked"][()]
try:
    import torch, torchvision
except ImportError:
    print("no torchvision")
else:
    # The README's recipe: the checkpoint loads, strictly, into torchvision's layers.
    from torchvision.models.vgg import make_layers
    cfg = [v if v == 'M' else max(1, int(v * 0.125 + 0.5)) for v in [64,'M',128,'M',256,256,'M',512,512,'M',512,512,'M']]
    m = torch.nn.Sequential()
    m.features = make_layers(cfg, batch_norm=bn)
    m.classifier = torch.nn.Linear(64, 10)
    m.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in g.items() if k != "_state"})
print("ok")
)");
    EXPECT_EQ(py.code, 0) << name << ": " << py.output;
  }
}

TEST(VggCli, Figure4ProbeConfigProbesTheVgg) {
  TempDir dir;
  write_cifar_bin(dir / "cifar", 20);
  const std::string cfg = std::string(BNL_SOURCE_DIR) + "/configs/paper/";
  const std::string out = dir / "p.h5";
  auto r = bnl("probe --config " + cfg + "vgg_cifar10_bn.toml --config " + cfg + "vgg_figure4_probe.toml --data-dir " +
               dir / "cifar" + kTiny + " --step-interval 3 --tol 1e-2 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  if (!have_h5py()) return;
  auto py = python(R"(
import h5py, numpy as np
g = h5py.File(")" + out + R"(", "r")["probes"]
assert list(g["step"][:]) == [0, 3, 5], list(g["step"][:])
for k in ["loss", "grad_norm", "beta_smoothness"]:
    assert np.all(np.isfinite(g[k][:])), (k, g[k][:])
assert np.all(g["eigvals"][:, 0] > 0), g["eigvals"][:]
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(VggCli, DeviceCudaWithoutCudaIsExitTwoOnOneLine) {
  TempDir dir;
  write_cifar_bin(dir / "cifar", 4);
  auto r = bnl("train --dataset cifar10 --data-dir " + dir / "cifar" +
               " --arch vgg --width-mult 0.125 --epochs 1 --batch-size 4 --quiet --device cuda --out " + dir / "c.h5");
  // Where libtorch has CUDA and a GPU this is a valid run: nothing to check here.
  if (r.code == 0) GTEST_SKIP() << "libtorch has CUDA here";
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--device cuda: this build of libtorch has no CUDA (torch::cuda::is_available() is false)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "c.h5"));
  auto bad = bnl("train --device tpu --out " + dir / "d.h5");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--device"), std::string::npos) << bad.output;
  auto vgg = bnl("train --arch vgg --vgg-config 64,X --out " + dir / "e.h5");
  EXPECT_EQ(vgg.code, 2) << vgg.output;
  EXPECT_NE(vgg.output.find("vgg-config"), std::string::npos) << vgg.output;
  auto wm = bnl("train --arch vgg --width-mult 0 --out " + dir / "f.h5");
  EXPECT_EQ(wm.code, 2) << wm.output;
  EXPECT_NE(wm.output.find("--width-mult"), std::string::npos) << wm.output;
}
