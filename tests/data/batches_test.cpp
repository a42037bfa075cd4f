// Batching: seeded permutations, partial and singleton last batches, normalisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <sstream>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "bnlandscape/data/batches.h"
#include "cli/cli_test_util.h"

using namespace bnl::data;

TEST(Batches, PermutationIsAPermutationAndAPureFunctionOfSeedAndEpoch) {
  auto p = epoch_permutation(1000, 7, 2);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_EQ(p, epoch_permutation(1000, 7, 2));
  EXPECT_NE(p, epoch_permutation(1000, 7, 3));
  EXPECT_NE(p, epoch_permutation(1000, 8, 2));
  EXPECT_NE(p, iota);
}

TEST(Batches, LoaderPermutationIsAPermutationAndLeavesItsStartAlone) {
  auto start = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto before = start.get_state();
  auto p = loader_permutation(1000, start, 2);
  EXPECT_TRUE(torch::equal(start.get_state(), before));
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_EQ(p, loader_permutation(1000, start, 2));
  EXPECT_NE(p, loader_permutation(1000, start, 1));
  EXPECT_NE(p, loader_permutation(1000, at::make_generator<at::CPUGeneratorImpl>(8), 2));
  EXPECT_THROW(loader_permutation(10, start, -1), c10::Error);
}

// The reference is PyTorch itself: DataLoader(shuffle=True) over three epochs after a seed and
// some draws standing in for a model's initialisation.
TEST(Batches, LoaderPermutationIsPyTorchsDataLoaderOrder) {
  const std::string script = R"PY(
import torch
from torch.utils.data import DataLoader
torch.manual_seed(11)
torch.rand(5)
loader = DataLoader(list(range(1000)), batch_size=64, shuffle=True)
for epoch in range(3):
    print(" ".join(str(int(i)) for b in loader for i in b))
)PY";
  const auto py = bnl_test::python(script);
  if (py.code != 0) GTEST_SKIP() << BNL_PYTHON << " cannot run PyTorch (python3-torch): " << py.output;
  const std::string& out = py.output;
  torch::manual_seed(11);
  torch::rand({5});
  const auto start = at::detail::getDefaultCPUGenerator().clone();
  std::istringstream lines(out);
  std::string line;
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    ASSERT_TRUE(std::getline(lines, line)) << out;
    std::istringstream values(line);
    std::vector<std::int64_t> expected;
    for (std::int64_t v; values >> v;) expected.push_back(v);
    EXPECT_EQ(loader_permutation(1000, start, epoch), expected) << "epoch " << epoch;
  }
}

TEST(Batches, BoundsKeepThePartialLastBatchAndDropASingleton) {
  auto b = batch_bounds(60000, 128, false);
  EXPECT_EQ(b.size(), 469u);  // the original's 469 steps per Fashion-MNIST epoch
  EXPECT_EQ(b.back().second - b.back().first, 96);
  auto s = batch_bounds(257, 128, true);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.back().second, 256);
  EXPECT_EQ(batch_bounds(257, 128, false).size(), 3u);
  EXPECT_THROW(batch_bounds(10, 0, false), c10::Error);
}

TEST(Batches, GatherNormalisesPerChannel) {
  ImageSet set;
  set.n = 3;
  set.channels = 2;
  set.height = 1;
  set.width = 2;
  set.pixels = {0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  set.labels = {4, 5, 6};
  Normalization norm{{0.5f, 0.25f}, {0.5f, 0.25f}};
  std::vector<std::int64_t> idx{2, 0};
  auto x = gather_images(set, norm, idx.data(), 2);
  ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{2, 2, 1, 2}));
  auto expect = [&](int img, int c, int p) {
    return (set.pixels[img * 4 + c * 2 + p] / 255.0 - norm.mean[c]) / norm.std[c];
  };
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 2; ++p) EXPECT_NEAR(x[b][c][0][p].item<double>(), expect(idx[b], c, p), 1e-5);
  auto y = gather_labels(set, idx.data(), 2);
  EXPECT_EQ(y[0].item<std::int64_t>(), 6);
  EXPECT_EQ(y[1].item<std::int64_t>(), 4);
  auto first = take_first(set, 2);
  EXPECT_EQ(first.n, 2);
  EXPECT_EQ(first.pixels.size(), 8u);
}

