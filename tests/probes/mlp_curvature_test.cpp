// MlpCurvature: the hand-written loss, gradient and R-operator Hessian-vector products of the
// MLP against autograd's double backward in float64 (and the exact dense Hessian), with BN in
// training mode, in eval mode with running statistics, without BN, and split in micro-batches;
// the probe picks it where supported and both engines give the same probe.
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/mlp_curvature.h"

#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

models::ModelSpec mlp_spec(models::NormKind norm) { return testing::small_mlp_spec(3, {7, 5}, norm, 4); }

struct Case {
  std::shared_ptr<models::Classifier> model;
  std::vector<torch::Tensor> params;
  torch::Tensor x, y;
};

// A float64 MLP with generic BN parameters and running statistics (so that no term vanishes).
Case make_case(models::NormKind norm, bool train_mode, std::uint64_t seed) {
  torch::manual_seed(seed);
  Case c;
  c.model = models::make_model(mlp_spec(norm));
  c.model->to(torch::kFloat64);
  models::set_running_stats_updates(*c.model, false);
  {
    torch::NoGradGuard no_grad;
    // A normalisation layer's gamma and beta: "weight" and "bias" (torch's names) of BatchNorm,
    // "gamma" and "beta" of LpNorm; told from a Linear's by the running statistics beside them.
    const auto buffers = c.model->named_buffers();
    for (auto& item : c.model->named_parameters()) {
      const auto& key = item.key();
      const auto layer = key.substr(0, key.rfind('.'));
      if (!buffers.contains(layer + ".running_mean")) continue;
      const auto leaf = key.substr(key.rfind('.') + 1);
      if (leaf == "weight" || leaf == "gamma") item.value().copy_(1.0 + 0.4 * torch::randn_like(item.value()));
      else item.value().copy_(0.3 * torch::randn_like(item.value()));
    }
    for (auto& item : c.model->named_buffers())
      if (item.key().find("running_mean") != std::string::npos) item.value().copy_(0.5 * torch::randn_like(item.value()));
      else if (item.key().find("running_var") != std::string::npos) item.value().copy_(0.5 + torch::rand_like(item.value()));
  }
  if (train_mode) c.model->train(); else c.model->eval();
  c.params = c.model->parameters();
  c.x = torch::randn({12, 1, 3, 3}, torch::kFloat64);
  c.y = torch::randint(0, 4, {12}, torch::kInt64);
  return c;
}

LossFn autograd_loss(const Case& c, std::int64_t m) {
  return [c, m] {
    torch::Tensor total;
    std::int64_t chunks = 0;
    for (std::int64_t b = 0; b < c.x.size(0); b += m) {
      auto l = torch::nn::functional::cross_entropy(c.model->forward(c.x.slice(0, b, b + m)), c.y.slice(0, b, b + m));
      total = total.defined() ? total + l : l;
      ++chunks;
    }
    return total / static_cast<double>(chunks);
  };
}

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(1e-300, b.norm().item<double>());
}

void expect_same_as_autograd(models::NormKind norm, bool train_mode, std::int64_t microbatch) {
  SCOPED_TRACE(::testing::Message() << "norm " << static_cast<int>(norm) << " train " << train_mode << " m "
                                    << microbatch);
  auto c = make_case(norm, train_mode, 7 + static_cast<std::uint64_t>(microbatch));
  auto curvature = std::make_shared<MlpCurvature>(*c.model, c.params, c.x, c.y, microbatch);
  HessianOperator fast(c.params, {}, {}, curvature);
  HessianOperator slow(c.params, autograd_loss(c, microbatch > 0 ? microbatch : c.x.size(0)));
  EXPECT_NEAR(fast.loss(), slow.loss(), 1e-13 * std::abs(slow.loss()));
  EXPECT_LT(rel(fast.gradient(), slow.gradient()), 1e-12);
  // The whole Hessian, column by column, against autograd's and the exact spectrum.
  const Eigen::MatrixXd hf = testing::dense_matrix(fast), hs = testing::dense_matrix(slow);
  EXPECT_LT((hf - hs).norm(), 1e-11 * hs.norm());
  EXPECT_LT((hf - hf.transpose()).norm(), 1e-11 * hf.norm());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ef(0.5 * (hf + hf.transpose()), Eigen::EigenvaluesOnly),
      es(0.5 * (hs + hs.transpose()), Eigen::EigenvaluesOnly);
  EXPECT_LT((ef.eigenvalues() - es.eigenvalues()).cwiseAbs().maxCoeff(), 1e-11 * es.eigenvalues().cwiseAbs().maxCoeff());
  EXPECT_GT(hs.norm(), 1e-3);  // a Hessian that is not (nearly) zero
}

