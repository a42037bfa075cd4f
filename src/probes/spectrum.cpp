#include "bnlandscape/probes/spectrum.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include <Spectra/SymEigsSolver.h>
#include <c10/util/Exception.h>

#include "bnlandscape/probes/layer_hessian.h"
#include "random.h"

namespace bnl::probes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kWarmStartNoise = 1e-3;

// Thrown through Spectra to abandon a run as soon as a product is non-finite:
// Spectra has no notion of NaN and would otherwise restart until max_iter.
struct NonFiniteProduct {};

template <class Op>
class GuardedOperator {
 public:
  using Scalar = double;
  /// `eps`: the machine epsilon of the products (float32 or float64 arithmetic inside).
  GuardedOperator(const Op& op, double eps)
      : op_(op), overlap_floor_(4.0 * std::sqrt(static_cast<double>(op.rows())) * eps) {}
  /// Overlaps with the basis below this fraction of a vector's norm are not corrected.
  double overlap_floor() const { return overlap_floor_; }
  Eigen::Index rows() const { return op_.rows(); }
  Eigen::Index cols() const { return op_.cols(); }
  void perform_op(const Scalar* x_in, Scalar* y_out) const {
    op_.perform_op(x_in, y_out);
    if (!Eigen::Map<const Eigen::VectorXd>(y_out, op_.rows()).allFinite()) throw NonFiniteProduct{};
  }

 private:
  const Op& op_;
  double overlap_floor_;
};

double machine_epsilon(const torch::TensorOptions& options) {
  return options.dtype() == torch::kFloat64 ? std::numeric_limits<double>::epsilon()
                                            : std::numeric_limits<float>::epsilon();
}

}  // namespace
}  // namespace bnl::probes

// Spectra 1.0.1's Lanczos re-orthogonalises the new residual f until max_j |v_j . f| <=
// eps * ||f|| (eps of double), at most 5 times per step, each pass reading the whole basis
// twice. Rounding in a dot product of P terms alone is about sqrt(P) eps ||f|| (P ~ 5e5
// parameters: 700 times that bound), so every step ran all 5 passes: at the probes' default
// (top-1, a batch of 128) they took more time than the Hessian-vector products. Overlaps below
// 4 sqrt(P) eps ||f||, eps that of the products' dtype, are reported as exactly zero: they are
// the rounding of the dot products (float64 products), or below what float32 products
// determine of f at all (with float32 products and the float64 floor, every step still made
// one or two correction passes that removed only the products' own rounding: 15% of a
// probe's time). The loop then ends once f is orthogonal to that precision.
namespace Spectra {
template <class Op>
class ArnoldiOp<double, bnl::probes::GuardedOperator<Op>, IdentityBOp> {
 public:
  ArnoldiOp(const bnl::probes::GuardedOperator<Op>& op, const IdentityBOp& /*bop*/) : op_(op) {}
  Eigen::Index rows() const { return op_.rows(); }
  template <typename Arg1, typename Arg2>
  double inner_product(const Arg1& x, const Arg2& y) const {
    return x.dot(y);
  }
  template <typename Arg1, typename Arg2>
  void trans_product(const Arg1& x, const Arg2& y, Eigen::Ref<Eigen::VectorXd> res) const {
    res.noalias() = x.transpose() * y;
    // The columns of x are unit vectors.
    const double floor = op_.overlap_floor() * y.norm();
    for (Eigen::Index j = 0; j < res.size(); ++j)
      if (std::abs(res[j]) <= floor) res[j] = 0.0;
  }
  template <typename Arg>
  double norm(const Arg& x) const {
    return x.norm();
  }
  void perform_op(const double* x_in, double* y_out) const { op_.perform_op(x_in, y_out); }

 private:
  const bnl::probes::GuardedOperator<Op>& op_;
};
}  // namespace Spectra

