#include "bnlandscape/probes/spectrum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include "probes/problems.h"

namespace bnl::probes {
namespace {

Eigen::VectorXd spread_spectrum() {
  // 60 eigenvalues in [-2, 9] with gaps of at least 0.1 at both ends.
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(60, -2.0, 3.0);
  lambda.tail(4) << 6.0, 7.0, 8.0, 9.0;
  return lambda;
}

/// LanczosOptions for the `k` largest eigenvalues from a Krylov space of `ncv` vectors,
/// converged to `tol`; the other fields keep their defaults.
LanczosOptions lanczos_options(int k, int ncv, double tol) {
  LanczosOptions opt;
  opt.k = k;
  opt.ncv = ncv;
  opt.tol = tol;
  return opt;
}

/// The results of `eigs` (lanczos_eigs or power_iteration_eigs) on `op` with options `cold`, then
/// with the same options warm-started at `start`.
template <class Options, class Eigs>
std::pair<EigenResult, EigenResult> cold_and_warm(const HessianOperator& op, const Options& cold,
                                                  const Eigen::VectorXd& start, Eigs eigs) {
  Options warm = cold;
  warm.warm_start = start;
  return {eigs(op, cold), eigs(op, warm)};
}

TEST(Lanczos, QuadraticTopAndBottomEigenvalues) {
  const auto q = testing::make_quadratic(spread_spectrum(), 7);
  HessianOperator op(q.params, q.loss());
  std::vector<double> sorted(q.lambda.data(), q.lambda.data() + q.lambda.size());
  std::sort(sorted.begin(), sorted.end());

  LanczosOptions opt;
  opt.k = 5;
  opt.tol = 1e-12;
  const auto top = lanczos_eigs(op, opt);
  ASSERT_TRUE(top.converged);
  ASSERT_EQ(top.eigenvalues.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(top.eigenvalues[i], sorted[sorted.size() - 1 - i], 1e-8) << i;
  EXPECT_GT(top.hvp_count, 0);
  // The top eigenvector is a unit eigenvector of A for 9.
  ASSERT_EQ(top.top_eigenvector.size(), 60);
  EXPECT_NEAR(top.top_eigenvector.norm(), 1.0, 1e-10);
  EXPECT_LT((q.a * top.top_eigenvector - 9.0 * top.top_eigenvector).norm(), 1e-6);

  opt.largest = false;
  const auto bottom = lanczos_eigs(op, opt);
  ASSERT_TRUE(bottom.converged);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(bottom.eigenvalues[i], sorted[i], 1e-8) << i;
  EXPECT_LT((q.a * bottom.top_eigenvector + 2.0 * bottom.top_eigenvector).norm(), 1e-6);
}

TEST(Lanczos, SoftmaxAtZeroTopEigenvalueIsInputMomentTopOverK) {
  const std::int64_t n = 200, d = 12, k = 5;
  const auto s = testing::make_softmax(n, d, k, 42);
  HessianOperator op({s.w}, s.loss());
  const Eigen::MatrixXd moments = testing::input_moments(s);
  const double lambda_s = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(moments).eigenvalues()(d - 1);
  LanczosOptions opt;
  opt.tol = 1e-12;
  const auto r = lanczos_eigs(op, opt);
  ASSERT_TRUE(r.converged);
  EXPECT_NEAR(r.eigenvalues[0], lambda_s / k, 1e-9 * lambda_s);
}

TEST(Lanczos, IsSpectraOnTheOperatorFromTheDocumentedStart) {
  // HessianOperator is a Spectra operator as it stands; lanczos_eigs adds
  // only bookkeeping around SymEigsSolver started from lanczos_start_vector, and
  // ends Spectra's re-orthogonalisation at the rounding floor of the dot products
  // (spectrum.cpp), which moves the results by rounding only.
  testing::TinyMlpHessian tiny(3);
  HessianOperator& op = tiny.op;
  LanczosOptions opt = lanczos_options(3, 9, 1e-8);
  opt.seed = 4;
  const auto ours = lanczos_eigs(op, opt);
  ASSERT_TRUE(ours.converged);
  Spectra::SymEigsSolver<HessianOperator> solver(op, opt.k, opt.ncv);
  const Eigen::VectorXd start = lanczos_start_vector(opt, op.rows());
  solver.init(start.data());
  solver.compute(Spectra::SortRule::LargestAlge, opt.max_iter, opt.tol, Spectra::SortRule::LargestAlge);
  ASSERT_EQ(solver.info(), Spectra::CompInfo::Successful);
  const Eigen::VectorXd theirs = solver.eigenvalues();
  for (int i = 0; i < opt.k; ++i)
    EXPECT_NEAR(ours.eigenvalues[static_cast<std::size_t>(i)], theirs[i], 1e-12 * std::abs(theirs[0])) << i;
  EXPECT_EQ(ours.hvp_count, solver.num_operations());

  Eigen::VectorXd warm = Eigen::VectorXd::Ones(op.rows());
  opt.warm_start = warm;
  const Eigen::VectorXd mixed = lanczos_start_vector(opt, op.rows());
  EXPECT_NEAR((mixed - warm.normalized()).norm(), 1e-3, 1e-15);
}

TEST(Lanczos, SameSeedSameNumbersAndWeightsUntouched) {
  const auto m = testing::make_tiny_mlp(5);
  const auto before = snapshot(m.params);
  HessianOperator op(m.params, m.loss());
  LanczosOptions opt;
  opt.k = 3;
  opt.seed = 9;
  const auto a = lanczos_eigs(op, opt);
  const auto b = lanczos_eigs(op, opt);
  EXPECT_EQ(a.eigenvalues, b.eigenvalues);
  EXPECT_EQ(a.hvp_count, b.hvp_count);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(m.params[i], before[i])) << i;
}

TEST(Lanczos, NonConvergenceIsReportedAsNaN) {
  const auto q = testing::make_quadratic(Eigen::VectorXd::LinSpaced(300, 0.0, 1.0), 3);
  HessianOperator op(q.params, q.loss());
  LanczosOptions opt = lanczos_options(6, 13, 1e-14);
  opt.max_iter = 1;
  const auto r = lanczos_eigs(op, opt);
  EXPECT_FALSE(r.converged);
  ASSERT_EQ(r.eigenvalues.size(), 6u);
  EXPECT_TRUE(std::any_of(r.eigenvalues.begin(), r.eigenvalues.end(), [](double x) { return std::isnan(x); }));
  EXPECT_GT(r.hvp_count, 0);
}

TEST(Lanczos, RejectsBadOptions) {
  const auto q = testing::make_quadratic(Eigen::VectorXd::LinSpaced(20, 1.0, 2.0), 3);
  HessianOperator op(q.params, q.loss());
  auto expect_message = [&](const LanczosOptions& opt, const std::string& what) {
    try {
      lanczos_eigs(op, opt);
      ADD_FAILURE() << "expected an exception mentioning " << what;
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  LanczosOptions opt;
  opt.k = 20;
  expect_message(opt, "expected 1 <= k < number of parameters (20), got k = 20");
  opt.k = 0;
  expect_message(opt, "got k = 0");
  opt.k = 3;
  opt.ncv = 3;
  expect_message(opt, "got ncv = 3");
  opt.ncv = 21;
  expect_message(opt, "got ncv = 21");
  opt.ncv = 0;
  opt.warm_start = Eigen::VectorXd::Ones(19);
  expect_message(opt, "expected a warm start of size 20, got 19");
  opt.warm_start = Eigen::VectorXd::Zero(20);
  expect_message(opt, "nonzero warm start");
  opt.warm_start.resize(0);
  opt.tol = 0.0;
  expect_message(opt, "expected tol > 0");
  // ncv = P is allowed (the whole space).
  LanczosOptions full;
  full.k = 2;
  full.ncv = 20;
  full.tol = 1e-10;
  EXPECT_TRUE(lanczos_eigs(op, full).converged);
}

TEST(PowerIteration, AgreesWithLanczosOnSeparatedSpectrum) {
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(80, -0.5, 0.5);
  lambda.tail(4) << 2.0, 4.0, 8.0, 16.0;
  const auto q = testing::make_quadratic(lambda, 17);
  HessianOperator op(q.params, q.loss());
  const auto power = power_iteration_eigs(op, 4, 1e-12, 500, 1);
  ASSERT_TRUE(power.converged);
  LanczosOptions opt;
  opt.k = 4;
  opt.tol = 1e-12;
  const auto lanczos = lanczos_eigs(op, opt);
  ASSERT_TRUE(lanczos.converged);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(power.eigenvalues[i], lanczos.eigenvalues[i], 1e-8 * lanczos.eigenvalues[i]) << i;
  }
  EXPECT_NEAR(std::abs(power.top_eigenvector.dot(lanczos.top_eigenvector)), 1.0, 1e-8);
  // The same seed gives the same numbers.
  const auto again = power_iteration_eigs(op, 4, 1e-12, 500, 1);
  EXPECT_EQ(power.eigenvalues, again.eigenvalues);
  EXPECT_EQ(power.hvp_count, again.hvp_count);
}

TEST(PowerIteration, MaxIterReachedIsNaN) {
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(50, 0.0, 1.0);
  const auto q = testing::make_quadratic(lambda, 2);
  HessianOperator op(q.params, q.loss());
  const auto r = power_iteration_eigs(op, 2, 1e-14, 5, 0);
  EXPECT_FALSE(r.converged);
  EXPECT_TRUE(std::isnan(r.eigenvalues[0]) && std::isnan(r.eigenvalues[1]));
  EXPECT_EQ(r.hvp_count, 10);
  EXPECT_EQ(r.top_eigenvector.size(), 0);
  EXPECT_THROW(power_iteration_eigs(op, 50, 1e-3, 10, 0), c10::Error);
}

TEST(WarmStart, ExactEigenvectorNeedsFewerProducts) {
  // Tightly clustered top so that a cold start needs restarts.
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(300, 0.0, 9.5);
  lambda[299] = 10.0;
  lambda[298] = 9.9;
  const auto q = testing::make_quadratic(lambda, 23);
  HessianOperator op(q.params, q.loss());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> dense(q.a);
  const Eigen::VectorXd exact = dense.eigenvectors().col(299);

  LanczosOptions cold;
  cold.tol = 1e-10;
  const auto [rc, rw] = cold_and_warm(op, cold, exact, [](const HessianOperator& o, const LanczosOptions& opt) {
    return lanczos_eigs(o, opt);
  });
  ASSERT_TRUE(rc.converged && rw.converged);
  EXPECT_NEAR(rw.eigenvalues[0], 10.0, 1e-8);
  EXPECT_LT(rw.hvp_count, rc.hvp_count);

  PowerIterationOptions pcold;
  pcold.tol = 1e-8;
  pcold.max_iter = 5000;
  const auto [pc, pw] =
      cold_and_warm(op, pcold, exact, [](const HessianOperator& o, const PowerIterationOptions& opt) {
        return power_iteration_eigs(o, opt);
      });
  ASSERT_TRUE(pc.converged && pw.converged);
  EXPECT_NEAR(pw.eigenvalues[0], 10.0, 1e-8);
  EXPECT_LT(pw.hvp_count, pc.hvp_count);
  EXPECT_LE(pw.hvp_count, 3);
}

TEST(NonFinite, NaNLossGivesNaNEigenvaluesWithoutProducts) {
  auto w = torch::ones({10}, torch::kDouble).requires_grad_(true);
  HessianOperator op({w}, [&] { return w.pow(2).sum() + std::numeric_limits<double>::quiet_NaN(); });
  LanczosOptions opt;
  opt.k = 2;
  const auto r = lanczos_eigs(op, opt);
  EXPECT_FALSE(r.converged);
  EXPECT_TRUE(std::isnan(r.eigenvalues[0]) && std::isnan(r.eigenvalues[1]));
  EXPECT_EQ(r.top_eigenvector.size(), 0);
  const auto p = power_iteration_eigs(op, 2, 1e-3, 100, 0);
  EXPECT_FALSE(p.converged);
  EXPECT_TRUE(std::isnan(p.eigenvalues[0]) && std::isnan(p.eigenvalues[1]));
}

TEST(NonFinite, NonFiniteProductStopsTheSolvers) {
  // Finite loss and gradient, but d^2/dw^2 |w|^1.5 = 0.75 |w|^-0.5 is infinite at w = 0.
  auto w = torch::tensor({0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, torch::kDouble).requires_grad_(true);
  HessianOperator op({w}, [&] { return w.abs().pow(1.5).sum(); });
  ASSERT_TRUE(op.finite());
  LanczosOptions opt;
  opt.k = 2;
  const auto r = lanczos_eigs(op, opt);
  EXPECT_FALSE(r.converged);
  EXPECT_TRUE(std::isnan(r.eigenvalues[0]) && std::isnan(r.eigenvalues[1]));
  EXPECT_LE(r.hvp_count, 1);
  const auto p = power_iteration_eigs(op, 2, 1e-3, 100, 0);
  EXPECT_FALSE(p.converged);
  EXPECT_TRUE(std::isnan(p.eigenvalues[0]));
  EXPECT_EQ(p.hvp_count, 1);
}

}  // namespace
}  // namespace bnl::probes
