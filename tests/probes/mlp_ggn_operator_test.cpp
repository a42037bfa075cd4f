// MlpGgnOperator / MlpCurvature::gvp: the hand-written Gauss-Newton products of the MLP against
// autograd's GgnOperator and against J^T H_out J formed from the exact Jacobian of the logits, in
// float64, with BN in training mode (examples coupled), with running statistics, without BN and
// split in micro-batches; the fused CPU loops against the tensor operations; and H - G != 0 (the
// products are not the Hessian's).
#include "bnlandscape/probes/mlp_ggn_operator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "bnlandscape/probes/spectrum.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

struct Case {
  std::shared_ptr<models::Classifier> model;
  std::vector<torch::Tensor> params;
  torch::Tensor x, y;
  std::int64_t microbatch = 0;  // 0 = one batch
};

// A float64 MLP 9 -> 7 -> 5 -> 4 (BN after both hidden Linears unless `norm` is None) with
// generic BN parameters and running statistics, so that no term vanishes; 12 examples.
Case make_case(models::NormKind norm, bool train_mode, std::int64_t microbatch, std::uint64_t seed) {
  torch::manual_seed(seed);
  Case c;
  c.model = models::make_model(testing::small_mlp_spec(3, {7, 5}, norm, 4));
  c.model->to(torch::kFloat64);
  models::set_running_stats_updates(*c.model, false);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : c.model->named_parameters())
      if (item.key().find("gamma") != std::string::npos) item.value().copy_(1.0 + 0.4 * torch::randn_like(item.value()));
      else if (item.key().find("beta") != std::string::npos) item.value().copy_(0.3 * torch::randn_like(item.value()));
    for (auto& item : c.model->named_buffers())
      if (item.key().find("running_mean") != std::string::npos) item.value().copy_(0.5 * torch::randn_like(item.value()));
      else if (item.key().find("running_var") != std::string::npos) item.value().copy_(0.5 + torch::rand_like(item.value()));
  }
  if (train_mode) c.model->train(); else c.model->eval();
  c.params = c.model->parameters();
  c.x = torch::randn({12, 1, 3, 3}, torch::kFloat64);
  c.y = torch::randint(0, 4, {12}, torch::kInt64);
  c.microbatch = microbatch;
  return c;
}

std::int64_t chunk(const Case& c) { return c.microbatch > 0 ? c.microbatch : c.x.size(0); }

// One logits closure per micro-batch, for autograd's GgnOperator.
std::vector<LogitsFn> logits_fns(const Case& c) {
  std::vector<LogitsFn> fns;
  for (std::int64_t b = 0; b < c.x.size(0); b += chunk(c)) {
    const auto x = c.x.slice(0, b, b + chunk(c));
    fns.push_back([model = c.model, x] { return model->forward(x); });
  }
  return fns;
}

// (1/M) sum_m J_m^T H_m J_m with J_m [N_m K, P] built row by row (one backward per logit) and
// H_m = blockdiag (diag(p_i) - p_i p_i^T) / N_m: the definition, without any product trick.
Eigen::MatrixXd reference_ggn(const Case& c) {
  const Eigen::Index p = numel(c.params);
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(p, p);
  const auto fns = logits_fns(c);
  for (const auto& fn : fns) {
    const auto z = fn();
    const std::int64_t n = z.size(0), k = z.size(1);
    Eigen::MatrixXd j(n * k, p);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t o = 0; o < k; ++o) {
        auto row = torch::autograd::grad({z[i][o]}, c.params, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
        for (std::size_t t = 0; t < row.size(); ++t)
          if (!row[t].defined()) row[t] = torch::zeros_like(c.params[t]);
        j.row(i * k + o) = to_eigen(flatten(row)).transpose();
      }
    const Eigen::MatrixXd prob = testing::to_matrix(torch::softmax(z.detach(), 1));
    Eigen::MatrixXd hout = Eigen::MatrixXd::Zero(n * k, n * k);
    for (std::int64_t i = 0; i < n; ++i) {
      const Eigen::VectorXd pi = prob.row(i).transpose();
      hout.block(i * k, i * k, k, k) = (Eigen::MatrixXd(pi.asDiagonal()) - pi * pi.transpose()) / double(n);
    }
    g += j.transpose() * hout * j;
  }
  return g / static_cast<double>(fns.size());
}

