// The TOML subset reader behind --config.
#include <gtest/gtest.h>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/train/config.h"

using namespace bnl::cli;

TEST(ConfigFile, ParsesTheSubset) {
  auto e = parse_config_text(
      "# c\nlr = 0.5 # trailing\nhidden-dims = [256, 128]\nname = \"a \\\"b\\\"\"\nlit = 'x\\y'\n"
      "flag = true\nn = 1_000\narr = [\"a\", 'b',]\n",
      "t.toml");
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0].key, "lr");
  EXPECT_EQ(e[0].value, "0.5");
  EXPECT_EQ(e[0].line, 2);
  EXPECT_EQ(e[1].value, "256,128");
  EXPECT_EQ(e[2].value, "a \"b\"");
  EXPECT_EQ(e[3].value, "x\\y");
  EXPECT_EQ(e[4].value, "true");
  EXPECT_EQ(e[5].value, "1000");
  EXPECT_EQ(e[6].value, "a,b");
  // The value as written, for messages naming it.
  EXPECT_EQ(e[0].text, "0.5");
  EXPECT_EQ(e[1].text, "[256, 128]");
  EXPECT_EQ(e[2].text, "\"a \\\"b\\\"\"");
  EXPECT_EQ(e[3].text, "'x\\y'");
}

TEST(ConfigFile, RejectsWhatItDoesNotUnderstand) {
  for (const char* bad : {"lr 0.1", "lr = ", "lr = abc", "[train", "[train]\nlr = 1", "s = \"open",
                          "a = [1, 2", "lr = 1\nlr = 2", "lr = 1 2"}) {
    EXPECT_THROW(parse_config_text(bad, "t.toml"), bnl::train::ConfigError) << bad;
  }
  auto t = parse_config_text("x = 1\n[sweep]\nlr = [0.1, 0.6]\n", "t.toml", /*allow_tables=*/true);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].key, "sweep.lr");
  EXPECT_EQ(t[1].value, "0.1,0.6");
}

TEST(ConfigFile, FormatsRoundTrip) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(2), "2.0");
  EXPECT_EQ(std::stod(format_double(1.0 / 3)), 1.0 / 3);
  EXPECT_EQ(toml_quote("a\"b\\"), "\"a\\\"b\\\\\"");
  auto e = parse_config_text("s = " + toml_quote("x\"y\\z\nw"), "t");
  EXPECT_EQ(e[0].value, "x\"y\\z\nw");
}
