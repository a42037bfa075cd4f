#include "bnlandscape/probes/trace.h"

#include <gtest/gtest.h>

#include <cmath>

#include "probes/problems.h"

namespace bnl::probes {
namespace {

/// Standard error of the Rademacher Hutchinson mean of n samples:
/// sqrt(2 sum_{i != j} A_ij^2 / n).
double rademacher_stderr(const Eigen::MatrixXd& a, int n) {
  const double off = a.squaredNorm() - a.diagonal().squaredNorm();
  return std::sqrt(2.0 * off / n);
}

TEST(Hutchinson, QuadraticTraceWithinThreeStandardErrors) {
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(50, -1.0, 4.0);
  const auto q = testing::make_quadratic(lambda, 31);
  HessianOperator op(q.params, q.loss());
  const int n = 2000;
  const auto r = hutchinson_trace(op, n, 4);
  EXPECT_EQ(r.samples, n);
  EXPECT_EQ(r.hvp_count, n);
  const double want = lambda.sum();
  EXPECT_LT(std::abs(r.trace - want), 3.0 * r.stderr_) << r.trace << " vs " << want << " +- " << r.stderr_;
  // The sample standard error estimates the known one; with n = 2000 its
  // relative spread is a few percent for this matrix.
  const double se = rademacher_stderr(q.a, n);
  EXPECT_GT(r.stderr_, 0.8 * se);
  EXPECT_LT(r.stderr_, 1.2 * se);
}

TEST(Hutchinson, DiagonalHessianIsExactWithZeroError) {
  // v^T D v = tr(D) for every sign vector v.
  auto w = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble).requires_grad_(true);
  const auto scales = torch::tensor({0.5, -1.0, 4.0}, torch::kDouble);
  HessianOperator op({w}, [&] { return 0.5 * (scales * w * w).sum(); });
  const auto r = hutchinson_trace(op, 10, 0);
  EXPECT_NEAR(r.trace, 3.5, 1e-14);
  EXPECT_NEAR(r.stderr_, 0.0, 1e-14);
}

TEST(Hutchinson, SoftmaxAtZeroTraceIsCentredInputMoments) {
  // tr((I/K - 11^T/K^2) (x) S) = (K - 1)/K tr(S).
  const std::int64_t n = 100, d = 8, k = 3;
  const auto s = testing::make_softmax(n, d, k, 8);
  HessianOperator op({s.w}, s.loss());
  const Eigen::MatrixXd x = testing::to_matrix(s.x);
  const double want = double(k - 1) / k * (x.transpose() * x / double(n)).trace();
  const auto r = hutchinson_trace(op, 1500, 77);
  EXPECT_LT(std::abs(r.trace - want), 3.0 * r.stderr_) << r.trace << " vs " << want << " +- " << r.stderr_;
  EXPECT_LT(r.stderr_, 0.05 * want);
}

TEST(Hutchinson, SameSeedSameNumbersAndSingleSampleHasNoError) {
  const auto q = testing::make_quadratic(Eigen::VectorXd::LinSpaced(20, 0.0, 1.0), 1);
  HessianOperator op(q.params, q.loss());
  const auto a = hutchinson_trace(op, 7, 123);
  const auto b = hutchinson_trace(op, 7, 123);
  const auto c = hutchinson_trace(op, 7, 124);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.stderr_, b.stderr_);
  EXPECT_NE(a.trace, c.trace);
  const auto one = hutchinson_trace(op, 1, 0);
  EXPECT_TRUE(std::isfinite(one.trace));
  EXPECT_TRUE(std::isnan(one.stderr_));
  EXPECT_THROW(hutchinson_trace(op, 0, 0), c10::Error);
}

TEST(Hutchinson, NonFiniteIsNaN) {
  auto w = torch::ones({4}, torch::kDouble).requires_grad_(true);
  HessianOperator nan_loss({w}, [&] { return w.pow(2).sum() / 0.0 * 0.0; });
  const auto r = hutchinson_trace(nan_loss, 5, 0);
  EXPECT_TRUE(std::isnan(r.trace) && std::isnan(r.stderr_));
  EXPECT_EQ(r.hvp_count, 0);

  auto z = torch::tensor({0.0, 1.0}, torch::kDouble).requires_grad_(true);
  HessianOperator inf_curvature({z}, [&] { return z.abs().pow(1.5).sum(); });
  const auto s = hutchinson_trace(inf_curvature, 5, 0);
  EXPECT_TRUE(std::isnan(s.trace));
  EXPECT_EQ(s.hvp_count, 1);
}

}  // namespace
}  // namespace bnl::probes
