#pragma once
/// \file
/// Hutchinson's stochastic estimate of the Hessian trace (as in PyHessian).

#include <cmath>
#include <cstdint>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"

namespace bnl::probes {

/// Outcome of hutchinson_trace(); NaN when any product was non-finite.
struct TraceResult {
  /// Sample mean of v^T H v, an unbiased estimate of tr(H).
  double trace = NAN;
  /// Standard error of that mean, s / sqrt(n) with s the sample standard
  /// deviation (n - 1 denominator); NaN for a single sample.
  double stderr_ = NAN;
  /// Number of probe vectors n used.
  std::int64_t samples = 0;
  /// Hessian-vector products used (= samples unless a product failed).
  std::int64_t hvp_count = 0;
};

/// tr(H) ~ (1/n) sum_i v_i^T H v_i with v_i i.i.d. Rademacher vectors of length P
/// drawn from `seed` (Hutchinson 1989; E[v v^T] = I). For Rademacher probes
/// Var(v^T H v) = 2 sum_{i != j} H_ij^2. Throws if samples < 1.
TraceResult hutchinson_trace(const HessianOperator& op, int samples, std::uint64_t seed);
/// hutchinson_trace() of the Gauss-Newton matrix G (ggn_operator.h): the same estimator.
TraceResult hutchinson_trace(const GgnOperator& op, int samples, std::uint64_t seed);

}  // namespace bnl::probes