// Spectra 1.0.1's implicit restart forms the k + 1 kept Lanczos vectors as k + 1 separate
// matrix-vector products with the basis (Arnoldi::compress_V), reading the whole ncv x P basis
// up to k + 1 times; one matrix-matrix product reads it once (a top-1 probe's restart: 6 passes
// over 45 MB; those matrix-vector products were 10% of a probe thread's samples). Q's entries
// below row m - k + i of column i are exactly zero (Givens rotations never reach them), as
// Spectra's loop assumes; they are set to zero here, so the product is Spectra's up to the
// order of its sums.
namespace Spectra {
namespace bnl_detail {
// Arnoldi::compress_V with one matrix product; `beta` becomes ||f|| (our ArnoldiOp's norm).
template <class Matrix, class Vector>
void compress_v(Matrix& fac_V, Vector& fac_f, const Matrix& fac_H, double& beta, Eigen::Index m, Eigen::Index k,
                const Matrix& Q) {
  Matrix qk = Q.leftCols(k + 1);
  for (Eigen::Index i = 0; i < k; ++i) {
    const Eigen::Index nnz = m - k + i + 1;
    if (nnz < m) qk.col(i).tail(m - nnz).setZero();
  }
  Matrix vs(fac_V.rows(), k + 1);
  vs.noalias() = fac_V * qk;
  fac_V.leftCols(k + 1) = vs;
  Vector fk = fac_f * Q(m - 1, k - 1) + fac_V.col(k) * fac_H(k, k - 1);
  fac_f.swap(fk);
  beta = fac_f.norm();
}
}  // namespace bnl_detail

// One full specialisation per operator type lanczos_eigs() takes (a member function of a class
// template cannot be partially specialised).
#define BNL_COMPRESS_V(...)                                                                                  \
  template <>                                                                                                \
  inline void Arnoldi<double, ArnoldiOp<double, bnl::probes::GuardedOperator<__VA_ARGS__>, IdentityBOp>>::   \
      compress_V(const Matrix& Q) {                                                                          \
    bnl_detail::compress_v(m_fac_V, m_fac_f, m_fac_H, m_beta, m_m, m_k, Q);                                  \
  }
BNL_COMPRESS_V(bnl::probes::HessianOperator)
BNL_COMPRESS_V(bnl::probes::BlockHessianOperator)
BNL_COMPRESS_V(bnl::probes::GgnOperator)
BNL_COMPRESS_V(bnl::probes::BlockOperator<bnl::probes::GgnOperator>)
BNL_COMPRESS_V(bnl::probes::ScaledOperator<bnl::probes::HessianOperator>)
BNL_COMPRESS_V(bnl::probes::ScaledOperator<bnl::probes::GgnOperator>)
#undef BNL_COMPRESS_V

}  // namespace Spectra

namespace bnl::probes {
namespace {

// Spectra reports only the converged Ritz values, packed; their positions
// among the k wanted ones need the (protected) Ritz values themselves.
template <class Op>
class RitzSolver : public Spectra::SymEigsSolver<GuardedOperator<Op>> {
 public:
  using Spectra::SymEigsSolver<GuardedOperator<Op>>::SymEigsSolver;
  Eigen::VectorXd wanted_ritz_values() const { return this->m_ritz_val.head(this->m_nev); }
};

// The k Ritz vectors [P x k] of a finished solve into `result`, at the positions of
// result.eigenvalues (NaN columns where an eigenvalue is NaN). eigenvectors(k) returns the
// converged ones only, in the order of the converged eigenvalues.
template <class Solver>
void fill_ritz_vectors(const Solver& solver, EigenResult& result, std::int64_t p) {
  const auto k = static_cast<Eigen::Index>(result.eigenvalues.size());
  result.ritz_vectors = Eigen::MatrixXd::Constant(p, k, kNaN);
  const Eigen::MatrixXd converged = solver.eigenvectors(k);
  Eigen::Index j = 0;
  for (Eigen::Index i = 0; i < k && j < converged.cols(); ++i) {
    if (!std::isfinite(result.eigenvalues[static_cast<std::size_t>(i)])) continue;
    result.ritz_vectors.col(i) = converged.col(j++);
  }
}

void check_k(int k, std::int64_t p, const char* who) {
  TORCH_CHECK(k >= 1 && k < p, who, ": expected 1 <= k < number of parameters (", p, "), got k = ", k);
}

void check_warm_start(const Eigen::VectorXd& warm, std::int64_t p, const char* who) {
  if (warm.size() == 0) return;
  TORCH_CHECK(warm.size() == p, who, ": expected a warm start of size ", p, ", got ", warm.size());
  TORCH_CHECK(warm.allFinite() && warm.norm() > 0.0, who,
              ": expected a finite, nonzero warm start, got norm ", warm.norm());
}

/// Checks the stopping rule and warm start that every solver's options carry (tol > 0,
/// max_iter >= 1, a warm start of size p, finite and nonzero, if any); messages start with `who`.
template <class Options>
void check_stopping_and_warm_start(const Options& opt, std::int64_t p, const char* who) {
  TORCH_CHECK(opt.tol > 0.0 && std::isfinite(opt.tol), who, ": expected tol > 0, got ", opt.tol);
  TORCH_CHECK(opt.max_iter >= 1, who, ": expected max_iter >= 1, got ", opt.max_iter);
  check_warm_start(opt.warm_start, p, who);
}

// Two passes of classical Gram-Schmidt: one pass leaves O(eps * cond) overlap,
// which power iteration would then amplify back towards found eigenvectors.
void orthogonalise(Eigen::VectorXd& v, const std::vector<Eigen::VectorXd>& basis) {
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& u : basis) v -= u.dot(v) * u;
  }
}

}  // namespace

