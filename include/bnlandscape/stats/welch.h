#pragma once
/// \file
/// Welch's unequal-variance t-test (Welch 1947), the test `compare` reports between two groups
/// of runs.

#include <vector>

namespace bnl::stats {

/// The result of a Welch t-test.
struct Welch {
  double t = 0;    ///< (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)
  double df = 0;   ///< Welch-Satterthwaite degrees of freedom
  double p = 0;    ///< two-sided p-value
};

/// Welch's t-test of the finite values of a and b. NaN fields when either side has fewer than
/// 2 finite values or both have zero variance.
Welch welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace bnl::stats
