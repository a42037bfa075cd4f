#include "bnlandscape/probes/topk_share.h"

#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include "bnlandscape/probes/hessian_operator.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

/// testing::make_tiny_mlp(seed) with its Hessian operator, the dense symmetrised Hessian and
/// that matrix's eigen-decomposition (ascending eigenvalues).
struct DenseHessian {
  explicit DenseHessian(std::uint64_t seed)
      : m(testing::make_tiny_mlp(seed)), op(m.params, m.loss()), h(testing::dense_symmetric(op)), eig(h) {}
  const testing::TinyMlp m;
  HessianOperator op;
  const Eigen::MatrixXd h;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig;
};

TEST(TopkShare, ExactEigenvectorsGiveProjectionNorms) {
  DenseHessian dense(21);
  auto& [m, op, h, eig] = dense;
  const Eigen::Index p = h.rows();
  const int k = 5;
  const Eigen::MatrixXd v = eig.eigenvectors().rightCols(k).rowwise().reverse();  // largest first
  const Eigen::VectorXd g = to_eigen(op.gradient());
  const auto share = topk_gradient_share(v, g);
  ASSERT_EQ(share.size(), static_cast<std::size_t>(k));
  for (int j = 1; j <= k; ++j) {
    const Eigen::MatrixXd vj = v.leftCols(j);
    const Eigen::VectorXd projected = vj * (vj.transpose() * g);  // P_k g
    EXPECT_NEAR(share[static_cast<std::size_t>(j - 1)], projected.squaredNorm() / g.squaredNorm(), 1e-13) << j;
    if (j > 1) {
      EXPECT_GE(share[static_cast<std::size_t>(j - 1)], share[static_cast<std::size_t>(j - 2)]);
    }
  }
  // All P eigenvectors: the whole gradient.
  EXPECT_NEAR(topk_gradient_share(eig.eigenvectors(), g).back(), 1.0, 1e-13);
  EXPECT_EQ(p, 63);
}

TEST(TopkShare, RitzVectorsAgreeWithinTheirDavisKahanBound) {
  DenseHessian dense(21);
  auto& [m, op, h, eig] = dense;
  const Eigen::VectorXd lambda = eig.eigenvalues();
  const Eigen::Index p = h.rows();
  const int k = 4;
  const Eigen::MatrixXd exact = eig.eigenvectors().rightCols(k).rowwise().reverse();
  const Eigen::VectorXd g = to_eigen(op.gradient());

  // Lanczos at a loose tolerance, so that the Ritz vectors' error is visible.
  Spectra::SymEigsSolver<HessianOperator> solver(op, k, 12);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-4);
  ASSERT_EQ(solver.info(), Spectra::CompInfo::Successful);
  const Eigen::MatrixXd ritz = solver.eigenvectors();
  const Eigen::VectorXd theta = solver.eigenvalues();

  const auto got = topk_gradient_share(ritz, g);
  const auto want = topk_gradient_share(exact, g);
  double bound = 0.0;
  for (int j = 0; j < k; ++j) {
    const double residual = (h * ritz.col(j) - theta[j] * ritz.col(j)).norm();
    double gap = INFINITY;
    for (Eigen::Index i = 0; i < p; ++i)
      if (i != p - 1 - j) gap = std::min(gap, std::abs(theta[j] - lambda[i]));
    bound += 2.0 * std::sqrt(2.0) * residual / gap;
    EXPECT_LE(std::abs(got[static_cast<std::size_t>(j)] - want[static_cast<std::size_t>(j)]), bound + 1e-14)
        << "k = " << j + 1 << ", bound " << bound;
  }
  EXPECT_LT(bound, 1e-2);  // tol 1e-4 gives Ritz vectors good to this on this problem
}

TEST(TopkShare, DegenerateInputIsNanAndBadShapesThrow) {
  const Eigen::MatrixXd v = Eigen::MatrixXd::Identity(4, 2);
  const auto zero = topk_gradient_share(v, Eigen::VectorXd::Zero(4));
  EXPECT_TRUE(std::isnan(zero[0]) && std::isnan(zero[1]));
  Eigen::VectorXd g = Eigen::VectorXd::Ones(4);
  const auto half = topk_gradient_share(v, g);
  EXPECT_DOUBLE_EQ(half[0], 0.25);
  EXPECT_DOUBLE_EQ(half[1], 0.5);
  g[3] = NAN;
  EXPECT_TRUE(std::isnan(topk_gradient_share(v, g)[0]));
  EXPECT_THROW(topk_gradient_share(Eigen::MatrixXd(4, 0), Eigen::VectorXd::Ones(4)), c10::Error);
  EXPECT_THROW(topk_gradient_share(v, Eigen::VectorXd::Ones(5)), c10::Error);
}

}  // namespace
}  // namespace bnl::probes
