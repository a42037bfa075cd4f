// Regression cases for what the config harness in fuzz/ (and the stress inputs written
// alongside it) found in the TOML-subset reader. See fuzz/README.md.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/train/config.h"

using namespace bnl::cli;

// The duplicate-key check scanned every earlier entry for every line, copying the key each
// time: a 1 MB config (100000 keys) took about a minute and a half. Keys are now looked up in
// a hash map; duplicates are still reported with the line of the first occurrence.
TEST(ConfigFileRegression, ManyKeysParseInLinearTime) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "key_" + std::to_string(i) + " = 1\n";
  const auto start = std::chrono::steady_clock::now();
  const auto entries = parse_config_text(text, "big.toml");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(entries.size(), 100000u);
  EXPECT_LT(seconds, 10.0);

  try {
    parse_config_text(text + "key_5 = 2\n", "big.toml");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const bnl::train::ConfigError& e) {
    EXPECT_STREQ(e.what(), "big.toml:100001: duplicate key 'key_5' (first on line 6)");
  }
  // The same key in another table is another key; twice in one table is a duplicate.
  const auto tabled = parse_config_text("a = 1\n[t]\na = 2\n[u]\na = 3\n", "t.toml", true);
  ASSERT_EQ(tabled.size(), 3u);
  EXPECT_EQ(tabled[2].key, "u.a");
  try {
    parse_config_text("[t]\na = 1\n[u]\n[t]\na = 2\n", "t.toml", true);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const bnl::train::ConfigError& e) {
    EXPECT_STREQ(e.what(), "t.toml:5: duplicate key 'a' (first on line 2)");
  }
}
