#include "bnlandscape/probes/ggn_operator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include "bnlandscape/models/mlp.h"
#include "bnlandscape/probes/density.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/probes/trace.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

namespace F = torch::nn::functional;

enum class Norm { Train, Eval, None };

/// TinyMlp (6 -> 5 -> BN -> ReLU -> 3, float64, 8 examples) with BN in training mode, in
/// evaluation mode (running statistics set to generic values), or left out; split into
/// `chunks` micro-batches of equal size, each its own BN batch.
struct Net {
  testing::TinyMlp m;
  Norm norm = Norm::Train;
  int chunks = 1;
  std::vector<torch::Tensor> params;

  torch::Tensor forward(const torch::Tensor& x) const {
    auto h = F::linear(x, m.w1, m.b1);
    if (norm != Norm::None) {
      auto bn = m.bn;  // a holder copy: forward() is not const
      h = bn->forward(h);
    }
    return F::linear(torch::relu(h), m.w2, m.b2);
  }
  std::int64_t chunk_size() const { return m.x.size(0) / chunks; }
  std::vector<LogitsFn> logits() const {
    std::vector<LogitsFn> fns;
    for (int c = 0; c < chunks; ++c) {
      const auto x = m.x.narrow(0, c * chunk_size(), chunk_size());
      fns.push_back([this, x] { return forward(x); });
    }
    return fns;
  }
  LossFn loss() const {
    return [this] {
      torch::Tensor total;
      for (int c = 0; c < chunks; ++c) {
        const auto b = c * chunk_size();
        auto l = F::cross_entropy(forward(m.x.narrow(0, b, chunk_size())), m.labels.narrow(0, b, chunk_size()));
        total = total.defined() ? total + l : l;
      }
      return total / static_cast<double>(chunks);
    };
  }
};

Net make_net(Norm norm, int chunks) {
  Net n;
  n.m = testing::make_tiny_mlp(21);
  n.norm = norm;
  n.chunks = chunks;
  if (norm == Norm::Eval) {
    torch::NoGradGuard no_grad;
    n.m.bn->eval();
    n.m.bn->running_mean.copy_(0.1 * testing::to_tensor(testing::eigen_normal(5, 1, 7)).view({5}));
    n.m.bn->running_var.copy_(0.5 + testing::to_tensor(testing::eigen_normal(5, 1, 8)).view({5}).abs());
  }
  n.params = norm == Norm::None ? std::vector<torch::Tensor>{n.m.w1, n.m.b1, n.m.w2, n.m.b2} : n.m.params;
  return n;
}

/// Rows d z_ik / dw [N K, P] of one micro-batch's logits, by one backward pass per logit.
Eigen::MatrixXd jacobian(const std::vector<torch::Tensor>& params, const torch::Tensor& z) {
  const std::int64_t n = z.size(0), k = z.size(1);
  Eigen::MatrixXd j(n * k, numel(params));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < k; ++c) {
      auto g = torch::autograd::grad({z[i][c]}, params, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
      for (std::size_t t = 0; t < g.size(); ++t)
        if (!g[t].defined()) g[t] = torch::zeros_like(params[t]);
      j.row(i * k + c) = to_eigen(flatten(g)).transpose();
    }
  }
  return j;
}

/// (1/M) sum_m J_m^T H_m J_m from the exact Jacobians, H_m = blockdiag (diag(p) - p p^T) / N_m.
Eigen::MatrixXd reference_ggn(const Net& net) {
  const Eigen::Index p = numel(net.params);
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(p, p);
  for (const auto& fn : net.logits()) {
    const auto z = fn();
    const Eigen::MatrixXd j = jacobian(net.params, z);
    const Eigen::MatrixXd prob = testing::to_matrix(torch::softmax(z.detach(), 1));
    const Eigen::Index n = prob.rows(), k = prob.cols();
    Eigen::MatrixXd hout = Eigen::MatrixXd::Zero(n * k, n * k);
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::VectorXd pi = prob.row(i).transpose();
      hout.block(i * k, i * k, k, k) = (Eigen::MatrixXd(pi.asDiagonal()) - pi * pi.transpose()) / double(n);
    }
    g += j.transpose() * hout * j;
  }
  return g / static_cast<double>(net.chunks);
}

