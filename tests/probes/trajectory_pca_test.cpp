#include "bnlandscape/probes/trajectory_pca.h"

#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/QR>
#include <Eigen/SVD>

#include "bnlandscape/core/error.h"
#include "bnlandscape/probes/flat_params.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

constexpr Eigen::Index kP = 60;

Eigen::MatrixXd orthonormal(Eigen::Index p, Eigen::Index k, std::uint64_t seed) {
  return Eigen::HouseholderQR<Eigen::MatrixXd>(testing::eigen_normal(p, k, seed)).householderQ() *
         Eigen::MatrixXd::Identity(p, k);
}

/// n checkpoints w_c + a_i q1 + b_i q2 (+ noise * q3), the centre being checkpoint `centre`.
std::vector<torch::Tensor> path(const Eigen::MatrixXd& q, const Eigen::VectorXd& wc, int n, int centre, double noise) {
  std::vector<torch::Tensor> out;
  for (int i = 0; i < n; ++i) {
    const double t = 0.4 * (i - centre);
    const Eigen::VectorXd w = wc + (3.0 * std::sin(t) + 0.5 * t) * q.col(0) + (1.0 - std::cos(t)) * q.col(1) +
                              noise * std::sin(3.0 * t) * q.col(2);
    out.push_back(from_eigen(w, torch::kDouble));
  }
  return out;
}

TEST(TrajectoryPca, PlanarPathGivesItsPlaneAndFullVariance) {
  const Eigen::MatrixXd q = orthonormal(kP, 3, 1);
  const Eigen::VectorXd wc = testing::eigen_normal(kP, 1, 2).col(0);
  const int n = 9, centre = 6;
  const auto ckpts = path(q, wc, n, centre, 0.0);
  const auto pca = trajectory_pca(ckpts, ckpts[centre]);

  Eigen::MatrixXd u(kP, 2);
  u << to_eigen(pca.directions[0]), to_eigen(pca.directions[1]);
  EXPECT_NEAR((u.transpose() * u - Eigen::Matrix2d::Identity()).norm(), 0.0, 1e-12);
  // sin of the largest principal angle between span(u) and span(q1, q2).
  const Eigen::MatrixXd q2 = q.leftCols(2);
  const double sin_angle = Eigen::JacobiSVD<Eigen::MatrixXd>(u - q2 * (q2.transpose() * u)).singularValues()[0];
  EXPECT_LT(sin_angle, 1e-6);
  EXPECT_NEAR(pca.explained_variance[0] + pca.explained_variance[1], 1.0, 1e-12);
  EXPECT_GT(pca.explained_variance[0], pca.explained_variance[1]);

  ASSERT_EQ(pca.alpha.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(pca.alpha[centre], 0.0);
  EXPECT_EQ(pca.beta[centre], 0.0);
  for (int i = 0; i < n; ++i) {  // the plane holds the path: w_i = w_c + alpha_i u_1 + beta_i u_2
    const Eigen::VectorXd back = wc + pca.alpha[i] * u.col(0) + pca.beta[i] * u.col(1);
    EXPECT_LT((back - to_eigen(ckpts[i])).norm(), 1e-12) << i;
  }
}

TEST(TrajectoryPca, MatchesUncentredSvdOfOffsets) {
  const Eigen::MatrixXd q = orthonormal(kP, 3, 4);
  const Eigen::VectorXd wc = testing::eigen_normal(kP, 1, 5).col(0);
  const int n = 7;
  auto ckpts = path(q, wc, n, 0, 0.3);
  for (auto& c : ckpts) c = c.to(torch::kFloat).to(torch::kDouble);  // any dtype; here exact in float
  const auto centre = from_eigen(wc, torch::kDouble);
  const auto pca = trajectory_pca(ckpts, centre);

  Eigen::MatrixXd d(n, kP);
  for (int i = 0; i < n; ++i) d.row(i) = (to_eigen(ckpts[i]) - wc).transpose();
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(d, Eigen::ComputeThinV);
  const Eigen::VectorXd s2 = svd.singularValues().array().square();
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(pca.explained_variance[j], s2[j] / s2.sum(), 1e-12) << j;
    EXPECT_NEAR(std::abs(to_eigen(pca.directions[j]).dot(svd.matrixV().col(j))), 1.0, 1e-10) << j;
  }
  EXPECT_LT(pca.explained_variance[0] + pca.explained_variance[1], 1.0);
  // Sign convention: the largest coordinate along each direction is positive.
  for (const auto* coord : {&pca.alpha, &pca.beta}) {
    double big = 0.0;
    for (double a : *coord) big = std::abs(a) > std::abs(big) ? a : big;
    EXPECT_GT(big, 0.0);
  }
}

TEST(TrajectoryPca, RejectsTooFewOrCollinearCheckpoints) {
  const auto c = torch::zeros({4}, torch::kDouble);
  const auto a = torch::tensor({1.0, 0.0, 0.0, 0.0}, torch::kDouble);
  EXPECT_THROW(trajectory_pca({a}, c), bnl::ConfigError);
  EXPECT_THROW(trajectory_pca({a, 2.0 * a, c}, c), bnl::DataError);
  EXPECT_THROW(trajectory_pca({a, torch::zeros({3}, torch::kDouble)}, c), c10::Error);
}

}  // namespace
}  // namespace bnl::probes
