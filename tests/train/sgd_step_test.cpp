// The step's vector work (squared norms, plain SGD update) against float64 references and
// torch::optim::SGD, on the BLAS path (float32 contiguous) and the ATen fallbacks.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "bnlandscape/train/sgd_step.h"

using namespace bnl;

namespace {

// Sizes of the Fashion-MNIST MLP's parameters plus odd lengths that exercise BLAS tails.
const std::vector<std::vector<std::int64_t>> kShapes = {{512, 784}, {512}, {256, 512}, {10}, {3, 5, 7}, {1}, {1031}};

}  // namespace

TEST(SquaredNorm, MatchesAFloat64SumOfSquares) {
  torch::manual_seed(3);
  for (const auto& shape : kShapes) {
    const auto t = torch::randn(shape) * 3.0;
    const double ref = t.to(torch::kFloat64).pow(2).sum().item<double>();
    EXPECT_NEAR(train::squared_norm(t), ref, 1e-5 * ref) << t.sizes();
    // Float64 and a transposed (non-contiguous) view take the fallback, a tensor that requires
    // grad the BLAS path; all give the same value.
    EXPECT_NEAR(train::squared_norm(t.to(torch::kFloat64)), ref, 1e-12 * ref);
    if (t.dim() == 2) {
      EXPECT_NEAR(train::squared_norm(t.t()), ref, 1e-5 * ref);
    }
    EXPECT_NEAR(train::squared_norm(t.clone().requires_grad_()), ref, 1e-5 * ref);
  }
  EXPECT_EQ(train::squared_norm(torch::Tensor()), 0.0);
  EXPECT_EQ(train::squared_norm(torch::zeros({0})), 0.0);
  EXPECT_DOUBLE_EQ(train::squared_norm(torch::tensor({3.0f, 4.0f})), 25.0);
}

TEST(PlainSgdUpdate, EqualsTorchSgdWithoutMomentumOrDecay) {
  torch::manual_seed(4);
  std::vector<torch::Tensor> ours, theirs, want, scale;
  const double lr = 0.37;
  for (const auto& shape : kShapes) {
    auto p = torch::randn(shape).requires_grad_();
    auto grad = torch::randn(shape);
    want.push_back(p.detach().to(torch::kFloat64) - lr * grad.to(torch::kFloat64));
    // One rounding of each operand's magnitude: the float32 result may differ by that much when
    // p and lr * g cancel.
    scale.push_back((p.detach().abs() + lr * grad.abs()).to(torch::kFloat64) * std::numeric_limits<float>::epsilon());
    auto q = p.detach().clone().requires_grad_();
    p.mutable_grad() = grad.clone();
    q.mutable_grad() = grad.clone();
    ours.push_back(p);
    theirs.push_back(q);
  }
  // A parameter without a gradient is left alone (torch's SGD skips it too).
  auto frozen = torch::randn({4, 4}).requires_grad_();
  const auto frozen_before = frozen.detach().clone();
  ours.push_back(frozen);
  theirs.push_back(frozen.detach().clone().requires_grad_());

  torch::optim::SGD sgd(theirs, torch::optim::SGDOptions(lr));
  sgd.step();
  train::plain_sgd_update(ours, lr);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    if (i == want.size()) break;
    // Both compute p + (-lr) * g in float32; a fused and an unfused multiply-add differ by a
    // rounding, nothing more, and both are within that of the float64 update.
    const auto diff = (ours[i].detach() - theirs[i].detach()).abs().to(torch::kFloat64);
    EXPECT_TRUE((diff <= scale[i]).all().item<bool>()) << "parameter " << i << " max diff " << diff.max().item<double>();
    const auto err = (ours[i].detach().to(torch::kFloat64) - want[i]).abs();
    EXPECT_TRUE((err <= 2 * scale[i]).all().item<bool>()) << "parameter " << i << " max error " << err.max().item<double>();
  }
  EXPECT_TRUE(torch::equal(frozen.detach(), frozen_before));
}

TEST(PlainSgdUpdate, FallbackPathsMatchTheFloat64Update) {
  torch::manual_seed(5);
  // Float64 parameters and a non-contiguous float32 parameter go through Tensor::add_.
  auto p64 = torch::randn({6, 9}, torch::kFloat64).requires_grad_();
  auto base = torch::randn({9, 6});
  auto pt = base.t().requires_grad_();  // transposed view: not contiguous
  ASSERT_FALSE(pt.is_contiguous());
  auto g64 = torch::randn({6, 9}, torch::kFloat64), gt = torch::randn({6, 9});
  p64.mutable_grad() = g64;
  pt.mutable_grad() = gt;
  const auto want64 = p64.detach() - 0.5 * g64;
  const auto wantt = pt.detach().to(torch::kFloat64) - 0.5 * gt.to(torch::kFloat64);
  train::plain_sgd_update({p64, pt}, 0.5);
  EXPECT_TRUE(torch::allclose(p64.detach(), want64, 0, 1e-15));
  EXPECT_TRUE(torch::allclose(pt.detach().to(torch::kFloat64), wantt, 1e-6, 1e-6));
  EXPECT_FALSE(p64.grad_fn());  // no autograd history recorded
}

TEST(PlainSgdUpdate, RejectsAGradientOfAnotherShape) {
  auto p = torch::zeros({3}).requires_grad_();
  p.mutable_grad() = torch::zeros({4});
  EXPECT_THROW(train::plain_sgd_update({p}, 0.1), c10::Error);
}

TEST(IsPlainSgd, OnlySgdWithoutMomentumOrWeightDecay) {
  train::TrainConfig c;
  EXPECT_TRUE(train::is_plain_sgd(c));
  c.momentum = 0.9;
  EXPECT_FALSE(train::is_plain_sgd(c));
  c.momentum = 0;
  c.weight_decay = 1e-4;
  EXPECT_FALSE(train::is_plain_sgd(c));
  c.weight_decay = 0;
  c.optimizer = "adam";
  EXPECT_FALSE(train::is_plain_sgd(c));
}
