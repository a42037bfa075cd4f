#include "bnlandscape/probes/gradient_path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/probes/spectrum.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

using testing::flat_gradient;

TEST(GradientPath, QuadraticHasConstantBetaAndKnownCurvature) {
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(30, 0.1, 5.0);
  const auto q = testing::make_quadratic(lambda, 4);
  HessianOperator op(q.params, q.loss());
  const auto steps = default_step_sizes(0.1, 5);
  const auto r = gradient_path(q.params, q.loss(), steps, &op);

  const Eigen::VectorXd w = q.w();
  const Eigen::VectorXd g = q.a * w;
  EXPECT_NEAR(r.loss, 0.5 * w.dot(q.a * w), 1e-12);
  EXPECT_NEAR(r.grad_norm, g.norm(), 1e-12);
  // grad(w) - grad(w - s g) = s A g, so every ratio is ||A g|| / ||g||.
  const double beta = (q.a * g).norm() / g.norm();
  EXPECT_NEAR(r.beta_smoothness, beta, 1e-10 * beta);
  EXPECT_NEAR(r.grad_curvature, g.dot(q.a * g) / g.squaredNorm(), 1e-12 * beta);
  ASSERT_EQ(r.loss_path.size(), steps.size());
  for (std::size_t j = 0; j < steps.size(); ++j) {
    const Eigen::VectorXd ws = w - steps[j] * g;
    EXPECT_NEAR(r.loss_path[j], 0.5 * ws.dot(q.a * ws), 1e-10) << j;
    EXPECT_NEAR(r.grad_pred[j], steps[j] * (q.a * g).norm(), 1e-10) << j;
  }
  EXPECT_EQ(r.step_sizes, steps);
}

TEST(GradientPath, MlpMatchesDirectEvaluationAndRestoresWeights) {
  const auto m = testing::make_tiny_mlp(8);
  const auto before = snapshot(m.params);
  HessianOperator op(m.params, m.loss());
  const auto hv_before = op.hvp(op.gradient());
  const std::vector<double> steps{0.01, 0.1, 1.0};
  const auto r = gradient_path(m.params, m.loss(), steps, &op);

  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(m.params[i], before[i])) << i;
  // The operator built at w is still valid after the path.
  EXPECT_TRUE(torch::equal(op.hvp(op.gradient()), hv_before));

  const auto g = flat_gradient(m.params, m.loss());
  double beta = 0.0;
  for (std::size_t j = 0; j < steps.size(); ++j) {
    // Move the weights with plain tensor ops, independently of assign_flat.
    std::vector<torch::Tensor> moved;
    std::int64_t offset = 0;
    for (const auto& p : m.params) {
      moved.push_back((p.detach() - steps[j] * g.narrow(0, offset, p.numel()).view(p.sizes())).requires_grad_(true));
      offset += p.numel();
    }
    auto mm = m;
    mm.w1 = moved[0];
    mm.b1 = moved[1];
    mm.w2 = moved[4];
    mm.b2 = moved[5];
    auto bn = bnl::models::BatchNorm(bnl::models::BatchNormOptions(5));
    bn->to(torch::kDouble);
    bn->set_update_running_stats(false);
    {
      torch::NoGradGuard no_grad;
      bn->gamma.copy_(moved[2]);
      bn->beta.copy_(moved[3]);
    }
    mm.bn = bn;
    std::vector<torch::Tensor> mp{mm.w1, mm.b1, bn->gamma, bn->beta, mm.w2, mm.b2};
    const double want_loss = mm.loss()().item<double>();
    const double want_pred = (g - flat_gradient(mp, mm.loss())).norm().item<double>();
    EXPECT_NEAR(r.loss_path[j], want_loss, 1e-12 * std::abs(want_loss)) << j;
    EXPECT_NEAR(r.grad_pred[j], want_pred, 1e-10 * want_pred) << j;
    beta = std::max(beta, want_pred / (steps[j] * g.norm().item<double>()));
  }
  EXPECT_NEAR(r.beta_smoothness, beta, 1e-10 * beta);
  const double ghg = torch::dot(g, hv_before).item<double>() / g.dot(g).item<double>();
  EXPECT_NEAR(r.grad_curvature, ghg, 1e-12 * std::abs(ghg));
  EXPECT_TRUE(std::isnan(gradient_path(m.params, m.loss(), steps, nullptr).grad_curvature));
}

