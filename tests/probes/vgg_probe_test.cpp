// The landscape probe on a VGG with our BatchNorm2d after every convolution: its Lanczos top
// eigenvalue, loss and gradient norm equal a dense float64 Hessian of the same network built
// with libtorch's BatchNorm2d instead (autograd's own batch_norm double backward) and
// Eigen::SelfAdjointEigenSolver.
#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/landscape_probe.h"

using namespace bnl;

namespace {

models::ModelSpec tiny_vgg(models::NormKind kind) {
  // VGG-11's first two stages at width 1/16 (4 and 8 channels) on 8x8 inputs: 762 parameters.
  models::ModelSpec s;
  s.arch = "vgg";
  s.in_channels = 3;
  s.input_size = 8;
  s.vgg_config = "64,M,128,M";
  s.width_mult = 1.0 / 16;
  s.norm.kind = kind;
  return s;
}

}  // namespace

TEST(VggProbe, LanczosTopEigenvalueEqualsTheDenseHessian) {
  torch::manual_seed(21);
  auto source = models::make_model(tiny_vgg(models::NormKind::Custom));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : source->parameters()) p.add_(0.1 * torch::randn_like(p));
  }
  const auto x = torch::randn({16, 3, 8, 8});
  const auto y = torch::randint(0, 10, {16}, torch::kInt64);

  probes::ProbeConfig cfg;
  cfg.top_k = 1;
  cfg.probe_dtype = "float64";
  cfg.tol = 1e-10;
  probes::LandscapeProbe probe(tiny_vgg(models::NormKind::Custom), cfg, probes::ProbeContext{});
  const auto r = probe.measure(0, *source, x, y);
  ASSERT_TRUE(r.converged);
  ASSERT_EQ(r.eigvals.size(), 1u);

  auto ref = models::make_model(tiny_vgg(models::NormKind::Torch));
  probes::copy_state(*source, *ref);
  ref->to(torch::kFloat64);
  ref->train();
  const auto params = ref->parameters();
  std::int64_t p_total = 0;
  for (const auto& p : params) p_total += p.numel();
  ASSERT_EQ(p_total, 762);
  const auto loss = torch::nn::functional::cross_entropy(ref->forward(x.to(torch::kFloat64)), y);
  auto grads = torch::autograd::grad({loss}, params, {}, true, true);
  std::vector<torch::Tensor> flat_g;
  for (auto& g : grads) flat_g.push_back(g.reshape(-1));
  const auto g = torch::cat(flat_g);
  Eigen::MatrixXd h(p_total, p_total);
  for (std::int64_t i = 0; i < p_total; ++i) {
    auto row = torch::autograd::grad({g[i]}, params, {}, true, false, true);
    std::int64_t off = 0;
    for (std::size_t k = 0; k < row.size(); ++k) {
      const auto n = params[k].numel();
      if (row[k].defined()) {
        const auto c = row[k].reshape(-1).contiguous();
        for (std::int64_t j = 0; j < n; ++j) h(i, off + j) = c.data_ptr<double>()[j];
      } else {
        for (std::int64_t j = 0; j < n; ++j) h(i, off + j) = 0;
      }
      off += n;
    }
  }
  EXPECT_LT((h - h.transpose()).cwiseAbs().maxCoeff(), 1e-9 * h.cwiseAbs().maxCoeff());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> dense(0.5 * (h + h.transpose()), Eigen::EigenvaluesOnly);
  const double top = dense.eigenvalues()(p_total - 1);
  EXPECT_GT(top, 0);
  EXPECT_NEAR(r.eigvals[0], top, 1e-7 * top);
  EXPECT_NEAR(r.loss, loss.item<double>(), 1e-12);
  EXPECT_NEAR(r.grad_norm, g.norm().item<double>(), 1e-10 * g.norm().item<double>());
  // g^T H g / |g|^2 from the dense matrix.
  Eigen::VectorXd ge(p_total);
  for (std::int64_t i = 0; i < p_total; ++i) ge(i) = g[i].item<double>();
  EXPECT_NEAR(r.grad_curvature, ge.dot(h * ge) / ge.squaredNorm(), 1e-8 * std::abs(top));
}
