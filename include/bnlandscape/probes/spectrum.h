#pragma once
/// \file
/// Extreme eigenvalues of the loss Hessian (PyHessian, Yao et al. 2020):
/// implicitly restarted Lanczos through Spectra, and PyHessian's own power
/// iteration with deflation as the baseline it is measured against.

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/scaled_operator.h"

namespace bnl::probes {

/// Outcome of an eigenvalue computation. Solver failures are data here, not
/// exceptions: a value that did not converge, or any non-finite number met
/// on the way, is NaN and `converged` is false.
struct EigenResult {
  /// k eigenvalues of H: descending for the largest, ascending for the
  /// smallest; NaN where not converged.
  std::vector<double> eigenvalues;
  /// Hessian-vector products this computation used.
  std::int64_t hvp_count = 0;
  /// True when all k eigenvalues converged to the requested tolerance.
  bool converged = false;
  /// Unit eigenvector [P] of eigenvalues[0] (the largest for a top-k run, the
  /// smallest for a bottom-k run); empty when eigenvalues[0] is NaN.
  Eigen::VectorXd top_eigenvector;
  /// Only with LanczosOptions::ritz_vectors: the k unit Ritz vectors [P x k], column i that of
  /// eigenvalues[i] (NaN where eigenvalues[i] is NaN), orthonormal to rounding; empty otherwise.
  /// A converged Ritz pair (theta, y) has residual ||A y - theta y|| < tol max(|theta|,
  /// eps^(2/3)) (Spectra's test), so by Davis-Kahan the angle to the exact eigenvector obeys
  /// sin angle <= tol |theta| / gap, gap the distance from theta to the rest of the spectrum.
  Eigen::MatrixXd ritz_vectors;
};

/// Subspace dimension used when LanczosOptions::ncv is 0: min(P, max(10, 3k)),
/// chosen by measurement with bench/probe_bench.cpp (the study's Fashion-MNIST
/// MLP with and without BatchNorm, cold and warm starts); the HVP counts are
/// in the comment above its definition in spectrum.cpp.
int default_ncv(int k, std::int64_t p);

/// Options for lanczos_eigs().
struct LanczosOptions {
  /// Number of eigenvalues wanted, 1 <= k < P.
  int k = 1;
  /// Krylov subspace dimension, k < ncv <= P; 0 picks default_ncv(k, P) =
  /// min(P, max(10, 3k)), the measured best (see default_ncv).
  int ncv = 0;
  /// Spectra's relative tolerance: a Ritz pair (theta, y) converges when its
  /// residual ||H y - theta y|| < tol * max(|theta|, eps^(2/3)). The
  /// eigenvalue error is of order tol^2 |theta| / gap, far below tol: at 1e-3
  /// the benchmark MLP's top-5 came out within 4e-6 relative for ncv >= 10.
  double tol = 1e-3;
  /// Maximum number of implicit restarts.
  int max_iter = 1000;
  /// true: largest algebraic eigenvalues; false: smallest algebraic.
  bool largest = true;
  /// Initial Lanczos vector [P] (for instance the previous step's top
  /// eigenvector); empty = a standard normal vector drawn from `seed`. A
  /// given vector is normalised and mixed with 1e-3 of the seeded random
  /// unit vector (an exact eigenvector start breaks Spectra's first step;
  /// see spectrum.cpp).
  Eigen::VectorXd warm_start;
  /// Seed of the random start vector; same seed, same numbers.
  std::uint64_t seed = 0;
  /// Also return the k Ritz vectors (EigenResult::ritz_vectors): one
  /// product of the P x ncv basis with an ncv x k matrix, no operator product.
  bool ritz_vectors = false;
};

/// The k largest (or smallest) algebraic eigenvalues of H by implicitly
/// restarted Lanczos (Spectra::SymEigsSolver, SortRule::LargestAlge or
/// SmallestAlge), started from opt.warm_start when given. Throws on bad
/// options (k, ncv, tol, max_iter, warm_start size or zero warm start);
/// never on non-finite numbers or a Spectra failure.
EigenResult lanczos_eigs(const HessianOperator& op, const LanczosOptions& opt);
/// lanczos_eigs() on the Gauss-Newton matrix G (ggn_operator.h); the same solver and rules.
EigenResult lanczos_eigs(const GgnOperator& op, const LanczosOptions& opt);
/// lanczos_eigs() on D H D (scaled_operator.h): scaled sharpness.
EigenResult lanczos_eigs(const ScaledOperator<HessianOperator>& op, const LanczosOptions& opt);
/// lanczos_eigs() on D G D (scaled_operator.h): scaled Gauss-Newton sharpness.
EigenResult lanczos_eigs(const ScaledOperator<GgnOperator>& op, const LanczosOptions& opt);

/// The start vector [P] lanczos_eigs() gives Spectra for these options: a
/// standard normal vector drawn from opt.seed, or opt.warm_start normalised
/// plus 1e-3 times a unit vector of random signs (+-1 / sqrt(P)) drawn from opt.seed.
Eigen::VectorXd lanczos_start_vector(const LanczosOptions& opt, Eigen::Index p);

/// Options for power_iteration_eigs().
struct PowerIterationOptions {
  /// Number of eigenvalues wanted, 1 <= k < P.
  int k = 1;
  /// Stop an eigenvalue when |theta_t - theta_{t-1}| / (|theta_{t-1}| + 1e-6) < tol
  /// (PyHessian's criterion on the Rayleigh quotient theta).
  double tol = 1e-3;
  /// Maximum number of iterations (HVPs) per eigenvalue.
  int max_iter = 100;
  /// Start vector [P] of the first eigenvalue; empty = standard normal from `seed`.
  Eigen::VectorXd warm_start;
  /// Seed of the random start vectors.
  std::uint64_t seed = 0;
};

/// PyHessian's eigenvalue method: for i = 1..k, power iteration v <- H v / ||H v||
/// with v orthogonalised against the i-1 eigenvectors already found
/// (deflation), Rayleigh quotient theta = v^T H v, stopped by the criterion in
/// PowerIterationOptions::tol. Power iteration finds eigenvalues of largest
/// MAGNITUDE; they are reported sorted descending, which matches the largest
/// algebraic ones when the dominant part of the spectrum is positive. An
/// eigenvalue that hits max_iter is NaN (its vector still deflates the next).
EigenResult power_iteration_eigs(const HessianOperator& op, const PowerIterationOptions& opt);

/// power_iteration_eigs() with k, tol, max_iter and seed, cold start.
EigenResult power_iteration_eigs(const HessianOperator& op, int k, double tol, int max_iter, std::uint64_t seed);

}  // namespace bnl::probes
