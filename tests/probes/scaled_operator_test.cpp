#include "bnlandscape/probes/scaled_operator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include "bnlandscape/models/mlp.h"
#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

namespace F = torch::nn::functional;

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

double top_eigenvalue(const Eigen::MatrixXd& a) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(0.5 * (a + a.transpose())).eigenvalues().maxCoeff();
}

/// The whole state of TinyMlp at its current weights: loss, gradient, dense Hessian, and the
/// dense D H D for the `layer` (block = w1, b1, the pre-BN layer) and `adaptive` scalings.
struct Measured {
  double loss = 0.0;
  Eigen::VectorXd grad;
  Eigen::MatrixXd h, layer, adaptive;
};

Measured measure(const testing::TinyMlp& m) {
  HessianOperator op(m.params, m.loss());
  Measured out;
  out.loss = op.loss();
  out.grad = to_eigen(op.gradient());
  out.h = testing::dense_matrix(op);
  const ScaleInvariantBlock block{"l1", {"w1", "b1"}, {m.w1, m.b1}};
  ScaledOperator<HessianOperator> layer(op, layer_scaling(m.params, {block}));
  ScaledOperator<HessianOperator> adaptive(op, adaptive_scaling(m.params));
  out.layer = testing::dense_matrix(layer);
  out.adaptive = testing::dense_matrix(adaptive);
  return out;
}

void scale_first_layer(const testing::TinyMlp& m, double c) {
  torch::NoGradGuard no_grad;
  m.w1.mul_(c);
  m.b1.mul_(c);
}

TEST(ScaledOperator, ProductIsDAD) {
  const auto m = testing::make_tiny_mlp(21);
  HessianOperator op(m.params, m.loss());
  const Eigen::VectorXd d = testing::eigen_normal(op.rows(), 1, 4).col(0);
  ScaledOperator<HessianOperator> scaled(op, d);
  const Eigen::MatrixXd h = testing::dense_matrix(op);
  const Eigen::MatrixXd want = d.asDiagonal() * h * d.asDiagonal();
  EXPECT_LT((testing::dense_matrix(scaled) - want).cwiseAbs().maxCoeff(), 1e-14 * want.cwiseAbs().maxCoeff());
  EXPECT_EQ(scaled.hvp_count(), 2 * op.rows());  // one product of H per product of D H D
  EXPECT_TRUE(scaled.finite());
  EXPECT_THROW(ScaledOperator<HessianOperator>(op, Eigen::VectorXd::Ones(3)), c10::Error);
}

