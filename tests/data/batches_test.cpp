// Batching: seeded permutations, partial and singleton last batches, normalisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include <torch/torch.h>

#include "bnlandscape/data/batches.h"

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
