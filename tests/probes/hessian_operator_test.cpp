#include "bnlandscape/probes/hessian_operator.h"

#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/Eigenvalues>

#include "bnlandscape/probes/spectrum.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

using testing::flat_gradient;

/// Dense H, column j = H e_j (not symmetrised: the tests check symmetry).
Eigen::MatrixXd dense_hessian(const HessianOperator& op) { return testing::dense_matrix(op); }

/// Central differences of the gradient along v: (g(w + h v) - g(w - h v)) / 2h.
torch::Tensor fd_hvp(const std::vector<torch::Tensor>& params, const LossFn& loss, const torch::Tensor& v, double h) {
  const auto saved = snapshot(params);
  const auto w = flatten(saved);
  assign_flat(params, w + h * v);
  const auto gp = flat_gradient(params, loss);
  assign_flat(params, w - h * v);
  const auto gm = flat_gradient(params, loss);
  restore(params, saved);
  return (gp - gm) / (2.0 * h);
}

TEST(HessianOperator, QuadraticProductsAreAv) {
  Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(40, -3.0, 7.0);
  const auto q = testing::make_quadratic(lambda, 11);
  HessianOperator op(q.params, q.loss());
  ASSERT_EQ(op.rows(), 40);
  ASSERT_EQ(op.cols(), 40);
  EXPECT_TRUE(op.finite());
  const Eigen::VectorXd w = q.w();
  EXPECT_NEAR(op.loss(), 0.5 * w.dot(q.a * w), 1e-12);
  EXPECT_LT((to_eigen(op.gradient()) - q.a * w).norm(), 1e-12);

  const Eigen::VectorXd v = testing::eigen_normal(40, 1, 5).col(0);
  Eigen::VectorXd y(40);
  op.perform_op(v.data(), y.data());
  EXPECT_LT((y - q.a * v).norm(), 1e-12 * (q.a * v).norm());
  const auto hv = op.hvp(from_eigen(v, torch::kFloat));  // any floating dtype in, params' dtype out
  EXPECT_EQ(hv.dtype(), torch::kDouble);
  EXPECT_LT((to_eigen(hv) - q.a * v.cast<float>().cast<double>()).norm(), 1e-12 * (q.a * v).norm());
  EXPECT_EQ(op.hvp_count(), 2);
}

TEST(HessianOperator, MlpProductMatchesFiniteDifferences) {
  const auto m = testing::make_tiny_mlp(21);
  HessianOperator op(m.params, m.loss());
  for (std::uint64_t s = 0; s < 3; ++s) {
    const auto v = from_eigen(testing::eigen_normal(op.rows(), 1, 100 + s).col(0), torch::kDouble);
    const auto hv = op.hvp(v);
    const auto fd = fd_hvp(m.params, m.loss(), v, 1e-5);
    EXPECT_LT((hv - fd).norm().item<double>(), 1e-7 * std::max(1.0, hv.norm().item<double>())) << "probe " << s;
  }
}

TEST(HessianOperator, MlpDenseHessianIsSymmetricMatchesFiniteDifferencesAndLanczos) {
  const auto m = testing::make_tiny_mlp(21);
  HessianOperator op(m.params, m.loss());
  const Eigen::Index p = op.rows();
  ASSERT_EQ(p, 6 * 5 + 5 + 5 + 5 + 5 * 3 + 3);
  const Eigen::MatrixXd h = dense_hessian(op);
  EXPECT_EQ(op.hvp_count(), p);
  const double scale = h.cwiseAbs().maxCoeff();
  EXPECT_LT((h - h.transpose()).cwiseAbs().maxCoeff(), 1e-10 * scale);

  Eigen::MatrixXd fd(p, p);
  for (Eigen::Index j = 0; j < p; ++j) {
    fd.col(j) = to_eigen(fd_hvp(m.params, m.loss(), torch::zeros({p}, torch::kDouble).index_fill_(0, torch::tensor({j}), 1.0), 1e-5));
  }
  EXPECT_LT((h - fd).cwiseAbs().maxCoeff(), 1e-7 * scale);

  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> dense(0.5 * (h + h.transpose()));
  const Eigen::VectorXd ev = dense.eigenvalues();  // ascending
  LanczosOptions opt;
  opt.k = 4;
  opt.tol = 1e-12;
  const auto top = lanczos_eigs(op, opt);
  ASSERT_TRUE(top.converged);
  for (int i = 0; i < opt.k; ++i) {
    const double want = ev[p - 1 - i];
    EXPECT_NEAR(top.eigenvalues[static_cast<std::size_t>(i)], want, 1e-6 * std::abs(want)) << i;
  }
  opt.largest = false;
  const auto bottom = lanczos_eigs(op, opt);
  ASSERT_TRUE(bottom.converged);
  EXPECT_LT(ev[0], 0.0);  // a generic network point has negative curvature
  for (int i = 0; i < opt.k; ++i) {
    const double want = ev[i];
    EXPECT_NEAR(bottom.eigenvalues[static_cast<std::size_t>(i)], want, 1e-6 * std::abs(ev[p - 1])) << i;
  }
}