TEST(ScaledOperator, BnBlockScalingLeavesLossAndScaledSharpnessUnchanged) {
  const double c = 3.0;
  auto m = testing::make_tiny_mlp(21);
  const double eps = m.bn->options.eps();

  // First-order bound on the loss change from BN's eps (the only term not invariant):
  // x_hat_j = (h_j - mu_j) / sqrt(var_j + eps) becomes (h_j - mu_j) / sqrt(var_j + eps / c^2),
  // a relative change delta_j <= delta = eps (1 - 1/c^2) / (2 min_j var_j). With
  // ||x_hat||_F <= sqrt(N C), ||dL/dz||_F <= sqrt(2 / N) (mean cross entropy) and
  // ||dL/dx_hat||_F <= max|gamma| ||W2||_2 ||dL/dz||_F:
  // |dL| <= delta sqrt(2 C) max|gamma| ||W2||_2 (times 1.1 for the second-order rest).
  const auto h = F::linear(m.x, m.w1, m.b1).detach();
  const double min_var = (h - h.mean(0)).pow(2).mean(0).min().item<double>();
  const double delta = eps * (1.0 - 1.0 / (c * c)) / (2.0 * min_var);
  const double w2_norm = torch::linalg_svdvals(m.w2.detach()).max().item<double>();
  const double gamma_max = m.bn->gamma.detach().abs().max().item<double>();
  const double loss_tol = 1.1 * delta * std::sqrt(2.0 * 5.0) * gamma_max * w2_norm;

  const auto before = measure(m);
  scale_first_layer(m, c);
  const auto after = measure(m);
  EXPECT_LT(std::abs(after.loss - before.loss), loss_tol) << "bound " << loss_tol;
  EXPECT_GT(loss_tol, 0.0);
  EXPECT_LT(loss_tol, 1e-4);

  // The exact statement: L(c w; eps) = L(w; eps / c^2).
  {
    const double scaled_loss = m.loss()().item<double>();
    scale_first_layer(m, 1.0 / c);
    m.bn->options.eps(eps / (c * c));
    EXPECT_NEAR(m.loss()().item<double>(), scaled_loss, 1e-13);
    m.bn->options.eps(eps);
    scale_first_layer(m, c);
  }

  // The block (w1, b1) is the first 35 entries: gradient / c, diagonal block / c^2.
  const Eigen::Index nb = 6 * 5 + 5;
  const double rel = 1e-4;
  EXPECT_LT((after.grad.head(nb) - before.grad.head(nb) / c).norm(), rel * before.grad.head(nb).norm() / c);
  const Eigen::MatrixXd hb0 = before.h.topLeftCorner(nb, nb) / (c * c), hb1 = after.h.topLeftCorner(nb, nb);
  EXPECT_LT((hb1 - hb0).norm(), rel * hb0.norm());
  EXPECT_NEAR(top_eigenvalue(hb1), top_eigenvalue(hb0), rel * top_eigenvalue(hb0));

  RecordProperty("loss_change", sci(after.loss - before.loss));
  RecordProperty("loss_bound", sci(loss_tol));
  RecordProperty("layer_rel_change", sci(top_eigenvalue(after.layer) / top_eigenvalue(before.layer) - 1.0));
  RecordProperty("adaptive_rel_change",
                 sci(top_eigenvalue(after.adaptive) / top_eigenvalue(before.adaptive) - 1.0));
  RecordProperty("block_rel_change", sci((hb1 - hb0).norm() / hb0.norm()));
  RecordProperty("raw_top", sci(top_eigenvalue(before.h)) + " -> " + sci(top_eigenvalue(after.h)));
  // Scaled sharpness: unchanged to 1e-4 relative (the eps effect is O(delta) ~ 1e-5 here).
  EXPECT_NEAR(top_eigenvalue(after.layer), top_eigenvalue(before.layer), rel * top_eigenvalue(before.layer));
  EXPECT_NEAR(top_eigenvalue(after.adaptive), top_eigenvalue(before.adaptive), rel * top_eigenvalue(before.adaptive));
}

/// 6 -> 5 -> ReLU -> 4 -> ReLU -> 3 without BN, float64, 8 examples, mean cross entropy.
struct PlainMlp {
  torch::Tensor x, labels, w1, b1, w2, b2, w3, b3;
  std::vector<torch::Tensor> params;
  torch::Tensor logits() const {
    auto h = torch::relu(F::linear(x, w1, b1));
    h = torch::relu(F::linear(h, w2, b2));
    return F::linear(h, w3, b3);
  }
  LossFn loss() const {
    return [this] { return F::cross_entropy(logits(), labels); };
  }
};

PlainMlp make_plain(std::uint64_t seed) {
  PlainMlp m;
  auto t = [&](Eigen::Index r, Eigen::Index c, double scale) { return scale * testing::to_tensor(testing::eigen_normal(r, c, seed++)); };
  m.x = t(8, 6, 1.0);
  m.w1 = t(5, 6, 0.6).requires_grad_(true);
  m.b1 = t(5, 1, 0.1).view({5}).clone().requires_grad_(true);
  m.w2 = t(4, 5, 0.6).requires_grad_(true);
  m.b2 = t(4, 1, 0.1).view({4}).clone().requires_grad_(true);
  m.w3 = t(3, 4, 0.6).requires_grad_(true);
  m.b3 = t(3, 1, 0.1).view({3}).clone().requires_grad_(true);
  m.labels = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 1, 0, 2, 2, 1}, torch::kLong);
  m.params = {m.w1, m.b1, m.w2, m.b2, m.w3, m.b3};
  return m;
}