/// (1/M) sum_m sum_ik (dL_m / dz_ik) d^2 z_ik / dw^2, each logit's Hessian by HessianOperator.
Eigen::MatrixXd reference_residual(const Net& net) {
  const Eigen::Index p = numel(net.params);
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(p, p);
  const auto fns = net.logits();
  for (int c = 0; c < net.chunks; ++c) {
    const auto z = fns[static_cast<std::size_t>(c)]().detach();
    const auto labels = net.m.labels.narrow(0, c * net.chunk_size(), net.chunk_size());
    const auto dl = (torch::softmax(z, 1) - torch::one_hot(labels, z.size(1)).to(torch::kDouble)) / double(z.size(0));
    for (std::int64_t i = 0; i < z.size(0); ++i) {
      for (std::int64_t k = 0; k < z.size(1); ++k) {
        const auto& fn = fns[static_cast<std::size_t>(c)];
        HessianOperator logit(net.params, [&fn, i, k] { return fn()[i][k]; });
        r += dl[i][k].item<double>() * testing::dense_matrix(logit);
      }
    }
  }
  return r / static_cast<double>(net.chunks);
}

double max_abs(const Eigen::MatrixXd& m) { return m.cwiseAbs().maxCoeff(); }

struct Case {
  Norm norm;
  int chunks;
  const char* name;
};

class GgnCases : public ::testing::TestWithParam<Case> {};

TEST_P(GgnCases, ColumnsEqualJacobianReferenceAndSurrogateHessian) {
  const auto net = make_net(GetParam().norm, GetParam().chunks);
  GgnOperator op(net.params, net.logits());
  ASSERT_TRUE(op.finite());
  const Eigen::MatrixXd g = testing::dense_matrix(op);
  EXPECT_EQ(op.product_count(), op.rows());
  const Eigen::MatrixXd want = reference_ggn(net);
  const double scale = max_abs(want);
  ASSERT_GT(scale, 0.0);
  EXPECT_LT(max_abs(g - want), 1e-10 * scale);

  HessianOperator surrogate(net.params, ggn_surrogate_loss(net.logits()));
  EXPECT_EQ(surrogate.loss(), 0.0);
  EXPECT_EQ(surrogate.gradient().abs().max().item<double>(), 0.0);
  EXPECT_LT(max_abs(testing::dense_matrix(surrogate) - want), 1e-10 * scale);
}

TEST_P(GgnCases, SymmetricPositiveSemiDefiniteAndHessianMinusGgnIsResidual) {
  const auto net = make_net(GetParam().norm, GetParam().chunks);
  GgnOperator op(net.params, net.logits());
  const Eigen::MatrixXd g = testing::dense_matrix(op);
  const double scale = max_abs(g);
  EXPECT_LT(max_abs(g - g.transpose()), 1e-12 * scale);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(0.5 * (g + g.transpose()));
  const double top = eig.eigenvalues().maxCoeff();
  EXPECT_GE(eig.eigenvalues().minCoeff(), -1e-10 * top);

  HessianOperator hess(net.params, net.loss());
  const Eigen::MatrixXd h = testing::dense_matrix(hess);
  const Eigen::MatrixXd r = reference_residual(net);
  EXPECT_GT(max_abs(r), 1e-3 * max_abs(h));  // the residual is not trivially zero here
  EXPECT_LT(max_abs(h - g - r), 1e-9 * max_abs(h));
}