TEST(MlpCurvature, BatchNormTrainingModeEqualsAutogradDoubleBackward) {
  expect_same_as_autograd(models::NormKind::Custom, /*train_mode=*/true, 0);
}

TEST(MlpCurvature, BatchNormRunningStatisticsEqualsAutogradDoubleBackward) {
  expect_same_as_autograd(models::NormKind::Custom, /*train_mode=*/false, 0);
}

TEST(MlpCurvature, NoNormalisationEqualsAutogradDoubleBackward) {
  expect_same_as_autograd(models::NormKind::None, /*train_mode=*/true, 0);
}

TEST(MlpCurvature, MicroBatchesAverageTheirLossesAsTheProbeDoes) {
  expect_same_as_autograd(models::NormKind::Custom, /*train_mode=*/true, 4);
}

TEST(MlpCurvature, ProductsMatchFiniteDifferencesOfTheGradient) {
  auto c = make_case(models::NormKind::Custom, true, 3);
  MlpCurvature curvature(*c.model, c.params, c.x, c.y, 0);
  double loss = 0;
  std::vector<torch::Tensor> g0;
  const auto point = curvature.evaluate(&loss, &g0, true);
  std::vector<torch::Tensor> v;
  for (const auto& p : c.params) v.push_back(torch::randn_like(p));
  const auto hv = flatten(curvature.hvp(*point, v));
  const auto saved = snapshot(c.params);
  const auto w = flatten(saved), dv = flatten(v);
  const double h = 1e-5;
  std::vector<torch::Tensor> gp, gm;
  assign_flat(c.params, w + h * dv);
  curvature.evaluate(nullptr, &gp, false);
  assign_flat(c.params, w - h * dv);
  curvature.evaluate(nullptr, &gm, false);
  restore(c.params, saved);
  const auto fd = (flatten(gp) - flatten(gm)) / (2 * h);
  EXPECT_LT(rel(hv, fd), 1e-7);
}

TEST(MlpCurvature, FusedCpuLoopsEqualTheTensorOperationsOfOtherDevices) {
  struct Mode {
    models::NormKind norm;
    bool train;
    std::int64_t microbatch;
  };
  for (const Mode mode : {Mode{models::NormKind::Custom, true, 0}, Mode{models::NormKind::Custom, false, 0},
                          Mode{models::NormKind::None, true, 0}, Mode{models::NormKind::Custom, true, 5}}) {
    for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
      SCOPED_TRACE(::testing::Message() << "norm " << static_cast<int>(mode.norm) << " train " << mode.train
                                        << " m " << mode.microbatch << " " << dtype);
      auto c = make_case(mode.norm, mode.train, 11);
      c.model->to(dtype);
      c.params = c.model->parameters();
      MlpCurvature fused(*c.model, c.params, c.x, c.y, mode.microbatch, /*fused_cpu=*/true);
      MlpCurvature tensors(*c.model, c.params, c.x, c.y, mode.microbatch, /*fused_cpu=*/false);
      const auto pf = fused.evaluate(nullptr, nullptr, true), pt = tensors.evaluate(nullptr, nullptr, true);
      for (int trial = 0; trial < 3; ++trial) {
        std::vector<torch::Tensor> v;
        for (const auto& p : c.params) v.push_back(torch::randn_like(p));
        const auto a = flatten(fused.hvp(*pf, v)), b = flatten(tensors.hvp(*pt, v));
        EXPECT_EQ(a.scalar_type(), dtype);
        EXPECT_LT(rel(a, b), dtype == torch::kFloat64 ? 1e-13 : 1e-5);
        EXPECT_GT(b.norm().item<double>(), 1e-3);
      }
    }
  }
}

