#include "bnlandscape/models/bn_noise.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"

namespace {

using bnl::models::BnNoise;
using bnl::models::BnNoiseOptions;
using torch::Tensor;

/// Draws the same noise for a = 0 and a = 1 (restoring the generator in between), so that
/// out(0) = m and out(1) - out(0) = s exactly.
std::pair<Tensor, Tensor> draw_m_and_s(BnNoise& noise, const std::vector<int64_t>& shape) {
  const auto state = noise.generator().get_state();
  auto m = noise.apply(torch::zeros(shape, torch::kFloat64));
  noise.generator().set_state(state);
  auto s = noise.apply(torch::ones(shape, torch::kFloat64)) - m;
  return {m, s};
}

TEST(BnNoise, PerUnitMomentsMatchAlgorithmOne) {
  BnNoise noise(BnNoiseOptions{0.5, 0.25}, 7);
  const int64_t n = 20000, c = 40;
  auto [m, s] = draw_m_and_s(noise, {n, c});
  // Per unit: m ~ U(mu_u - 0.1, mu_u + 0.1), s ~ N(sigma_u, 0.1): within-unit spread.
  auto m_std = m.std(0), s_std = s.std(0);
  EXPECT_LT((m_std - 0.1 / std::sqrt(3.0)).abs().max().item<double>(), 0.003);
  EXPECT_LT((s_std - 0.1).abs().max().item<double>(), 0.003);
  auto range = m.amax(0) - m.amin(0);
  EXPECT_LE(range.max().item<double>(), 0.2 + 1e-12);
  EXPECT_GT(range.min().item<double>(), 0.199);
  // Per-unit centres: mu_u in (-0.5, 0.5), sigma_u in (1, 1.25), spread as uniforms over units.
  auto mu_u = m.mean(0), sigma_u = s.mean(0);
  EXPECT_LT(mu_u.abs().max().item<double>(), 0.5 + 0.003);
  EXPECT_GT(sigma_u.min().item<double>(), 1.0 - 0.003);
  EXPECT_LT(sigma_u.max().item<double>(), 1.25 + 0.003);
  // Across many draws the unit centres are uniform: mean 0 and 1.125, std 1/sqrt(12) of width.
  std::vector<Tensor> mus, sigmas;
  for (int k = 0; k < 200; ++k) {
    auto [mk, sk] = draw_m_and_s(noise, {200, 50});
    mus.push_back(mk.mean(0));
    sigmas.push_back(sk.mean(0));
  }
  auto all_mu = torch::cat(mus), all_sigma = torch::cat(sigmas);
  EXPECT_NEAR(all_mu.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(all_mu.std().item<double>(), 1.0 / std::sqrt(12.0), 0.01);  // width 1
  EXPECT_NEAR(all_sigma.mean().item<double>(), 1.125, 0.005);
  EXPECT_NEAR(all_sigma.std().item<double>(), 0.25 / std::sqrt(12.0), 0.005);
}

TEST(BnNoise, ConvTreatsHeightAndWidthAsBatchDimensions) {
  BnNoise noise(BnNoiseOptions{0.5, 0.25}, 3);
  auto [m, s] = draw_m_and_s(noise, {8, 3, 30, 30});
  // Each channel has one (mu_u, sigma_u): values vary within a channel across n, h and w.
  auto per_channel_std = m.transpose(0, 1).reshape({3, -1}).std(1);
  EXPECT_LT((per_channel_std - 0.1 / std::sqrt(3.0)).abs().max().item<double>(), 0.005);
  EXPECT_LT((s.transpose(0, 1).reshape({3, -1}).std(1) - 0.1).abs().max().item<double>(), 0.005);
}

TEST(BnNoise, SeededAndOnlyInTraining) {
  bnl::models::ModelSpec spec;
  spec.norm.kind = bnl::models::NormKind::Custom;
  spec.hidden_dims = {16};
  torch::manual_seed(0);
  auto model = bnl::models::make_model(spec);
  auto x = torch::randn({8, 1, 28, 28});
  model->train();
  auto clean = model->forward(x);
  model->set_bn_noise(std::make_shared<BnNoise>(BnNoiseOptions{}, 11));
  auto noisy1 = model->forward(x);
  auto noisy2 = model->forward(x);
  EXPECT_FALSE(torch::allclose(clean, noisy1));
  EXPECT_FALSE(torch::equal(noisy1, noisy2));  // fresh noise every step
  model->set_bn_noise(std::make_shared<BnNoise>(BnNoiseOptions{}, 11));
  EXPECT_TRUE(torch::equal(model->forward(x), noisy1));  // same seed, same draws
  model->eval();
  bnl::models::set_running_stats_updates(*model, false);
  auto e1 = model->forward(x);
  model->set_bn_noise(nullptr);
  EXPECT_TRUE(torch::equal(e1, model->forward(x)));  // no noise in evaluation
}

TEST(BnNoise, GradientFlowsThroughTheNoisyOutput) {
  BnNoise noise(BnNoiseOptions{}, 5);
  auto a = torch::randn({4, 3}, torch::kFloat64).requires_grad_(true);
  const auto state = noise.generator().get_state();
  auto out = noise.apply(a);
  out.sum().backward();
  noise.generator().set_state(state);
  const auto ms = draw_m_and_s(noise, {4, 3});
  const auto& s = ms.second;
  EXPECT_TRUE(torch::allclose(a.grad(), s, 1e-12, 1e-12));  // d(s a + m)/da = s
}

}  // namespace
