// Batch accuracy against at::argmax on random logits, ties, NaNs and dtypes.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "bnlandscape/train/metrics.h"

using namespace bnl;

namespace {

double reference(const torch::Tensor& logits, const torch::Tensor& y) {
  return logits.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

TEST(BatchAccuracy, EqualsArgmaxEqMean) {
  torch::manual_seed(7);
  for (const std::int64_t n : {1, 2, 31, 128}) {
    for (const std::int64_t k : {1, 2, 10}) {
      const auto logits = torch::randn({n, k});
      const auto y = torch::randint(k, {n}, torch::kInt64);
      EXPECT_DOUBLE_EQ(train::batch_accuracy(logits, y), reference(logits, y)) << n << "x" << k;
      const auto l64 = logits.to(torch::kFloat64);
      EXPECT_DOUBLE_EQ(train::batch_accuracy(l64, y), reference(l64, y));
      // A non-contiguous view and logits that carry autograd history.
      const auto wide = torch::randn({k, n}).t();
      EXPECT_DOUBLE_EQ(train::batch_accuracy(wide, y), reference(wide, y));
      const auto tracked = logits.clone().requires_grad_() * 2;
      EXPECT_DOUBLE_EQ(train::batch_accuracy(tracked, y), reference(tracked.detach(), y));
    }
  }
}

TEST(BatchAccuracy, TiesGoToTheFirstIndexAndNanCountsAsLargest) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto logits = torch::tensor({1.f, 3.f, 3.f,      // tie: index 1
                                     nan, 5.f, 1.f,      // NaN first: index 0
                                     2.f, nan, 9.f,      // NaN beats 9: index 1
                                     0.f, 0.f, 0.f})     // all equal: index 0
                          .reshape({4, 3});
  const auto y = torch::tensor({1, 0, 1, 0}, torch::kInt64);
  EXPECT_DOUBLE_EQ(reference(logits, y), 1.0);  // what the rule mirrors
  EXPECT_DOUBLE_EQ(train::batch_accuracy(logits, y), 1.0);
  const auto wrong = torch::tensor({2, 1, 2, 1}, torch::kInt64);
  EXPECT_DOUBLE_EQ(train::batch_accuracy(logits, wrong), 0.0);
}

TEST(BatchAccuracy, EmptyBatchIsZeroAndBadShapesThrow) {
  EXPECT_EQ(train::batch_accuracy(torch::zeros({0, 10}), torch::zeros({0}, torch::kInt64)), 0.0);
  EXPECT_THROW(train::batch_accuracy(torch::zeros({4, 10}), torch::zeros({3}, torch::kInt64)), c10::Error);
  EXPECT_THROW(train::batch_accuracy(torch::zeros({4}), torch::zeros({4}, torch::kInt64)), c10::Error);
}
