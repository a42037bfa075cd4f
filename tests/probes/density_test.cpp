// Stochastic Lanczos quadrature against the exact spectrum of a Hessian formed column by column.
#include "bnlandscape/probes/density.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <Eigen/Eigenvalues>
#include <torch/autograd.h>

#include "probes/problems.h"

namespace bnl::probes {
namespace {

Eigen::MatrixXd dense_hessian(const HessianOperator& op) { return testing::dense_symmetric(op); }

std::vector<double> exact_eigenvalues(const HessianOperator& op) {
  const Eigen::VectorXd ev = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(dense_hessian(op)).eigenvalues();
  return {ev.data(), ev.data() + ev.size()};
}

struct MeanSe {
  double mean = 0, se = 0;
};

MeanSe mean_se(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  MeanSe m;
  m.mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0;
  for (double v : x) ss += (v - m.mean) * (v - m.mean);
  m.se = std::sqrt(ss / (n - 1) / n);
  return m;
}

/// DensityOptions of `runs` Lanczos runs of `steps` steps from start vectors seeded by `seed`.
DensityOptions density_options(int runs, int steps, std::uint64_t seed) {
  DensityOptions opt;
  opt.runs = runs;
  opt.steps = steps;
  opt.seed = seed;
  return opt;
}

/// Trapezoidal integral of |a - b| over an equally spaced grid of spacing h.
double l1(const std::vector<double>& a, const std::vector<double>& b, double h) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - b[i]);
    s += (i == 0 || i + 1 == a.size()) ? 0.5 * d : d;
  }
  return s * h;
}

TEST(SlqDensity, TraceAndTraceOfSquareWithinThreeStandardErrorsOfTheDenseHessian) {
  const auto m = testing::make_tiny_mlp(5);
  HessianOperator op(m.params, m.loss());
  const auto ev = exact_eigenvalues(op);
  double tr = 0, tr2 = 0;
  for (double l : ev) {
    tr += l;
    tr2 += l * l;
  }
  DensityOptions opt = density_options(40, 12, 11);
  const auto r = slq_density(op, opt);
  EXPECT_EQ(r.hvp_count, 40 * 12);
  const auto t1 = mean_se(slq_trace_estimates(r, 1));
  const auto t2 = mean_se(slq_trace_estimates(r, 2));
  ASSERT_GT(t1.se, 0.0);
  ASSERT_GT(t2.se, 0.0);
  EXPECT_LT(std::abs(t1.mean - tr), 3.0 * t1.se) << t1.mean << " vs " << tr << " +- " << t1.se;
  EXPECT_LT(std::abs(t2.mean - tr2), 3.0 * t2.se) << t2.mean << " vs " << tr2 << " +- " << t2.se;
  // The sample standard errors estimate the known ones: for Rademacher v,
  // Var(v^T A v) = 2 sum_(i != j) A_ij^2, with A = H and A = H^2.
  const Eigen::MatrixXd h = dense_hessian(op), h2 = h * h;
  const auto known_se = [&](const Eigen::MatrixXd& a) {
    return std::sqrt(2.0 * (a.squaredNorm() - a.diagonal().squaredNorm()) / opt.runs);
  };
  EXPECT_GT(t1.se, 0.6 * known_se(h));
  EXPECT_LT(t1.se, 1.5 * known_se(h));
  EXPECT_GT(t2.se, 0.6 * known_se(h2));
  EXPECT_LT(t2.se, 1.5 * known_se(h2));
}

/// Run r's start vector as density.h documents it, re-derived here: entries +-1 from the bits
/// of std::mt19937_64(seed + r * 0x9E3779B97F4A7C15), low bit first, 64 entries per word.
Eigen::VectorXd documented_start(std::uint64_t seed, int run, Eigen::Index p) {
  std::mt19937_64 engine(seed + static_cast<std::uint64_t>(run) * 0x9E3779B97F4A7C15ULL);
  Eigen::VectorXd v(p);
  std::uint64_t word = 0;
  for (Eigen::Index i = 0; i < p; ++i) {
    if (i % 64 == 0) word = engine();
    v[i] = (word >> (i % 64)) & 1u ? 1.0 : -1.0;
  }
  return v;
}

TEST(SlqDensity, QuadratureOfEachRunIsExactForLowDegreePolynomialsOfItsStart) {
  // Gauss quadrature with M nodes is exact for degree < 2M: P sum w theta^k = v^T H^k v for
  // the run's Rademacher start v, k = 0 .. 2M - 1.
  const auto m = testing::make_tiny_mlp(8);
  HessianOperator op(m.params, m.loss());
  const Eigen::MatrixXd h = dense_hessian(op);
  DensityOptions opt = density_options(3, 3, 2);
  const auto r = slq_density(op, opt);
  for (int k = 0; k <= 5; ++k) {
    const auto est = slq_trace_estimates(r, k);
    for (int run = 0; run < 3; ++run) {
      const Eigen::VectorXd v = documented_start(opt.seed, run, h.rows());
      Eigen::VectorXd hk = v;
      for (int i = 0; i < k; ++i) hk = h * hk;
      const double want = v.dot(hk);
      EXPECT_NEAR(est[run], want, 1e-9 * std::max(1.0, std::abs(want))) << "k " << k << " run " << run;
    }
  }
  // Degree 2M is not exact in general.
  const auto est6 = slq_trace_estimates(r, 6);
  const Eigen::VectorXd v = documented_start(opt.seed, 0, h.rows());
  Eigen::VectorXd h3v = h * (h * (h * v));
  EXPECT_GT(std::abs(est6[0] - h3v.squaredNorm()), 1e-6 * h3v.squaredNorm());
}