// float32 values (a tensor dataset) are normalised as stored, without the 1/255 of uint8
// pixels; labels beyond 255 survive (they are int64).
TEST(Batches, GatherNormalisesFloatValuesWithoutScaling) {
  ImageSet set;
  set.n = 3;
  set.channels = 2;
  set.height = 1;
  set.width = 2;
  set.values = {0.f, 1.f, -2.f, 3.5f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, -11.f};
  set.labels = {300, 1, 2};
  ASSERT_TRUE(set.is_float());
  Normalization norm{{0.5f, -1.0f}, {2.0f, 0.25f}};
  std::vector<std::int64_t> idx{2, 0};
  auto x = gather_images(set, norm, idx.data(), 2, torch::kFloat64);
  ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{2, 2, 1, 2}));
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 2; ++p)
        EXPECT_NEAR(x[b][c][0][p].item<double>(), (set.values[idx[b] * 4 + c * 2 + p] - norm.mean[c]) / norm.std[c], 1e-5);
  EXPECT_EQ(gather_labels(set, idx.data(), 2)[1].item<std::int64_t>(), 300);
  auto first = take_first(set, 2);
  EXPECT_EQ(first.n, 2);
  EXPECT_TRUE(first.pixels.empty());
  EXPECT_EQ(first.values, std::vector<float>(set.values.begin(), set.values.begin() + 8));
}

// --pad-to: the normalised image sits centred in zeros, as torch.nn.functional.pad(x, (l, r, t, b))
// with l = (P - W) / 2 and t = (P - H) / 2 rounded down (F.pad(x, (2, 2, 2, 2)) for 28 -> 32);
// an odd margin puts the extra row and column after the image. Unpadded batches stay as before.
TEST(Batches, GatherPadsNormalisedImagesWithZerosCentred) {
  ImageSet set;
  set.n = 2;
  set.channels = 2;
  set.height = 2;
  set.width = 3;
  for (int i = 0; i < 24; ++i) set.pixels.push_back(static_cast<std::uint8_t>(10 * i + 3));
  set.labels = {0, 1};
  Normalization norm{{0.25f, 0.75f}, {0.5f, 2.0f}};
  std::vector<std::int64_t> idx{1, 0};
  const auto plain = gather_images(set, norm, idx.data(), 2, torch::kFloat64);
  for (std::int64_t p : {3, 4, 5}) {
    norm.pad_to = p;
    const auto x = gather_images(set, norm, idx.data(), 2, torch::kFloat64);
    ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{2, 2, p, p}));
    const std::int64_t top = (p - 2) / 2, left = (p - 3) / 2;
    // The reference: libtorch's constant_pad_nd, the op behind F.pad.
    const auto ref = torch::constant_pad_nd(plain, {left, p - 3 - left, top, p - 2 - top}, 0.0);
    EXPECT_TRUE(torch::equal(x, ref)) << "pad_to " << p;
    EXPECT_EQ(model_height(set, norm), p);
    EXPECT_EQ(model_width(set, norm), p);
  }
  norm.pad_to = 5;
  const auto x = gather_images(set, norm, idx.data(), 2);
  // Hand-checked corner cases of the 5x5 frame: one zero row above and two below the 2 rows; one
  // zero column left, one right of the 3 columns.
  EXPECT_EQ(x[0][0][0][1].item<float>(), 0.0f);
  EXPECT_EQ(x[0][0][3][1].item<float>(), 0.0f);
  EXPECT_EQ(x[0][0][1][0].item<float>(), 0.0f);
  EXPECT_NEAR(x[0][0][1][1].item<float>(), (set.pixels[12] / 255.0 - 0.25) / 0.5, 1e-6);
  EXPECT_NEAR(x[0][1][2][3].item<float>(), (set.pixels[12 + 6 + 5] / 255.0 - 0.75) / 2.0, 1e-6);
  norm.pad_to = 2;  // smaller than the width 3
  EXPECT_THROW(gather_images(set, norm, idx.data(), 2), c10::Error);
}