TEST(ScaledOperator, ReluRescalingLeavesAdaptiveSharpnessUnchangedNotRaw) {
  const double c = 3.0;
  const auto m = make_plain(5);
  auto tops = [&m] {
    HessianOperator op(m.params, m.loss());
    GgnOperator ggn(m.params, [&m] { return m.logits(); });
    ScaledOperator<HessianOperator> adaptive(op, adaptive_scaling(m.params));
    ScaledOperator<GgnOperator> adaptive_ggn(ggn, adaptive_scaling(m.params));
    return std::array<double, 4>{top_eigenvalue(testing::dense_matrix(op)),
                                 top_eigenvalue(testing::dense_matrix(adaptive)),
                                 top_eigenvalue(testing::dense_matrix(ggn)),
                                 top_eigenvalue(testing::dense_matrix(adaptive_ggn))};
  };
  const double loss0 = m.loss()().item<double>();
  const auto before = tops();
  {
    torch::NoGradGuard no_grad;
    m.w1.mul_(c);
    m.b1.mul_(c);
    m.w2.div_(c);
  }
  EXPECT_NEAR(m.loss()().item<double>(), loss0, 1e-14);  // positive homogeneity of ReLU
  const auto after = tops();
  EXPECT_GT(std::abs(after[0] - before[0]), 0.05 * before[0]) << before[0] << " -> " << after[0];
  EXPECT_NEAR(after[1], before[1], 1e-10 * before[1]);
  EXPECT_GT(std::abs(after[2] - before[2]), 0.05 * before[2]) << before[2] << " -> " << after[2];
  EXPECT_NEAR(after[3], before[3], 1e-10 * before[3]);
}

TEST(ScaledOperator, LanczosOnScaledOperatorMatchesDense) {
  const auto m = testing::make_tiny_mlp(21);
  HessianOperator op(m.params, m.loss());
  ScaledOperator<HessianOperator> scaled(op, adaptive_scaling(m.params));
  const Eigen::MatrixXd dense = testing::dense_matrix(scaled);
  Spectra::SymEigsSolver<ScaledOperator<HessianOperator>> solver(scaled, 2, 10);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10);
  ASSERT_EQ(solver.info(), Spectra::CompInfo::Successful);
  const double top = top_eigenvalue(dense);
  EXPECT_NEAR(solver.eigenvalues()[0], top, 1e-8 * std::abs(top));
}

TEST(ScaleInvariantBlocks, FindsLinearAndConvLayersFeedingNorms) {
  models::NormSpec bn;
  bn.kind = models::NormKind::Custom;
  models::MLP mlp(models::MLPOptions(6).hidden_dims({4, 3}).num_classes(2).norm(bn));
  const auto blocks = scale_invariant_blocks(*mlp);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].layer, "net.0");
  EXPECT_EQ(blocks[1].layer, "net.3");
  EXPECT_EQ(blocks[0].names, (std::vector<std::string>{"net.0.weight", "net.0.bias"}));
  EXPECT_TRUE(blocks[1].params[0].is_same(mlp->net->ptr(3)->named_parameters()["weight"]));

  const auto params = mlp->parameters();
  const Eigen::VectorXd d = layer_scaling(params, blocks);
  ASSERT_EQ(d.size(), numel(params));
  const double n0 = block_norm(blocks[0]);
  // The reference in float64 too: a float32 sum of squares is off by ~1e-8 relative.
  const auto sq = [](const torch::Tensor& t) { return t.to(torch::kDouble).pow(2).sum().item<double>(); };
  const double want = std::sqrt(sq(mlp->net->ptr(0)->named_parameters()["weight"]) +
                                sq(mlp->net->ptr(0)->named_parameters()["bias"]));
  EXPECT_NEAR(n0, want, 1e-12 * want);
  EXPECT_EQ(d[0], n0);
  EXPECT_EQ(d[6 * 4 + 4 - 1], n0);     // last bias entry of net.0
  EXPECT_EQ(d[6 * 4 + 4], 1.0);        // net.1.gamma
  EXPECT_EQ(d[d.size() - 1], 1.0);     // the output layer is not scale invariant
  EXPECT_EQ(adaptive_scaling(params).size(), d.size());
  EXPECT_THROW(adaptive_scaling(params, -1.0), c10::Error);
  EXPECT_THROW(layer_scaling({params[0]}, blocks), c10::Error);  // net.3 missing

  models::MLP plain(models::MLPOptions(6).hidden_dims({4}).num_classes(2));
  EXPECT_TRUE(scale_invariant_blocks(*plain).empty());

  torch::nn::Sequential conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)), torch::nn::BatchNorm2d(2),
                             torch::nn::ReLU(), torch::nn::Flatten(), torch::nn::Linear(2, 2));
  const auto conv_blocks = scale_invariant_blocks(*conv);
  ASSERT_EQ(conv_blocks.size(), 1u);
  EXPECT_EQ(conv_blocks[0].layer, "0");
  EXPECT_EQ(conv_blocks[0].names, (std::vector<std::string>{"0.weight", "0.bias"}));
}

}  // namespace
}  // namespace bnl::probes
