#include "bnlandscape/core/parse.h"

#include <cmath>

#include <gtest/gtest.h>

#include "bnlandscape/core/error.h"

namespace bnl::core {
namespace {

TEST(Parse, SplitItemsKeepsEmptyItemsAndTrims) {
  EXPECT_EQ(split_items(" 1, ,2 "), (std::vector<std::string>{"1", "", "2"}));
  EXPECT_EQ(split_items(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split_items("a,"), (std::vector<std::string>{"a", ""}));
}

TEST(Parse, SplitListDropsEmptyItems) {
  EXPECT_EQ(split_list("net.0, net.3,,"), (std::vector<std::string>{"net.0", "net.3"}));
  EXPECT_TRUE(split_list(" , ").empty());
}

TEST(Parse, NumbersMustBeWhole) {
  EXPECT_EQ(parse_int(" 42 "), std::optional<std::int64_t>(42));
  EXPECT_EQ(parse_int("-3"), std::optional<std::int64_t>(-3));
  EXPECT_FALSE(parse_int("4x"));
  EXPECT_FALSE(parse_int("1.5"));
  EXPECT_FALSE(parse_int(""));
  EXPECT_FALSE(parse_int("99999999999999999999"));
  EXPECT_EQ(parse_double("2.5e-1"), std::optional<double>(0.25));
  EXPECT_FALSE(parse_double("0.5 0.5"));
  EXPECT_FALSE(parse_double("1e999"));
  EXPECT_TRUE(std::isinf(*parse_double("inf")));
}

TEST(Parse, RangeNeedsFiniteIncreasingBounds) {
  EXPECT_EQ(parse_range("-1, 1"), std::make_optional(std::make_pair(-1.0, 1.0)));
  EXPECT_FALSE(parse_range("1,-1"));
  EXPECT_FALSE(parse_range("1,1"));
  EXPECT_FALSE(parse_range("0,inf"));
  EXPECT_FALSE(parse_range("0;1"));
  EXPECT_FALSE(parse_range("0,1,2"));
  try {
    parse_range_option("2,1", "range");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--range = \"2,1\": expected \"lo,hi\" with finite lo < hi");
  }
}

}  // namespace
}  // namespace bnl::core
