#include "bnlandscape/models/lp_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <torch/autograd.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"

namespace {

using bnl::models::LpNorm;
using bnl::models::LpNormOptions;
using torch::Tensor;

const double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-5;

/// The paper's formula computed element by element with plain loops, independent of lp_scale:
/// y[n, c, ...] = gamma_c (x - mu_c) / (s_c + eps) + beta_c.
Tensor direct_formula(const Tensor& x, const Tensor& gamma, const Tensor& beta, double p) {
  auto xd = x.to(torch::kFloat64).transpose(0, 1).reshape({x.size(1), -1}).contiguous();
  const int64_t c = xd.size(0), m = xd.size(1);
  auto y = torch::empty_like(xd);
  auto xa = xd.accessor<double, 2>();
  auto ya = y.accessor<double, 2>();
  for (int64_t i = 0; i < c; ++i) {
    double mu = 0, s = 0;
    for (int64_t j = 0; j < m; ++j) mu += xa[i][j];
    mu /= static_cast<double>(m);
    for (int64_t j = 0; j < m; ++j) {
      const double a = std::abs(xa[i][j]);
      if (std::isinf(p)) s = std::max(s, a);
      else s += std::pow(a, p);
    }
    if (!std::isinf(p)) s = std::pow(s / static_cast<double>(m), 1.0 / p);
    const double g = gamma[i].item<double>(), b = beta[i].item<double>();
    for (int64_t j = 0; j < m; ++j) ya[i][j] = g * (xa[i][j] - mu) / (s + kEps) + b;
  }
  std::vector<int64_t> tshape = x.sizes().vec();
  std::swap(tshape[0], tshape[1]);
  return y.reshape(tshape).transpose(0, 1);
}

struct Case {
  double p;
  std::vector<int64_t> shape;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (double p : {1.0, 2.0, kInf}) {
    out.push_back({p, {5, 3}});
    out.push_back({p, {2, 4}});
    out.push_back({p, {3, 2, 4, 4}});
  }
  return out;
}

LpNorm make(const Case& c, torch::Dtype dtype) {
  LpNorm layer(LpNormOptions(c.shape[1], c.p).spatial(c.shape.size() == 4));
  layer->to(dtype);
  torch::NoGradGuard ng;
  layer->gamma.copy_(torch::rand({c.shape[1]}, dtype) + 0.5);
  layer->beta.copy_(torch::randn({c.shape[1]}, dtype));
  return layer;
}

TEST(LpNorm, ForwardMatchesDirectFormula) {
  torch::manual_seed(1);
  for (const auto& c : cases()) {
    auto layer = make(c, torch::kFloat64);
    auto x = torch::randn(c.shape, torch::kFloat64) * 2 + 0.7;
    auto y = layer->forward(x);
    auto ref = direct_formula(x, layer->gamma.detach(), layer->beta.detach(), c.p);
    EXPECT_TRUE(torch::allclose(y, ref, 1e-12, 1e-12)) << "p=" << c.p << " shape " << x.sizes();
  }
}

TEST(LpNorm, ScaleIsTakenBeforeTheMeanShift) {
  // A constant offset changes mean(|x|^p) but not the centred values: the output must change.
  LpNorm layer(LpNormOptions(1, 2.0));
  auto x = torch::tensor({{-1.0}, {1.0}}, torch::kFloat32);
  auto y0 = layer->forward(x);
  auto y1 = layer->forward(x + 3.0);
  EXPECT_NEAR(y0[1][0].item<double>(), 1.0, 1e-4);                   // (1 - 0) / sqrt(1)
  EXPECT_NEAR(y1[1][0].item<double>(), 1.0 / std::sqrt(10.0), 1e-4);  // (1) / sqrt((4^2 + 2^2) / 2)
}

/// Central finite differences in float64 of sum(w * layer(x)) with respect to every input.
TEST(LpNorm, GradientsMatchFiniteDifferences) {
  torch::manual_seed(2);
  for (const auto& c : cases()) {
    auto layer = make(c, torch::kFloat64);
    auto x = (torch::randn(c.shape, torch::kFloat64) + 0.3).requires_grad_(true);
    auto w = torch::randn(c.shape, torch::kFloat64);
    auto loss = [&](const Tensor& xx) { return (layer->forward(xx) * w).sum(); };
    auto g = torch::autograd::grad({loss(x)}, {x, layer->gamma, layer->beta});
    torch::NoGradGuard ng;
    const double h = 1e-6;
    auto xf = x.detach().reshape(-1);
    auto gx = g[0].reshape(-1);
    for (int64_t i = 0; i < xf.numel(); ++i) {
      auto xp = xf.clone(), xm = xf.clone();
      xp[i] += h;
      xm[i] -= h;
      const double fd = (loss(xp.view(c.shape)) - loss(xm.view(c.shape))).item<double>() / (2 * h);
      EXPECT_NEAR(gx[i].item<double>(), fd, 1e-6 * (1 + std::abs(fd))) << "p=" << c.p << " x[" << i << "]";
    }
    for (int64_t k = 0; k < c.shape[1]; ++k) {
      auto gamma0 = layer->gamma.detach().clone();
      layer->gamma[k] += h;
      const double up = loss(x.detach()).item<double>();
      layer->gamma[k] -= 2 * h;
      const double down = loss(x.detach()).item<double>();
      layer->gamma.copy_(gamma0);
      EXPECT_NEAR(g[1][k].item<double>(), (up - down) / (2 * h), 1e-6) << "p=" << c.p << " gamma[" << k << "]";
    }
  }
}

/// Hessian-vector products (double backward) against finite differences of the gradient.
TEST(LpNorm, HessianVectorProductMatchesFiniteDifferences) {
  torch::manual_seed(3);
  for (const auto& c : cases()) {
    auto layer = make(c, torch::kFloat64);
    auto x = (torch::randn(c.shape, torch::kFloat64) + 0.3).requires_grad_(true);
    auto w = torch::randn(c.shape, torch::kFloat64);
    auto v = torch::randn(c.shape, torch::kFloat64);
    auto grad_at = [&](const Tensor& xx, bool graph) {
      auto l = (layer->forward(xx).pow(2) * w).sum();
      return torch::autograd::grad({l}, {xx}, {}, graph, graph)[0];
    };
    auto g = grad_at(x, true);
    auto hv = torch::autograd::grad({(g * v).sum()}, {x})[0];
    const double h = 1e-5;
    auto xp = (x.detach() + h * v).requires_grad_(true);
    auto xm = (x.detach() - h * v).requires_grad_(true);
    auto fd = (grad_at(xp, false) - grad_at(xm, false)) / (2 * h);
    const double err = (hv - fd).abs().max().item<double>();
    EXPECT_LE(err, 1e-5 * (1 + fd.abs().max().item<double>())) << "p=" << c.p << " shape " << x.sizes();
  }
}

TEST(LpNorm, RunningStatisticsAndEvalMode) {
  torch::manual_seed(4);
  LpNorm layer(LpNormOptions(3, 1.0).momentum(0.1));
  auto x1 = torch::randn({8, 3}) * 3 + 1;
  auto x2 = torch::randn({8, 3}) - 2;
  layer->forward(x1);
  layer->forward(x2);
  auto mean = (x1.mean(0) * 0.1) * 0.9 + x2.mean(0) * 0.1;
  auto scale = (0.9 + x1.abs().mean(0) * 0.1) * 0.9 + x2.abs().mean(0) * 0.1;
  EXPECT_TRUE(torch::allclose(layer->running_mean, mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(layer->running_scale, scale, 1e-5, 1e-6));
  layer->eval();
  auto x3 = torch::randn({1, 3});
  auto y = layer->forward(x3);
  EXPECT_TRUE(torch::allclose(y, (x3 - mean) / (scale + kEps), 1e-5, 1e-6));
  layer->train();
  layer->set_update_running_stats(false);
  auto before = layer->running_scale.clone();
  layer->forward(x1);
  EXPECT_TRUE(torch::equal(before, layer->running_scale));
}

TEST(LpNorm, FactoryBuildsLpLayersWithTheBatchNormParameterNames) {
  bnl::models::ModelSpec spec;
  spec.norm.kind = bnl::models::parse_norm_kind("lpinf");
  auto model = bnl::models::make_model(spec);
  std::vector<std::string> names;
  for (const auto& p : model->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names[2], "net.1.gamma");
  EXPECT_EQ(names[3], "net.1.beta");
  std::vector<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(buffers[1], "net.1.running_scale");
  EXPECT_THROW(bnl::models::parse_norm_kind("lp3"), std::invalid_argument);
}

}  // namespace