TEST_P(GgnCases, LanczosTopEigenvaluesEqualDenseOnes) {
  const auto net = make_net(GetParam().norm, GetParam().chunks);
  const Eigen::MatrixXd want_g = reference_ggn(net);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> dense(0.5 * (want_g + want_g.transpose()));
  const Eigen::Index p = want_g.rows();
  const int k = 3;

  // The GGN through the existing routine, as the Hessian of the surrogate loss.
  HessianOperator surrogate(net.params, ggn_surrogate_loss(net.logits()));
  LanczosOptions opt;
  opt.k = k;
  opt.tol = 1e-10;
  const auto top = lanczos_eigs(surrogate, opt);
  ASSERT_TRUE(top.converged);

  // The R-operator GGN, through Spectra directly (lanczos_eigs takes a HessianOperator).
  GgnOperator op(net.params, net.logits());
  Spectra::SymEigsSolver<GgnOperator> solver(op, k, 12);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10);
  ASSERT_EQ(solver.info(), Spectra::CompInfo::Successful);
  const Eigen::VectorXd ritz = solver.eigenvalues();
  for (int i = 0; i < k; ++i) {
    const double want = dense.eigenvalues()[p - 1 - i];
    EXPECT_NEAR(top.eigenvalues[static_cast<std::size_t>(i)], want, 1e-8 * dense.eigenvalues()[p - 1]) << i;
    EXPECT_NEAR(ritz[i], want, 1e-8 * dense.eigenvalues()[p - 1]) << i;
  }
}

