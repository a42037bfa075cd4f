#pragma once
/// \file
/// The spectral density of the loss Hessian by stochastic Lanczos quadrature (SLQ: Golub and
/// Meurant 1994; Lin, Saad, Yang 2016, "Approximating spectral densities of large matrices",
/// section 3.2; Ghorbani, Krishnan, Xiao 2019, section 2; PyHessian's density).
///
/// The density of the P eigenvalues lambda_j of H is phi(t) = (1/P) sum_j delta(t - lambda_j).
/// For a Rademacher vector v (E[v v^T] = I), v^T f(H) v / P is an unbiased estimate of
/// (1/P) tr f(H) = integral of f against phi. M steps of Lanczos from q_1 = v / ||v|| give the
/// tridiagonal T_M = Y diag(theta) Y^T, and v^T f(H) v / P ~ e_1^T f(T_M) e_1 =
/// sum_i w_i f(theta_i) with w_i = Y_1i^2 (M-point Gauss quadrature, exact for polynomials of
/// degree < 2M). So each run is the discrete density sum_i w_i delta(t - theta_i); the K runs
/// are averaged.

#include <cstdint>
#include <vector>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"

namespace bnl::probes {

/// Options of slq_density().
struct DensityOptions {
  /// K, the number of independent Rademacher start vectors, K >= 1.
  int runs = 1;
  /// M, the Lanczos steps (Hessian-vector products) per run, 1 <= M <= P.
  int steps = 1;
  /// Run r draws its start vector from a generator seeded with seed + r * 0x9E3779B97F4A7C15
  /// (mod 2^64): the first runs stay the same when K grows. Same seed, same numbers.
  std::uint64_t seed = 0;
};

/// The quadrature nodes and weights of K Lanczos runs of M steps. Non-finite numbers are data:
/// a run that meets a non-finite product has NaN nodes and weights; all runs are NaN (and no
/// product is computed) when the operator's loss or gradient is not finite.
struct DensityResult {
  /// K.
  int runs = 0;
  /// M.
  int steps = 0;
  /// P, the size of H (a run's quadrature of f times P estimates tr f(H)).
  std::int64_t num_params = 0;
  /// [K * M] Ritz values theta, run-major: run r's at [r M, (r + 1) M), ascending. A run that
  /// found an invariant subspace after m < M steps (its start vector has components along only
  /// m distinct eigenvalues) has m nodes, then NaN.
  std::vector<double> nodes;
  /// [K * M] quadrature weights w = squared first components of the eigenvectors of T (same
  /// layout as nodes); they sum to 1 per run (0 at the NaN nodes of a run stopped early).
  std::vector<double> weights;
  /// [K] Lanczos steps each run completed: M, fewer after an invariant subspace, or the
  /// products done before a non-finite one.
  std::vector<int> steps_done;
  /// Hessian-vector products used (sum of steps_done, plus a failed product).
  std::int64_t hvp_count = 0;
};

/// SLQ on H: for each of opt.runs Rademacher vectors v (entries +-1), M steps of the Lanczos
/// recurrence from v / sqrt(P) with full reorthogonalisation (classical Gram-Schmidt against
/// every earlier Lanczos vector, repeated when it cancels more than half the norm: Daniel,
/// Gragg, Kaufman, Stewart 1976), with the basis [M, P] on the operator's device in its dtype
/// (float64 for float64 parameters, float32 otherwise: the products carry no more digits, and
/// a float64 basis doubles the bytes every Gram-Schmidt pass reads), then the eigendecomposition
/// of the M x M tridiagonal in float64. A run stops early when the new residual norm beta falls
/// below 1e-12 (float64 basis) or 1e-6 (float32) times the
/// largest |alpha| or beta so far (an invariant subspace; the rest of the run would be rounding
/// noise). Each product is one HessianOperator::hvp, hence one all-reduce for a sharded
/// operator, and every rank computes the same numbers. Throws (TORCH_CHECK) on bad options.
DensityResult slq_density(const HessianOperator& op, const DensityOptions& opt);
/// slq_density() of the Gauss-Newton matrix G (ggn_operator.h): the same runs, one
/// GgnOperator::gvp per step.
DensityResult slq_density(const GgnOperator& op, const DensityOptions& opt);

/// Per-run quadrature estimates of tr(H^power): P sum_i w_i theta_i^power for each run [K]
/// (NaN for a NaN run). For power = 1 and 2 these equal v^T H v and ||H v||^2 of the run's
/// start vector v (Gauss quadrature is exact up to degree 2M - 1, M >= 2 for power 2), i.e.
/// Hutchinson's unbiased estimates of tr(H) and tr(H^2).
std::vector<double> slq_trace_estimates(const DensityResult& r, int power);

/// A Gaussian-smoothed discrete density at the points `grid`:
/// phi_sigma(t) = sum_i w_i N(t; x_i, sigma^2) / sum_i w_i, over the points with finite x_i
/// and w_i. For an SLQ result pass its nodes and weights (the runs are averaged, since each
/// run's weights sum to 1); for exact eigenvalues lambda_j pass weights of 1. Throws if
/// sigma <= 0 or the sizes differ.
std::vector<double> gaussian_density(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& grid, double sigma);

}  // namespace bnl::probes
