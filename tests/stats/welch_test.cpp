// stats/welch: properties of the test (values against scipy are in CompareStats.WelchMatchesScipy).
#include <gtest/gtest.h>

#include <cmath>

#include "bnlandscape/stats/welch.h"

TEST(StatsWelch, SwappingTheSamplesFlipsT) {
  const std::vector<double> a{1.0, 2.0, 3.5}, b{2.0, 4.0, 4.5, 6.0};
  const auto ab = bnl::stats::welch_t_test(a, b), ba = bnl::stats::welch_t_test(b, a);
  EXPECT_DOUBLE_EQ(ab.t, -ba.t);
  EXPECT_DOUBLE_EQ(ab.df, ba.df);
  EXPECT_DOUBLE_EQ(ab.p, ba.p);
  EXPECT_GT(ab.p, 0.0);
  EXPECT_LT(ab.p, 1.0);
}

TEST(StatsWelch, EqualMeansGivePOne) {
  const auto w = bnl::stats::welch_t_test({1.0, 2.0, 3.0}, {0.0, 2.0, 4.0});
  EXPECT_DOUBLE_EQ(w.t, 0.0);
  EXPECT_DOUBLE_EQ(w.p, 1.0);
}
