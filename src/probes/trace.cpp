#include "bnlandscape/probes/trace.h"

#include <cmath>
#include <limits>

#include <c10/util/Exception.h>

#include "random.h"

namespace bnl::probes {
namespace {

template <class Op>
TraceResult hutchinson_trace_on(const Op& op, int samples, std::uint64_t seed) {
  TORCH_CHECK(samples >= 1, "hutchinson_trace: expected samples >= 1, got ", samples);
  TraceResult result;
  if (!op.finite()) return result;

  const std::int64_t hvp_before = op.hvp_count();
  detail::SeededRandom rng(seed);
  Eigen::VectorXd hv(op.rows());
  // Welford's running mean and sum of squared deviations.
  double mean = 0.0;
  double m2 = 0.0;
  std::int64_t n = 0;
  for (int s = 0; s < samples; ++s) {
    const Eigen::VectorXd v = rng.rademacher_vector(op.rows());
    op.perform_op(v.data(), hv.data());
    const double q = v.dot(hv);
    if (!std::isfinite(q)) {
      result.hvp_count = op.hvp_count() - hvp_before;
      return result;
    }
    ++n;
    const double delta = q - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (q - mean);
  }
  result.trace = mean;
  result.samples = n;
  result.stderr_ = n > 1 ? std::sqrt(m2 / static_cast<double>(n - 1) / static_cast<double>(n))
                         : std::numeric_limits<double>::quiet_NaN();
  result.hvp_count = op.hvp_count() - hvp_before;
  return result;
}

}  // namespace

TraceResult hutchinson_trace(const HessianOperator& op, int samples, std::uint64_t seed) {
  return hutchinson_trace_on(op, samples, seed);
}

TraceResult hutchinson_trace(const GgnOperator& op, int samples, std::uint64_t seed) {
  return hutchinson_trace_on(op, samples, seed);
}

}  // namespace bnl::probes