TEST(SlqDensity, SmoothedDensityIsWithinTheStatedL1DistanceOfTheExactOne) {
  const auto m = testing::make_tiny_mlp(5);
  HessianOperator op(m.params, m.loss());
  const auto ev = exact_eigenvalues(op);
  const double lo = ev.front(), hi = ev.back();
  const double sigma = 0.05 * (hi - lo);
  const int n = 2001;
  const double a = lo - 6 * sigma, b = hi + 6 * sigma, step = (b - a) / (n - 1);
  std::vector<double> grid(n);
  for (int i = 0; i < n; ++i) grid[i] = a + i * step;
  const std::vector<double> ones(ev.size(), 1.0);
  const auto exact = gaussian_density(ev, ones, grid, sigma);
  // The exact smoothed density integrates to 1 over the grid.
  EXPECT_NEAR(l1(exact, std::vector<double>(n, 0.0), step), 1.0, 1e-6);

  DensityOptions opt = density_options(20, 30, 3);
  const auto r = slq_density(op, opt);
  const auto slq = gaussian_density(r.nodes, r.weights, grid, sigma);
  const double dist = l1(slq, exact, step);
  // The stated bound: L1 distance 0.06 (the densities have mass 1 each) for K = 20, M = 30 on
  // this P = 63 model, sigma = 5 % of the spectral range (measured: 0.038).
  EXPECT_LT(dist, 0.06) << "L1 distance " << dist;
  // The bound discriminates: the exact density of the spectrum stretched by 10 % is farther
  // away (measured: 0.071).
  std::vector<double> stretched(ev);
  for (double& l : stretched) l *= 1.1;
  EXPECT_GT(l1(gaussian_density(stretched, ones, grid, sigma), exact, step), 0.06);
  // A single short run (K = 1, M = 3) is too coarse for it.
  opt.runs = 1;
  opt.steps = 3;
  const auto coarse = slq_density(op, opt);
  EXPECT_GT(l1(gaussian_density(coarse.nodes, coarse.weights, grid, sigma), exact, step), dist);
}

TEST(SlqDensity, WeightsSumToOneAndNodesLieInsideTheSpectrum) {
  const auto m = testing::make_tiny_mlp(13);
  HessianOperator op(m.params, m.loss());
  const auto ev = exact_eigenvalues(op);
  const double scale = std::max(std::abs(ev.front()), std::abs(ev.back()));
  DensityOptions opt = density_options(5, 20, 9);
  const auto r = slq_density(op, opt);
  ASSERT_EQ(r.nodes.size(), 100u);
  ASSERT_EQ(r.weights.size(), 100u);
  EXPECT_EQ(r.num_params, 63);
  for (int run = 0; run < 5; ++run) {
    EXPECT_EQ(r.steps_done[run], 20);
    double s = 0;
    for (int i = 0; i < 20; ++i) {
      const double x = r.nodes[run * 20 + i], w = r.weights[run * 20 + i];
      s += w;
      EXPECT_GE(w, 0.0);
      EXPECT_GE(x, ev.front() - 1e-9 * scale);  // Ritz values interlace the spectrum
      EXPECT_LE(x, ev.back() + 1e-9 * scale);
      if (i > 0) {
        EXPECT_LE(r.nodes[run * 20 + i - 1], x);
      }
    }
    EXPECT_NEAR(s, 1.0, 1e-12) << "run " << run;
  }
  // After 20 steps with full reorthogonalisation the extreme Ritz values have converged.
  double top = -INFINITY;
  for (double x : r.nodes) top = std::max(top, x);
  EXPECT_NEAR(top, ev.back(), 1e-6 * scale);
}