// Measured with bench/probe_bench.cpp: the 784-512-256-128-10 MLP (P ~ 5.7e5)
// after 20 SGD steps on a batch of 128, float64, Spectra tol 1e-3; HVPs per
// run, cold start / warm start from the top eigenvector before one more SGD
// step, without BN | with BN:
//   k = 1: ncv  4: 23/9  | 29/9     ncv 10: 21/11 | 26/11    ncv 20: 21/21 | 21/21
//          ncv  6: 19/10 | 25/10    ncv 15: 24/16 | 24/16    ncv 40: 41/41 | 41/41
//   k = 5: ncv  8: 40/39 | 134/111  ncv 15: 34/32 | 71/64    ncv 30: 52/31 | 77/77
//          ncv 11: 36/32 | 76/66    ncv 20: 34/34 | 72/61    ncv 40: 41/41 | 73/73
// A pass costs ncv + 1 products however good the start is, so a large ncv
// wastes warm starts, while ncv near 2k + 1 restarts too often. max(10, 3k) is
// within 10% of the best measured total for k = 1 and the best for k = 5, and
// keeps the basis (ncv x P doubles) small.
int default_ncv(int k, std::int64_t p) {
  const std::int64_t ncv = std::max<std::int64_t>(10, 3 * static_cast<std::int64_t>(k));
  return static_cast<int>(std::min(ncv, p));
}

Eigen::VectorXd lanczos_start_vector(const LanczosOptions& opt, Eigen::Index p) {
  check_warm_start(opt.warm_start, p, "lanczos_start_vector");
  detail::SeededRandom rng(opt.seed);
  if (opt.warm_start.size() == 0) return rng.normal_vector(p);
  // Spectra 1.0.1's first Lanczos step does not reorthogonalise, and zeroes the
  // residual only below an absolute 2.2e-16: started from an (almost) exact
  // eigenvector, the residual is rounding noise, the basis loses
  // orthogonality and Ritz values leave the spectrum (measured: 10.066 for
  // lambda_max = 10, tests/probes/spectrum_test.cpp WarmStart). A 1e-3 share
  // of a seeded random vector keeps the first residual well above rounding
  // and costs nothing measurable in convergence. Its signs are Rademacher: a
  // normal vector of P ~ 5e5 entries (Box-Muller, a log and a cosine each) took
  // 7% of a probe's time, for a perturbation whose distribution does not matter.
  const Eigen::VectorXd noise = rng.rademacher_vector(p);
  return opt.warm_start / opt.warm_start.norm() + kWarmStartNoise * noise / std::sqrt(static_cast<double>(p));
}

namespace {

// Any operator with rows(), perform_op(), finite(), hvp_count() and options(): H or one of its
// blocks (options() gives the products' precision, hence the overlap floor).
template <class Op>
EigenResult lanczos_eigs_on(const Op& op, const LanczosOptions& opt) {
  const std::int64_t p = op.rows();
  check_k(opt.k, p, "lanczos_eigs");
  const int ncv = opt.ncv == 0 ? default_ncv(opt.k, p) : opt.ncv;
  TORCH_CHECK(ncv > opt.k && ncv <= p, "lanczos_eigs: expected k < ncv <= number of parameters (k = ", opt.k,
              ", P = ", p, "), got ncv = ", ncv);
  check_stopping_and_warm_start(opt, p, "lanczos_eigs");

  EigenResult result;
  result.eigenvalues.assign(static_cast<std::size_t>(opt.k), kNaN);
  if (!op.finite()) return result;

  const std::int64_t hvp_before = op.hvp_count();
  const Eigen::VectorXd start = lanczos_start_vector(opt, p);
  const auto rule = opt.largest ? Spectra::SortRule::LargestAlge : Spectra::SortRule::SmallestAlge;
  GuardedOperator<Op> guarded(op, machine_epsilon(op.options()));
  RitzSolver<Op> solver(guarded, opt.k, ncv);
  try {
    solver.init(start.data());
    solver.compute(rule, opt.max_iter, opt.tol, rule);
    const Eigen::VectorXd ritz = solver.wanted_ritz_values();
    const Eigen::VectorXd converged = solver.eigenvalues();
    // eigenvalues() is the converged subsequence of the sorted Ritz values.
    Eigen::Index j = 0;
    for (int i = 0; i < opt.k; ++i) {
      if (j < converged.size() && ritz[i] == converged[j]) {
        if (std::isfinite(ritz[i])) result.eigenvalues[static_cast<std::size_t>(i)] = ritz[i];
        ++j;
      }
    }
    result.converged = solver.info() == Spectra::CompInfo::Successful &&
                       std::all_of(result.eigenvalues.begin(), result.eigenvalues.end(),
                                   [](double x) { return std::isfinite(x); });
    if (std::isfinite(result.eigenvalues[0])) {
      Eigen::VectorXd v = solver.eigenvectors(1).col(0);
      if (v.allFinite()) result.top_eigenvector = std::move(v);
    }
    if (opt.ritz_vectors) fill_ritz_vectors(solver, result, p);
  } catch (const NonFiniteProduct&) {
    result.eigenvalues.assign(static_cast<std::size_t>(opt.k), kNaN);
    result.converged = false;
  } catch (const std::logic_error&) {  // Spectra's own failures; torch errors (c10::Error) propagate
    result.eigenvalues.assign(static_cast<std::size_t>(opt.k), kNaN);
    result.converged = false;
  } catch (const std::runtime_error&) {
    result.eigenvalues.assign(static_cast<std::size_t>(opt.k), kNaN);
    result.converged = false;
  }
  result.hvp_count = op.hvp_count() - hvp_before;
  return result;
}

}  // namespace

