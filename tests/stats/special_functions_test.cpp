// stats/special_functions: identities of I_x(a, b) and the t distribution (values against
// scipy are in CompareStats.IncompleteBetaMatchesScipy and StudentTCdfMatchesScipy).
#include <gtest/gtest.h>

#include <cmath>

#include "bnlandscape/stats/special_functions.h"

using bnl::stats::incomplete_beta;
using bnl::stats::student_t_cdf;

TEST(StatsSpecialFunctions, IncompleteBetaSymmetry) {
  // I_x(a, b) = 1 - I_{1-x}(b, a), on both sides of the continued fraction's switch point.
  for (double x : {0.05, 0.3, 0.5, 0.8, 0.97})
    EXPECT_NEAR(incomplete_beta(2.5, 4.0, x), 1.0 - incomplete_beta(4.0, 2.5, 1.0 - x), 1e-14) << x;
  // I_x(1, 1) = x.
  EXPECT_NEAR(incomplete_beta(1, 1, 0.123), 0.123, 1e-15);
}

TEST(StatsSpecialFunctions, StudentTCdfLimitsAndSymmetry) {
  EXPECT_EQ(student_t_cdf(INFINITY, 3), 1.0);
  EXPECT_EQ(student_t_cdf(-INFINITY, 3), 0.0);
  EXPECT_TRUE(std::isnan(student_t_cdf(NAN, 3)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1, 0)));
  for (double t : {0.3, 1.7, 4.2}) EXPECT_NEAR(student_t_cdf(t, 6) + student_t_cdf(-t, 6), 1.0, 1e-14) << t;
}