void expect_ggn(models::NormKind norm, bool train_mode, std::int64_t microbatch) {
  SCOPED_TRACE(::testing::Message() << "norm " << static_cast<int>(norm) << " train " << train_mode << " m "
                                    << microbatch);
  auto c = make_case(norm, train_mode, microbatch, 17 + static_cast<std::uint64_t>(microbatch));
  auto curvature = std::make_shared<MlpCurvature>(*c.model, c.params, c.x, c.y, microbatch);
  MlpGgnOperator fast(c.params, curvature);
  GgnOperator slow(c.params, logits_fns(c));
  ASSERT_TRUE(fast.finite());
  const Eigen::MatrixXd gf = testing::dense_matrix(fast), gs = testing::dense_matrix(slow);
  EXPECT_EQ(fast.hvp_count(), fast.rows());
  EXPECT_GT(gs.norm(), 1e-3);  // a G that is not (nearly) zero
  EXPECT_LT((gf - gs).norm(), 1e-10 * gs.norm());
  const Eigen::MatrixXd ref = reference_ggn(c);
  EXPECT_LT((gf - ref).norm(), 1e-10 * ref.norm());
  // Symmetric and positive semi-definite to rounding.
  EXPECT_LT((gf - gf.transpose()).norm(), 1e-12 * gf.norm());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(0.5 * (gf + gf.transpose()), Eigen::EigenvaluesOnly);
  EXPECT_GT(eig.eigenvalues().minCoeff(), -1e-12 * eig.eigenvalues().maxCoeff());
  // Not the Hessian: the residual H - G is a real part of H here.
  HessianOperator h(c.params, {}, {}, curvature);
  EXPECT_GT((testing::dense_matrix(h) - gf).norm(), 1e-3 * gf.norm());
  // The loss and gradient are the cross entropy's, as HessianOperator's.
  EXPECT_DOUBLE_EQ(fast.loss(), h.loss());
  EXPECT_TRUE(torch::equal(fast.gradient(), h.gradient()));
  // The Gauss-Newton mode: a HessianOperator whose products are G, for every instrument
  // taking a HessianOperator (here Lanczos against the dense top eigenvalues).
  auto gauss_newton = std::make_shared<MlpCurvature>(*c.model, c.params, c.x, c.y, microbatch, /*fused_cpu=*/true,
                                                     MlpCurvature::Product::GaussNewton);
  HessianOperator as_h(c.params, {}, {}, gauss_newton);
  EXPECT_LT((testing::dense_matrix(as_h) - gf).norm(), 1e-13 * gf.norm());
  EXPECT_DOUBLE_EQ(as_h.loss(), h.loss());
  LanczosOptions opt;
  opt.k = 2;
  opt.tol = 1e-10;
  const auto top = lanczos_eigs(as_h, opt);
  ASSERT_TRUE(top.converged);
  const auto& ev = eig.eigenvalues();  // ascending
  EXPECT_NEAR(top.eigenvalues[0], ev[ev.size() - 1], 1e-9 * ev[ev.size() - 1]);
  EXPECT_NEAR(top.eigenvalues[1], ev[ev.size() - 2], 1e-9 * ev[ev.size() - 1]);
}

TEST(MlpGgnOperator, BatchNormTrainingModeEqualsAutogradAndTheExactJacobian) {
  expect_ggn(models::NormKind::Custom, /*train_mode=*/true, 0);
}

TEST(MlpGgnOperator, BatchNormRunningStatisticsEqualsAutogradAndTheExactJacobian) {
  expect_ggn(models::NormKind::Custom, /*train_mode=*/false, 0);
}

TEST(MlpGgnOperator, NoNormalisationEqualsAutogradAndTheExactJacobian) {
  expect_ggn(models::NormKind::None, /*train_mode=*/true, 0);
}

TEST(MlpGgnOperator, MicroBatchesAverageTheirGaussNewtonMatrices) {
  expect_ggn(models::NormKind::Custom, /*train_mode=*/true, 4);
  expect_ggn(models::NormKind::None, /*train_mode=*/true, 5);  // 5 + 5 + 2: unequal micro-batches
}

TEST(MlpGgnOperator, FusedCpuLoopsEqualTheTensorOperationsOfOtherDevices) {
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
      auto c = make_case(mode.norm, mode.train, mode.microbatch, 11);
      c.model->to(dtype);
      c.params = c.model->parameters();
      MlpCurvature fused(*c.model, c.params, c.x, c.y, mode.microbatch, /*fused_cpu=*/true);
      MlpCurvature tensors(*c.model, c.params, c.x, c.y, mode.microbatch, /*fused_cpu=*/false);
      const auto pf = fused.evaluate(nullptr, nullptr, true), pt = tensors.evaluate(nullptr, nullptr, true);
      for (int trial = 0; trial < 3; ++trial) {
        std::vector<torch::Tensor> v;
        for (const auto& p : c.params) v.push_back(torch::randn_like(p));
        const auto a = flatten(fused.gvp(*pf, v)), b = flatten(tensors.gvp(*pt, v));
        EXPECT_EQ(a.scalar_type(), dtype);
        const double rel = (a - b).norm().item<double>() / b.norm().item<double>();
        EXPECT_LT(rel, dtype == torch::kFloat64 ? 1e-13 : 1e-5);
        EXPECT_GT(b.norm().item<double>(), 1e-3);
      }
    }
  }
}

TEST(MlpGgnOperator, ChangedWeightsAndBadInputAreRefused) {
  auto c = make_case(models::NormKind::Custom, true, 0, 3);
  auto curvature = std::make_shared<MlpCurvature>(*c.model, c.params, c.x, c.y, 0);
  MlpGgnOperator op(c.params, curvature);
  EXPECT_THROW(op.gvp(torch::zeros({op.rows() + 1}, torch::kFloat64)), c10::Error);
  EXPECT_THROW(MlpGgnOperator(c.params, nullptr), c10::Error);
  {
    torch::NoGradGuard no_grad;
    c.params[0].add_(1.0);
  }
  EXPECT_THROW(op.gvp(torch::zeros({op.rows()}, torch::kFloat64)), c10::Error);
}

}  // namespace
}  // namespace bnl::probes
