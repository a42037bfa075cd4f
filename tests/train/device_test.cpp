// --device: resolution and the provenance strings on this machine, and (only where libtorch has
// CUDA and a GPU is present; skipped with a message otherwise, never passed) a VGG trained on
// the GPU against the same run on the CPU.
#include "bnlandscape/train/device.h"

#include <gtest/gtest.h>

#include <random>

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/train/config.h"
#include "bnlandscape/train/trainer.h"

using namespace bnl;

namespace {

data::Dataset cifar_shaped(std::int64_t n_train, std::int64_t n_test) {
  data::Dataset d;
  d.name = "synthetic";
  d.norm = {{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
  std::mt19937 rng(3);
  auto fill = [&](data::ImageSet& s, std::int64_t n) {
    s.n = n;
    s.channels = 3;
    s.height = s.width = 8;
    for (std::int64_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(rng() % 10);
      s.labels.push_back(static_cast<std::uint8_t>(label));
      for (int p = 0; p < 3 * 64; ++p) s.pixels.push_back(static_cast<std::uint8_t>((label * 23 + rng() % 40) & 0xff));
    }
  };
  fill(d.train, n_train);
  fill(d.test, n_test);
  return d;
}

struct Losses : train::TrainObserver {
  std::vector<double> loss;
  void on_step(const train::StepRecord& r) override { loss.push_back(r.loss); }
};

std::vector<double> train_vgg(const std::string& device) {
  train::TrainConfig c;
  c.arch = "vgg";
  c.vgg_config = "16,M,32,M";
  c.batch_size = 16;
  c.epochs = 1;
  c.seed = 4;
  c.device = device;
  c.out = "unused.h5";
  models::ModelSpec s;
  s.arch = "vgg";
  s.in_channels = 3;
  s.input_size = 8;
  s.vgg_config = c.vgg_config;
  s.norm.kind = models::NormKind::Custom;
  torch::manual_seed(c.seed);
  auto model = models::make_model(s);
  static const auto data = cifar_shaped(96, 32);
  train::Trainer trainer(c, model, data);
  Losses obs;
  trainer.run(obs);
  EXPECT_EQ(trainer.device().str(), train::resolve_device(device).str());
  return obs.loss;
}

}  // namespace

TEST(Device, ResolutionOnThisBuild) {
  EXPECT_TRUE(train::resolve_device("cpu").is_cpu());
  EXPECT_THROW(train::resolve_device("tpu"), train::ConfigError);
  EXPECT_THROW(train::resolve_device(""), train::ConfigError);
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(train::resolve_device("cuda").is_cuda());
    EXPECT_TRUE(train::resolve_device("auto").is_cuda());
  } else {
    EXPECT_TRUE(train::resolve_device("auto").is_cpu());
    try {
      train::resolve_device("cuda");
      FAIL() << "expected a ConfigError";
    } catch (const train::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--device cuda: this build of libtorch has no CUDA", 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  EXPECT_FALSE(train::device_name(torch::kCPU).empty());
  const auto build = train::torch_build();
  EXPECT_EQ(build.rfind("libtorch ", 0), 0u) << build;
  const bool cuda_built = at::detail::getCUDAHooks().hasCUDART();
  EXPECT_EQ(build.find("CUDA no") != std::string::npos, !cuda_built) << build;
}

TEST(Device, AutoOnACpuOnlyBuildIsTheCpuRun) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present: auto is cuda here";
  const auto cpu = train_vgg("cpu");
  const auto aut = train_vgg("auto");
  ASSERT_EQ(cpu.size(), 6u);
  EXPECT_EQ(cpu, aut);  // bit for bit
}

TEST(DeviceCuda, VggTrainsOnTheGpuAsOnTheCpu) {
  if (!torch::cuda::is_available())
    GTEST_SKIP() << "no CUDA: libtorch " << TORCH_VERSION << " without CUDA or no GPU (scripts/test-cuda.sh runs this where one exists)";
  const auto cpu = train_vgg("cpu");
  const auto gpu = train_vgg("cuda");
  ASSERT_EQ(cpu.size(), gpu.size());
  // Same initial weights and batches; the arithmetic differs in rounding only.
  EXPECT_NEAR(gpu.front(), cpu.front(), 1e-5 * std::abs(cpu.front()));
  for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-3 * std::abs(cpu[i])) << i;
}