TEST(HessianOperator, SoftmaxAtZeroIsKroneckerOfCentringAndInputMoments) {
  // At W = 0 the softmax is uniform, p = 1/K, and the cross-entropy Hessian is
  // (1/N) sum_n (diag(p) - p p^T) (x) x_n x_n^T = (I/K - 11^T/K^2) (x) S.
  const std::int64_t n = 64, d = 6, k = 4;
  const auto s = testing::make_softmax(n, d, k, 3);
  HessianOperator op({s.w}, s.loss());
  const Eigen::MatrixXd moments = testing::input_moments(s);
  const Eigen::MatrixXd centring =
      Eigen::MatrixXd::Identity(k, k) / double(k) - Eigen::MatrixXd::Ones(k, k) / double(k * k);
  Eigen::MatrixXd want(k * d, k * d);
  for (std::int64_t a = 0; a < k; ++a)
    for (std::int64_t b = 0; b < k; ++b) want.block(a * d, b * d, d, d) = centring(a, b) * moments;
  EXPECT_LT((dense_hessian(op) - want).cwiseAbs().maxCoeff(), 1e-12 * want.cwiseAbs().maxCoeff());
}

TEST(HessianOperator, UnusedAndLinearParametersHaveZeroCurvature) {
  auto a = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_(true);
  auto unused = torch::tensor({3.0}, torch::kDouble).requires_grad_(true);
  auto linear = torch::tensor({4.0}, torch::kDouble).requires_grad_(true);
  HessianOperator op({a, unused, linear}, [&] { return (a * a).sum() + 5.0 * linear.sum(); });
  EXPECT_TRUE(torch::allclose(op.gradient(), torch::tensor({2.0, 4.0, 0.0, 5.0}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(op.hvp(torch::ones({4}, torch::kDouble)), torch::tensor({2.0, 2.0, 0.0, 0.0}, torch::kDouble)));

  // A loss with no curvature at all (the gradient is a constant).
  HessianOperator flat({linear}, [&] { return 5.0 * linear.sum(); });
  EXPECT_TRUE(torch::equal(flat.hvp(torch::ones({1}, torch::kDouble)), torch::zeros({1}, torch::kDouble)));
}

TEST(HessianOperator, WorksUnderNoGradAndInFloat32) {
  auto w = torch::tensor({1.0f, -2.0f, 0.5f}).requires_grad_(true);
  torch::NoGradGuard no_grad;  // the operator switches grad mode on itself
  HessianOperator op({w}, [&] { return w.pow(4).sum(); });
  const auto hv = op.hvp(torch::ones({3}, torch::kDouble));
  EXPECT_EQ(hv.dtype(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(hv, 12.0 * w.detach().pow(2)));
}

TEST(HessianOperator, RejectsBadInput) {
  auto w = torch::ones({3}, torch::kDouble).requires_grad_(true);
  auto frozen = torch::ones({3}, torch::kDouble);
  EXPECT_THROW(HessianOperator({frozen}, [&] { return frozen.sum(); }), c10::Error);
  EXPECT_THROW(HessianOperator({}, [&] { return w.sum(); }), c10::Error);
  EXPECT_THROW(HessianOperator({w}, [&] { return w * 2.0; }), c10::Error);  // not a scalar
  EXPECT_THROW(HessianOperator({w, torch::ones({2}, torch::kFloat).requires_grad_(true)}, [&] { return w.sum(); }),
               c10::Error);  // mixed dtypes
  HessianOperator op({w}, [&] { return w.pow(2).sum(); });
  try {
    op.hvp(torch::ones({4}, torch::kDouble));
    FAIL() << "expected an exception";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a vector of shape [3], got shape [4]"), std::string::npos) << e.what();
  }
}

TEST(HessianOperator, NonFiniteLossIsRecordedNotThrown) {
  auto w = torch::ones({3}, torch::kDouble).requires_grad_(true);
  HessianOperator op({w}, [&] { return w.pow(2).sum() * std::numeric_limits<double>::quiet_NaN(); });
  EXPECT_FALSE(op.finite());
  EXPECT_TRUE(std::isnan(op.loss()));
  EXPECT_TRUE(torch::isnan(op.hvp(torch::ones({3}, torch::kDouble))).all().item<bool>());
}

}  // namespace
}  // namespace bnl::probes