TEST_P(GgnCases, TraceAndDensityOfSurrogateAgreeWithDenseGgn) {
  // The existing trace and SLQ routines run on G through ggn_surrogate_loss unchanged.
  const auto net = make_net(GetParam().norm, GetParam().chunks);
  const Eigen::MatrixXd g = reference_ggn(net);
  const Eigen::VectorXd ev = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(0.5 * (g + g.transpose())).eigenvalues();
  HessianOperator surrogate(net.params, ggn_surrogate_loss(net.logits()));

  const auto trace = hutchinson_trace(surrogate, 400, 3);
  EXPECT_LT(std::abs(trace.trace - g.trace()), 4.0 * trace.stderr_) << trace.trace << " vs " << g.trace();

  DensityOptions opt;
  opt.runs = 2;
  opt.steps = static_cast<int>(g.rows());
  const auto density = slq_density(surrogate, opt);
  double lo = INFINITY, hi = -INFINITY;
  for (double x : density.nodes) {
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const double top = ev[ev.size() - 1];
  EXPECT_NEAR(hi, top, 1e-8 * top);  // full Lanczos finds the extreme eigenvalues
  EXPECT_GE(lo, -1e-10 * top);       // and no negative curvature: G is PSD
}

INSTANTIATE_TEST_SUITE_P(Ggn, GgnCases,
                         ::testing::Values(Case{Norm::Train, 1, "BnTrain"}, Case{Norm::Eval, 1, "BnEval"},
                                           Case{Norm::None, 1, "NoBn"}, Case{Norm::Train, 2, "BnTrainMicro2"},
                                           Case{Norm::None, 2, "NoBnMicro2"}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(GgnOperator, EqualsHessianForLinearLogits) {
  // Logits linear in w: d^2 z = 0, so H = G (softmax regression).
  const auto s = testing::make_softmax(32, 5, 4, 3);
  {
    torch::NoGradGuard no_grad;
    s.w.copy_(0.3 * testing::to_tensor(testing::eigen_normal(4, 5, 9)));
  }
  GgnOperator op({s.w}, [&s] { return s.x.mm(s.w.t()); });
  HessianOperator hess({s.w}, s.loss());
  const Eigen::MatrixXd h = testing::dense_matrix(hess);
  EXPECT_LT(max_abs(testing::dense_matrix(op) - h), 1e-13 * max_abs(h));
  EXPECT_EQ(op.hvp_count(), op.product_count());
  EXPECT_EQ(op.options().dtype(), torch::kDouble);

  // With ranks: each product is averaged in exactly one call (here a stand-in that halves).
  int calls = 0;
  GgnOperator sharded({s.w}, [&s] { return s.x.mm(s.w.t()); }, [&calls](torch::Tensor& t) {
    ++calls;
    t.mul_(0.5);
  });
  const auto v = torch::ones({20}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(sharded.gvp(v), 0.5 * op.gvp(v), 1e-14, 0.0));
  EXPECT_EQ(calls, 1);
}

TEST(GgnOperator, NonFiniteLogitsAreRecordedNotThrown) {
  auto w = torch::ones({2, 3}, torch::kDouble).requires_grad_(true);
  const auto x = torch::tensor({{1.0, std::numeric_limits<double>::quiet_NaN()}}, torch::kDouble);
  GgnOperator op({w}, [&] { return x.mm(w); });
  EXPECT_FALSE(op.finite());
  EXPECT_TRUE(torch::isnan(op.gvp(torch::ones({6}, torch::kDouble))).any().item<bool>());
  HessianOperator surrogate({w}, ggn_surrogate_loss({[&] { return x.mm(w); }}));
  EXPECT_FALSE(surrogate.finite());
}

TEST(GgnOperator, RejectsBadInputAndChangedWeights) {
  auto w = torch::ones({2, 3}, torch::kDouble).requires_grad_(true);
  const auto x = torch::ones({4, 2}, torch::kDouble);
  auto frozen = torch::ones({2, 3}, torch::kDouble);
  EXPECT_THROW(GgnOperator({frozen}, [&] { return x.mm(frozen); }), c10::Error);
  EXPECT_THROW(GgnOperator({w}, std::vector<LogitsFn>{}), c10::Error);
  EXPECT_THROW(GgnOperator({w}, [&] { return x.mm(w).sum(); }), c10::Error);  // not [N, K]
  EXPECT_THROW(GgnOperator({w}, [&] { return x.mm(w).to(torch::kFloat); }), c10::Error);  // dtype
  EXPECT_THROW(ggn_surrogate_loss({}), c10::Error);
  GgnOperator op({w}, [&] { return x.mm(w); });
  try {
    op.gvp(torch::ones({5}, torch::kDouble));
    FAIL() << "expected an exception";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a vector of shape [6], got shape [5]"), std::string::npos) << e.what();
  }
  const auto saved = snapshot({w});
  {
    torch::NoGradGuard no_grad;
    w.add_(1.0);
  }
  EXPECT_THROW(op.gvp(torch::ones({6}, torch::kDouble)), c10::Error);
  restore({w}, saved);
  EXPECT_NO_THROW(op.gvp(torch::ones({6}, torch::kDouble)));
}

}  // namespace
}  // namespace bnl::probes

namespace bnl::probes {
namespace {

// Cost of one G product against one H product on the Fashion MLP shape (784-512-256-128-10,
// BN after each hidden Linear, training mode, probe set 1024, float32): a measurement, not a
// check; run with --gtest_also_run_disabled_tests --gtest_filter='GgnTiming*'.
TEST(GgnTiming, DISABLED_FashionMlpProductCost) {
  torch::manual_seed(0);
  for (const bool with_bn : {false, true}) {
    models::NormSpec norm;
    norm.kind = with_bn ? models::NormKind::Custom : models::NormKind::None;
    models::MLP model(models::MLPOptions(784).norm(norm));
    model->train();
    models::set_running_stats_updates(*model, false);
    const auto x = torch::randn({1024, 784});
    const auto y = torch::randint(0, 10, {1024}, torch::kLong);
    const auto params = model->parameters();
    auto logits = [&] { return model->forward(x); };
    HessianOperator hess(params, [&] { return torch::nn::functional::cross_entropy(logits(), y); });
    GgnOperator ggn(params, logits);
    HessianOperator surrogate(params, ggn_surrogate_loss({logits}));
    const auto v = torch::randn({hess.rows()});
    auto time = [&](auto&& product) {
      product();  // warm-up
      const int reps = 5;
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) product();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    };
    const double th = time([&] { hess.hvp(v); });
    const double tg = time([&] { ggn.gvp(v); });
    const double ts = time([&] { surrogate.hvp(v); });
    std::printf("%s BN: H v %.4f s, G v (R-op) %.4f s = %.2fx, G v (surrogate) %.4f s = %.2fx\n",
                with_bn ? "with" : "without", th, tg, tg / th, ts, ts / th);
  }
}

}  // namespace
}  // namespace bnl::probes