EigenResult lanczos_eigs(const HessianOperator& op, const LanczosOptions& opt) {
  return lanczos_eigs_on(op, opt);
}

EigenResult lanczos_eigs(const BlockHessianOperator& op, const LanczosOptions& opt) {
  return lanczos_eigs_on(op, opt);
}

EigenResult lanczos_eigs(const BlockOperator<GgnOperator>& op, const LanczosOptions& opt) {
  return lanczos_eigs_on(op, opt);
}

EigenResult lanczos_eigs(const GgnOperator& op, const LanczosOptions& opt) { return lanczos_eigs_on(op, opt); }

EigenResult lanczos_eigs(const ScaledOperator<HessianOperator>& op, const LanczosOptions& opt) {
  return lanczos_eigs_on(op, opt);
}

EigenResult lanczos_eigs(const ScaledOperator<GgnOperator>& op, const LanczosOptions& opt) {
  return lanczos_eigs_on(op, opt);
}

EigenResult power_iteration_eigs(const HessianOperator& op, const PowerIterationOptions& opt) {
  const std::int64_t p = op.rows();
  check_k(opt.k, p, "power_iteration_eigs");
  check_stopping_and_warm_start(opt, p, "power_iteration_eigs");

  EigenResult result;
  result.eigenvalues.assign(static_cast<std::size_t>(opt.k), kNaN);
  if (!op.finite()) return result;

  const std::int64_t hvp_before = op.hvp_count();
  detail::SeededRandom rng(opt.seed);
  std::vector<Eigen::VectorXd> found;
  std::vector<double> values;
  bool all_converged = true;
  bool non_finite = false;
  Eigen::VectorXd hv(p);
  for (int i = 0; i < opt.k && !non_finite; ++i) {
    Eigen::VectorXd v = (i == 0 && opt.warm_start.size() > 0) ? opt.warm_start : rng.normal_vector(p);
    double theta = kNaN;
    bool converged = false;
    for (int it = 0; it < opt.max_iter; ++it) {
      orthogonalise(v, found);
      const double norm_v = v.norm();
      if (!(norm_v > 0.0)) {  // start vector inside the deflated span: draw again
        v = rng.normal_vector(p);
        continue;
      }
      v /= norm_v;
      op.perform_op(v.data(), hv.data());
      if (!hv.allFinite()) {
        non_finite = true;
        break;
      }
      const double rayleigh = v.dot(hv);
      const double norm_hv = hv.norm();
      if (norm_hv == 0.0) {  // v is in the null space: an exact eigenvalue 0
        theta = 0.0;
        converged = true;
        break;
      }
      v = hv / norm_hv;
      if (it > 0 && std::abs(rayleigh - theta) / (std::abs(theta) + 1e-6) < opt.tol) {
        theta = rayleigh;
        converged = true;
        break;
      }
      theta = rayleigh;
    }
    if (non_finite) break;
    orthogonalise(v, found);
    v.normalize();
    found.push_back(v);
    values.push_back(converged ? theta : kNaN);
    all_converged = all_converged && converged;
  }
  result.hvp_count = op.hvp_count() - hvp_before;
  if (non_finite) return result;

  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Descending, NaN last.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (std::isnan(values[a])) return false;
    if (std::isnan(values[b])) return true;
    return values[a] > values[b];
  });
  for (std::size_t i = 0; i < order.size(); ++i) result.eigenvalues[i] = values[order[i]];
  result.converged = all_converged;
  if (std::isfinite(result.eigenvalues[0])) result.top_eigenvector = found[order[0]];
  return result;
}

EigenResult power_iteration_eigs(const HessianOperator& op, int k, double tol, int max_iter, std::uint64_t seed) {
  PowerIterationOptions opt;
  opt.k = k;
  opt.tol = tol;
  opt.max_iter = max_iter;
  opt.seed = seed;
  return power_iteration_eigs(op, opt);
}

}  // namespace bnl::probes
