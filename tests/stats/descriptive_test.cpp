// stats/descriptive: finite_mean (pool and median are covered by CompareStats.PoolAndMedian).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bnlandscape/stats/descriptive.h"

TEST(StatsDescriptive, FiniteMeanSkipsNonFinite) {
  const std::vector<double> v{1.0, NAN, 3.0, INFINITY, 5.0};
  EXPECT_DOUBLE_EQ(bnl::stats::finite_mean(v.data(), v.size()), 3.0);
  EXPECT_DOUBLE_EQ(bnl::stats::finite_mean(v.data(), 1), 1.0);
  const std::vector<double> none{NAN, -INFINITY};
  EXPECT_TRUE(std::isnan(bnl::stats::finite_mean(none.data(), none.size())));
  EXPECT_TRUE(std::isnan(bnl::stats::finite_mean(nullptr, 0)));
}

TEST(StatsDescriptive, PoolOfEmptyAndInfiniteIsNaN) {
  const auto p = bnl::stats::pool({INFINITY, NAN});
  EXPECT_EQ(p.n, 0u);
  EXPECT_TRUE(std::isnan(p.mean));
  EXPECT_TRUE(std::isnan(p.sd));
  EXPECT_TRUE(std::isnan(bnl::stats::median({})));
}
