#include "bnlandscape/core/json.h"

#include <string>

#include <gtest/gtest.h>

namespace bnl::core {
namespace {

TEST(Json, QuoteEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_quote(""), "\"\"");
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(json_quote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9 /"), "\"caf\xc3\xa9 /\"");
}

}  // namespace
}  // namespace bnl::core
