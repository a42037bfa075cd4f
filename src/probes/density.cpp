#include "bnlandscape/probes/density.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Eigenvalues>
#include <c10/util/Exception.h>
#include <torch/utils.h>

#include "operator_product.h"
#include "random.h"

namespace bnl::probes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// 2^64 / golden ratio: consecutive runs get well separated seeds.
constexpr std::uint64_t kRunStride = 0x9E3779B97F4A7C15ULL;
// One Gram-Schmidt pass is enough unless it removed more than 1 - 1/sqrt(2) of the norm
// (the "twice is enough" criterion of Daniel, Gragg, Kaufman and Stewart).
constexpr double kReorthRatio = 0.70710678118654752;
// Relative size of a residual that is rounding noise rather than a new direction, for a float64
// and a float32 basis (about 5000 and 8 units in the last place).
constexpr double kBreakdown64 = 1e-12;
constexpr double kBreakdown32 = 1e-6;

struct Tridiagonal {
  std::vector<double> alpha;  // diagonal, m
  std::vector<double> beta;   // off-diagonal, m - 1
  bool finite = true;
};

// M steps of Lanczos with full reorthogonalisation from the unit vector basis[0] (basis is a
// [M, P] scratch matrix whose rows become the Lanczos vectors, in the working dtype).
template <class Op>
Tridiagonal lanczos(const Op& op, torch::Tensor& basis, int steps) {
  Tridiagonal t;
  const double breakdown = basis.scalar_type() == torch::kFloat64 ? kBreakdown64 : kBreakdown32;
  double scale = 0.0;
  for (int j = 0; j < steps; ++j) {
    // hvp() returns a fresh tensor (a copy when the dtypes differ): updated in place below.
    torch::Tensor w = detail::apply(op, basis[j]).to(basis.options()).contiguous();
    if (!w.isfinite().all().item<bool>()) {
      t.finite = false;
      return t;
    }
    const torch::Tensor q = basis.narrow(0, 0, j + 1);
    // The three-term recurrence first (two vector updates), then one Gram-Schmidt pass against
    // the whole basis for what rounding left of earlier directions: the pass then removes
    // little, so the DGKS test below rarely asks for a second one (each pass reads the basis
    // twice, which costs about as much as a Hessian-vector product at P ~ 5e5).
    double a = torch::dot(basis[j], w).item<double>();
    w.sub_(basis[j], a);
    if (j > 0) w.sub_(basis[j - 1], t.beta.back());
    const double norm_local = w.norm().item<double>();
    torch::Tensor h = q.mv(w);
    w.sub_(q.t().mv(h));
    a += h[j].item<double>();
    double b = w.norm().item<double>();
    if (b < kReorthRatio * norm_local) {
      h = q.mv(w);
      w.sub_(q.t().mv(h));
      a += h[j].item<double>();
      b = w.norm().item<double>();
    }
    t.alpha.push_back(a);
    scale = std::max(scale, std::abs(a));
    if (j + 1 == steps) break;
    if (!(b > breakdown * scale)) break;
    t.beta.push_back(b);
    scale = std::max(scale, b);
    basis[j + 1].copy_(w / b);
  }
  return t;
}