TEST(SlqDensity, FewDistinctEigenvaluesStopEarlyWithTheExactSpectrum) {
  // 40 eigenvalues, 4 distinct: the Krylov space of any start has dimension 4.
  Eigen::VectorXd lambda(40);
  const double distinct[4] = {-1.0, 0.5, 2.0, 5.0};
  for (int i = 0; i < 40; ++i) lambda[i] = distinct[i % 4];
  const auto q = testing::make_quadratic(lambda, 17);
  HessianOperator op(q.params, q.loss());
  DensityOptions opt;
  opt.runs = 2;
  opt.steps = 10;
  const auto r = slq_density(op, opt);
  EXPECT_EQ(r.hvp_count, 8);
  for (int run = 0; run < 2; ++run) {
    EXPECT_EQ(r.steps_done[run], 4);
    double s = 0;
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(r.nodes[run * 10 + i], distinct[i], 1e-10);
      // Each eigenspace holds a quarter of the dimensions: weights near 1/4.
      EXPECT_GT(r.weights[run * 10 + i], 0.05);
      s += r.weights[run * 10 + i];
    }
    EXPECT_NEAR(s, 1.0, 1e-12);
    for (int i = 4; i < 10; ++i) {
      EXPECT_TRUE(std::isnan(r.nodes[run * 10 + i]));
      EXPECT_EQ(r.weights[run * 10 + i], 0.0);
    }
  }
  // The estimates still work on the truncated runs: tr(H) within 3 s.e. of 65.
  opt.runs = 30;
  const auto t = mean_se(slq_trace_estimates(slq_density(op, opt), 1));
  EXPECT_LT(std::abs(t.mean - lambda.sum()), 3 * t.se) << t.mean << " +- " << t.se;
}

TEST(SlqDensity, SameSeedSameNumbersAndFloat32ParametersAgreeWithFloat64) {
  testing::TinyMlpHessian tiny(4);
  const testing::TinyMlp& m = tiny.m;
  HessianOperator& op = tiny.op;
  DensityOptions opt = density_options(3, 6, 42);
  const auto a = slq_density(op, opt);
  const auto b = slq_density(op, opt);
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_EQ(a.weights, b.weights);
  // More runs keep the first ones.
  opt.runs = 4;
  const auto c = slq_density(op, opt);
  EXPECT_TRUE(std::equal(a.nodes.begin(), a.nodes.end(), c.nodes.begin()));
  opt.seed = 43;
  opt.runs = 3;
  EXPECT_NE(slq_density(op, opt).nodes, a.nodes);

  // A plain MLP in float32 and float64: nodes agree to float32 accuracy, weights sum to 1
  // in both (the basis follows the parameters, the tridiagonal is float64 in both).
  DensityResult by_dtype[2];
  for (int d = 0; d < 2; ++d) {
    const auto dtype = d == 0 ? torch::kFloat32 : torch::kFloat64;
    std::vector<torch::Tensor> ps;
    for (const auto* t : {&m.w1, &m.b1, &m.w2, &m.b2}) ps.push_back(t->detach().to(dtype).requires_grad_(true));
    const auto x = m.x.to(dtype);
    const auto labels = m.labels;
    HessianOperator o(ps, [ps, x, labels] {
      auto hid = torch::relu(torch::nn::functional::linear(x, ps[0], ps[1]));
      return torch::nn::functional::cross_entropy(torch::nn::functional::linear(hid, ps[2], ps[3]), labels);
    });
    opt.seed = 42;
    by_dtype[d] = slq_density(o, opt);
  }
  for (int run = 0; run < 3; ++run) {
    for (int d = 0; d < 2; ++d) {
      double s = 0;
      for (int i = 0; i < 6; ++i) s += by_dtype[d].weights[run * 6 + i];
      EXPECT_NEAR(s, 1.0, 1e-12);
    }
    // The top Ritz value of each run.
    const double top32 = by_dtype[0].nodes[run * 6 + 5], top64 = by_dtype[1].nodes[run * 6 + 5];
    EXPECT_NEAR(top32, top64, 1e-4 * std::abs(top64));
  }
}

TEST(SlqDensity, NonFiniteIsNaNAndBadOptionsThrow) {
  auto w = torch::ones({4}, torch::kDouble).requires_grad_(true);
  HessianOperator nan_loss({w}, [&] { return w.pow(2).sum() / 0.0 * 0.0; });
  DensityOptions opt;
  opt.runs = 2;
  opt.steps = 3;
  const auto r = slq_density(nan_loss, opt);
  EXPECT_EQ(r.hvp_count, 0);
  EXPECT_TRUE(std::all_of(r.nodes.begin(), r.nodes.end(), [](double x) { return std::isnan(x); }));
  EXPECT_TRUE(std::all_of(r.weights.begin(), r.weights.end(), [](double x) { return std::isnan(x); }));

  HessianOperator ok({w}, [&] { return w.pow(2).sum(); });
  opt.steps = 5;  // > P = 4
  EXPECT_THROW(slq_density(ok, opt), c10::Error);
  opt.steps = 2;
  opt.runs = 0;
  EXPECT_THROW(slq_density(ok, opt), c10::Error);
  EXPECT_THROW(gaussian_density({0.0}, {1.0}, {0.0}, 0.0), c10::Error);
  // H = 2 I: one distinct eigenvalue, one step, node 2 with weight 1.
  opt.runs = 1;
  opt.steps = 4;
  const auto id = slq_density(ok, opt);
  EXPECT_EQ(id.steps_done[0], 1);
  EXPECT_NEAR(id.nodes[0], 2.0, 1e-14);
  EXPECT_EQ(id.weights[0], 1.0);
}

}  // namespace
}  // namespace bnl::probes