TEST(MlpCurvature, OtherModelsAreNamedAndLeftToAutograd) {
  auto lp = make_case(models::NormKind::Lp2, true, 1);
  EXPECT_NE(MlpCurvature::unsupported_reason(*lp.model, lp.params), "");
  auto tb = make_case(models::NormKind::Torch, true, 1);
  EXPECT_NE(MlpCurvature::unsupported_reason(*tb.model, tb.params).find("net.1"), std::string::npos);
  auto ok = make_case(models::NormKind::Custom, true, 1);
  EXPECT_EQ(MlpCurvature::unsupported_reason(*ok.model, ok.params), "");
  auto reversed = ok.params;
  std::swap(reversed[0], reversed[1]);
  EXPECT_NE(MlpCurvature::unsupported_reason(*ok.model, reversed), "");
  EXPECT_THROW(MlpCurvature(*lp.model, lp.params, lp.x, lp.y, 0), std::invalid_argument);
  auto cnn_spec = mlp_spec(models::NormKind::Custom);
  cnn_spec.arch = "cnn";
  cnn_spec.input_size = 8;
  cnn_spec.conv_channels = {2, 3};
  auto cnn = models::make_model(cnn_spec);
  EXPECT_EQ(MlpCurvature::unsupported_reason(*cnn, cnn->parameters()), "not an MLP");
}

TEST(MlpCurvature, TheProbeGivesTheSameRecordWithEitherEngine) {
  auto c = make_case(models::NormKind::Custom, true, 5);
  ProbeConfig cfg;
  cfg.top_k = 2;
  cfg.tol = 1e-10;
  cfg.trace_samples = 3;
  cfg.probe_dtype = "float64";
  auto spec = mlp_spec(models::NormKind::Custom);
  LandscapeProbe fast(spec, cfg, {});
  cfg.hvp_engine = "autograd";
  LandscapeProbe slow(spec, cfg, {});
  EXPECT_EQ(fast.hvp_engine(), "mlp-r-operator");
  EXPECT_EQ(slow.hvp_engine(), "autograd");
  const auto a = fast.measure(0, *c.model, c.x.to(torch::kFloat32), c.y);
  const auto b = slow.measure(0, *c.model, c.x.to(torch::kFloat32), c.y);
  EXPECT_NEAR(a.loss, b.loss, 1e-12 * std::abs(b.loss));
  ASSERT_EQ(a.loss_path.size(), b.loss_path.size());
  for (std::size_t j = 0; j < a.loss_path.size(); ++j) {
    EXPECT_NEAR(a.loss_path[j], b.loss_path[j], 1e-10 * std::abs(b.loss_path[j]));
    EXPECT_NEAR(a.grad_pred[j], b.grad_pred[j], 1e-9 * std::abs(b.grad_pred[j]) + 1e-14);
  }
  ASSERT_EQ(a.eigvals.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(a.eigvals[k], b.eigvals[k], 1e-8 * std::abs(b.eigvals[0]));
  EXPECT_NEAR(a.grad_curvature, b.grad_curvature, 1e-9 * std::abs(b.grad_curvature));
  EXPECT_NEAR(a.trace, b.trace, 1e-9 * std::abs(b.trace));
  ProbeConfig bad;
  bad.hvp_engine = "fast";
  EXPECT_THROW(validate_probe(bad, 128, 0), std::exception);
}

}  // namespace
}  // namespace bnl::probes