template <class Op>
DensityResult slq_density_on(const Op& op, const DensityOptions& opt) {
  const std::int64_t p = op.rows();
  TORCH_CHECK(opt.runs >= 1, "slq_density: expected runs >= 1, got ", opt.runs);
  TORCH_CHECK(opt.steps >= 1 && opt.steps <= p, "slq_density: expected 1 <= steps <= number of parameters (", p,
              "), got steps = ", opt.steps);
  DensityResult r;
  r.runs = opt.runs;
  r.steps = opt.steps;
  r.num_params = p;
  const auto total = static_cast<std::size_t>(opt.runs) * static_cast<std::size_t>(opt.steps);
  r.nodes.assign(total, kNaN);
  r.weights.assign(total, kNaN);
  r.steps_done.assign(static_cast<std::size_t>(opt.runs), 0);
  if (!op.finite()) return r;

  const std::int64_t hvp_before = op.hvp_count();
  // The basis lives where the products are computed, in their precision (float32 products
  // carry no more than float32 digits, and the Gram-Schmidt passes read the whole basis every
  // step: in float64 they would move twice the bytes); half precision is widened to float32.
  const auto work_dtype = op.options().dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  torch::Tensor basis = torch::empty({opt.steps, p}, op.options().dtype(work_dtype));
  const double inv_sqrt_p = 1.0 / std::sqrt(static_cast<double>(p));
  for (int run = 0; run < opt.runs; ++run) {
    detail::SeededRandom rng(opt.seed + static_cast<std::uint64_t>(run) * kRunStride);
    Eigen::VectorXd v = rng.rademacher_vector(p) * inv_sqrt_p;
    basis[0].copy_(torch::from_blob(v.data(), {p}, torch::kDouble));  // converts and moves
    const std::int64_t run_before = op.hvp_count();
    const Tridiagonal t = lanczos(op, basis, opt.steps);
    const auto m = static_cast<Eigen::Index>(t.alpha.size());
    const std::size_t off = static_cast<std::size_t>(run) * static_cast<std::size_t>(opt.steps);
    if (!t.finite) {
      r.steps_done[static_cast<std::size_t>(run)] = static_cast<int>(op.hvp_count() - run_before - 1);
      continue;
    }
    r.steps_done[static_cast<std::size_t>(run)] = static_cast<int>(m);
    const Eigen::Map<const Eigen::VectorXd> diag(t.alpha.data(), m);
    const Eigen::Map<const Eigen::VectorXd> sub(t.beta.data(), m - 1);
    Eigen::VectorXd theta(m), w(m);
    if (m == 1) {
      theta[0] = diag[0];
      w[0] = 1.0;
    } else {
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
      es.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
      if (es.info() != Eigen::Success) continue;
      theta = es.eigenvalues();
      w = es.eigenvectors().row(0).transpose().array().square();
    }
    for (Eigen::Index i = 0; i < opt.steps; ++i) {
      const std::size_t k = off + static_cast<std::size_t>(i);
      r.nodes[k] = i < m ? theta[i] : kNaN;
      r.weights[k] = i < m ? w[i] : 0.0;
    }
  }
  r.hvp_count = op.hvp_count() - hvp_before;
  return r;
}

}  // namespace

DensityResult slq_density(const HessianOperator& op, const DensityOptions& opt) { return slq_density_on(op, opt); }

DensityResult slq_density(const GgnOperator& op, const DensityOptions& opt) { return slq_density_on(op, opt); }

std::vector<double> slq_trace_estimates(const DensityResult& r, int power) {
  TORCH_CHECK(power >= 0, "slq_trace_estimates: expected power >= 0, got ", power);
  TORCH_CHECK(r.nodes.size() == static_cast<std::size_t>(r.runs) * static_cast<std::size_t>(r.steps) &&
                  r.weights.size() == r.nodes.size(),
              "slq_trace_estimates: expected ", r.runs, " x ", r.steps, " nodes and weights, got ", r.nodes.size(),
              " and ", r.weights.size());
  std::vector<double> out(static_cast<std::size_t>(r.runs), 0.0);
  for (int run = 0; run < r.runs; ++run) {
    double acc = 0.0;
    for (int i = 0; i < r.steps; ++i) {
      const std::size_t k = static_cast<std::size_t>(run) * static_cast<std::size_t>(r.steps) + static_cast<std::size_t>(i);
      if (r.weights[k] == 0.0) continue;  // past an early stop: the node is NaN
      acc += r.weights[k] * std::pow(r.nodes[k], power);
    }
    out[static_cast<std::size_t>(run)] = static_cast<double>(r.num_params) * acc;
  }
  return out;
}

std::vector<double> gaussian_density(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& grid, double sigma) {
  TORCH_CHECK(sigma > 0.0 && std::isfinite(sigma), "gaussian_density: expected sigma > 0, got ", sigma);
  TORCH_CHECK(x.size() == w.size(), "gaussian_density: expected as many weights as points (", x.size(), "), got ",
              w.size());
  const double norm = 1.0 / (sigma * std::sqrt(2.0 * M_PI));
  double total = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(w[i])) total += w[i];
  std::vector<double> out(grid.size(), 0.0);
  if (!(total > 0.0)) return out;
  for (std::size_t g = 0; g < grid.size(); ++g) {
    double acc = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i]) || !std::isfinite(w[i])) continue;
      const double z = (grid[g] - x[i]) / sigma;
      acc += w[i] * std::exp(-0.5 * z * z);
    }
    out[g] = norm * acc / total;
  }
  return out;
}

}  // namespace bnl::probes