TEST(GradientPath, RestoresWeightsWhenTheClosureThrows) {
  auto w = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_(true);
  const auto before = w.detach().clone();
  int calls = 0;
  LossFn loss = [&] {
    if (++calls == 3) throw std::runtime_error("closure failed");
    return w.pow(2).sum();
  };
  EXPECT_THROW(gradient_path({w}, loss, {0.1, 0.2, 0.3}, nullptr), std::runtime_error);
  EXPECT_TRUE(torch::equal(w, before));
}

TEST(GradientPath, NonFiniteValuesAreNaN) {
  auto w = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_(true);
  const auto before = w.detach().clone();
  const auto r = gradient_path({w}, [&] { return w.pow(2).sum() * std::numeric_limits<double>::quiet_NaN(); },
                               {0.1, 1.0}, nullptr);
  EXPECT_TRUE(std::isnan(r.loss) && std::isnan(r.grad_norm) && std::isnan(r.beta_smoothness));
  EXPECT_TRUE(std::isnan(r.loss_path[0]) && std::isnan(r.grad_pred[1]));
  EXPECT_TRUE(torch::equal(w, before));

  // Finite at w, overflowing far along the path: that step is NaN and so is beta.
  const auto s = gradient_path({w}, [&] { return w.pow(2).sum().exp(); }, {1e-3, 10.0}, nullptr);
  EXPECT_TRUE(std::isfinite(s.loss) && std::isfinite(s.loss_path[0]) && std::isfinite(s.grad_pred[0]));
  EXPECT_TRUE(std::isnan(s.loss_path[1]) && std::isnan(s.grad_pred[1]));
  EXPECT_TRUE(std::isnan(s.beta_smoothness));
  EXPECT_TRUE(torch::equal(w, before));
}

TEST(GradientPath, RejectsBadInput) {
  auto w = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_(true);
  LossFn loss = [&] { return w.pow(2).sum(); };
  try {
    gradient_path({w}, loss, {0.1, -0.2}, nullptr);
    FAIL() << "expected an exception";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected positive finite step sizes, got -0.2 at index 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gradient_path({w}, loss, {}, nullptr), c10::Error);
  EXPECT_THROW(gradient_path({w}, loss, {0.0}, nullptr), c10::Error);
  // An operator built elsewhere is refused.
  auto other = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_(true);
  HessianOperator op({other}, [&] { return other.pow(2).sum(); });
  EXPECT_THROW(gradient_path({w}, loss, {0.1}, &op), c10::Error);
}

TEST(DefaultStepSizes, LogSpacedAroundTheLearningRate) {
  const auto s = default_step_sizes(0.1);
  ASSERT_EQ(s.size(), 10u);
  EXPECT_DOUBLE_EQ(s.front(), 0.05);
  EXPECT_NEAR(s.back(), 0.4, 1e-15);
  for (std::size_t j = 1; j < s.size(); ++j) EXPECT_NEAR(s[j] / s[j - 1], std::pow(8.0, 1.0 / 9.0), 1e-12);
  EXPECT_EQ(default_step_sizes(1.0, 1), std::vector<double>{0.5});
  EXPECT_THROW(default_step_sizes(0.0), c10::Error);
  EXPECT_THROW(default_step_sizes(0.1, 0), c10::Error);
  EXPECT_THROW(default_step_sizes(0.1, 3, 2.0, 1.0), c10::Error);
}

}  // namespace
}  // namespace bnl::probes
