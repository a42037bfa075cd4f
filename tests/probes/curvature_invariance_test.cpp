// The reparametrisations that leave the function unchanged and the raw Hessian not (issue 24,
// section 2), through LandscapeProbe: a pre-BN layer's weight and bias times c = 3, and for a
// network without BN layer l times c with layer l + 1's weight times 1/c. The `layer` and
// `adaptive` sharpness must not move; the raw eigenvalues do.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "probes/problems.h"

using namespace bnl;

namespace {

namespace F = torch::nn::functional;

struct Rig {
  models::ModelSpec spec;
  std::shared_ptr<models::Classifier> model;
  torch::Tensor x, y;
};

Rig make_rig(models::NormKind kind, std::uint64_t seed) {
  torch::manual_seed(seed);
  Rig s;
  s.spec = probes::testing::small_mlp_spec(4, {6, 5}, kind);
  s.spec.norm.backward = models::BnBackward::Exact;
  s.model = models::make_model(s.spec);
  s.model->to(torch::kFloat64);
  s.x = torch::randn({32, 1, 4, 4}, torch::kFloat64);
  s.y = torch::randint(0, 10, {32}, torch::kInt64);
  return s;
}

probes::ProbeConfig invariance_config() {
  probes::ProbeConfig cfg;
  cfg.probe_dtype = "float64";
  cfg.tol = 1e-10;
  cfg.top_k = 2;
  cfg.layer_top_k = 1;
  cfg.curvature = "hessian,ggn";
  cfg.sharpness_scaling = "layer,adaptive";
  return cfg;
}

/// A copy of `s.model` with each named parameter multiplied by its factor.
std::shared_ptr<models::Classifier> rescaled(const Rig& s, const std::vector<std::pair<std::string, double>>& f) {
  auto m = models::make_model(s.spec);
  m->to(torch::kFloat64);
  probes::copy_state(*s.model, *m);
  torch::NoGradGuard no_grad;
  auto named = m->named_parameters();
  for (const auto& [name, c] : f) named[name].mul_(c);
  return m;
}

double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

std::size_t block_index(const probes::LandscapeProbe& p, const std::string& name) {
  for (std::size_t b = 0; b < p.blocks().size(); ++b)
    if (p.blocks()[b].name == name) return b;
  ADD_FAILURE() << "no block " << name;
  return 0;
}

/// The gradient of the probe loss with respect to one named parameter.
torch::Tensor grad_of(models::Classifier& m, const Rig& s, const std::string& name) {
  auto named = m.named_parameters();
  return torch::autograd::grad({F::cross_entropy(m.forward(s.x), s.y)}, {named[name]})[0];
}

// BN(3 (W x + b)) = BN(W x + b) but for BN's eps (1e-5): the normalisation divides by
// sqrt(9 var + eps) instead of 3 sqrt(var + eps), a relative change of (4/9) eps / var per
// channel, about 1e-5 for the pre-BN variances of this set (of order 0.3 to 1). Tolerances:
// loss 1e-6 relative, the block's eigenvalues / 9 and gradient / 3 to 1e-4, the scaled
// sharpness to 1e-4 (the issue's); the raw top eigenvalue must move by more than 1 %.
TEST(CurvatureInvariance, PreBnLayerTimesThreeLeavesLayerAndAdaptiveSharpness) {
  const Rig s = make_rig(models::NormKind::Custom, 11);
  const auto cfg = invariance_config();
  probes::LandscapeProbe probe(s.spec, cfg, {});
  const auto r0 = probe.measure(0, *s.model, s.x, s.y);
  const auto m3 = rescaled(s, {{"net.0.weight", 3.0}, {"net.0.bias", 3.0}});
  const auto r3 = probe.measure(0, *m3, s.x, s.y);

  EXPECT_LT(rel(r3.loss, r0.loss), 1e-6);
  // The block of net.0 (weight and bias) scales by 1/9, its gradient by 1/3.
  const auto b = block_index(probe, "net.0");
  EXPECT_LT(rel(r3.layer_eigvals[b], r0.layer_eigvals[b] / 9.0), 1e-4);
  EXPECT_LT(rel(r3.ggn.layer_eigvals[b], r0.ggn.layer_eigvals[b] / 9.0), 1e-4);
  auto m1 = rescaled(s, {});
  const auto g1 = grad_of(*m1, s, "net.0.weight"), g3 = grad_of(*m3, s, "net.0.weight");
  EXPECT_LT((g3 - g1 / 3.0).norm().item<double>(), 1e-4 * (g1 / 3.0).norm().item<double>());
  // Scaled sharpness unchanged; the raw top eigenvalues move.
  for (int k = 0; k < 2; ++k) {
    EXPECT_LT(rel(r3.hessian.eigvals_layer[k], r0.hessian.eigvals_layer[k]), 1e-4) << k;
    EXPECT_LT(rel(r3.hessian.eigvals_adaptive[k], r0.hessian.eigvals_adaptive[k]), 1e-4) << k;
    EXPECT_LT(rel(r3.ggn.eigvals_layer[k], r0.ggn.eigvals_layer[k]), 1e-4) << k;
    EXPECT_LT(rel(r3.ggn.eigvals_adaptive[k], r0.ggn.eigvals_adaptive[k]), 1e-4) << k;
  }
  EXPECT_GT(rel(r3.eigvals[0], r0.eigvals[0]), 1e-2) << r3.eigvals[0] << " vs " << r0.eigvals[0];
  // The effective learning rate of net.0 falls by 9.
  ASSERT_EQ(r3.effective_lr.size(), 2u);
  EXPECT_LT(rel(r3.effective_lr[0], r0.effective_lr[0] / 9.0), 1e-12);
}

TEST(CurvatureInvariance, ReluRescalingWithoutBnLeavesAdaptiveSharpness) {
  const Rig s = make_rig(models::NormKind::None, 12);
  const auto cfg = invariance_config();
  probes::LandscapeProbe probe(s.spec, cfg, {});
  const auto r0 = probe.measure(0, *s.model, s.x, s.y);
  // ReLU(c z) = c ReLU(z): layer net.0 times c, net.2's weight times 1/c is the same function.
  const double c = 3.0;
  const auto m = rescaled(s, {{"net.0.weight", c}, {"net.0.bias", c}, {"net.2.weight", 1.0 / c}});
  const auto r1 = probe.measure(0, *m, s.x, s.y);
  EXPECT_LT(rel(r1.loss, r0.loss), 1e-12);
  for (int k = 0; k < 2; ++k) {
    EXPECT_LT(rel(r1.hessian.eigvals_adaptive[k], r0.hessian.eigvals_adaptive[k]), 1e-8) << k;
    EXPECT_LT(rel(r1.ggn.eigvals_adaptive[k], r0.ggn.eigvals_adaptive[k]), 1e-8) << k;
  }
  EXPECT_GT(rel(r1.eigvals[0], r0.eigvals[0]), 1e-2) << r1.eigvals[0] << " vs " << r0.eigvals[0];
  EXPECT_GT(rel(r1.ggn.eigvals[0], r0.ggn.eigvals[0]), 1e-2);
  EXPECT_TRUE(r1.effective_lr.empty());
}

}  // namespace
