// docs/options.md is generated from the option declarations: it must be current, and the check
// must fire when a declaration changes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bnlandscape/cli/options_doc.h"

using namespace bnl::cli;

namespace {

const std::string kDocPath = std::string(BNL_SOURCE_DIR) + "/docs/options.md";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(OptionsDoc, CommittedFileIsCurrent) {
  const std::string generated = options_markdown(option_rows());
  if (std::getenv("BNL_UPDATE_DOCS")) std::ofstream(kDocPath) << generated;
  EXPECT_EQ(stale_report(read_file(kDocPath), generated), "");
}

TEST(OptionsDoc, StaleCheckFiresOnAChangedDeclaration) {
  auto rows = option_rows();
  const std::string before = options_markdown(rows);
  bool changed = false;
  for (auto& r : rows) {
    if (r.command == bnl::optspec::kTrain && r.key == "lr") {
      r.allowed = "a finite learning rate >= 0";  // a declaration whose check was edited
      changed = true;
    }
  }
  ASSERT_TRUE(changed);
  const std::string report = stale_report(before, options_markdown(rows));
  EXPECT_NE(report.find("docs/options.md is stale at line"), std::string::npos) << report;
  EXPECT_NE(report.find("`--lr`"), std::string::npos) << report;
  EXPECT_NE(report.find("a finite learning rate >= 0"), std::string::npos) << report;
}

TEST(OptionsDoc, ListsEverySubcommandWithItsFlags) {
  const std::string md = options_markdown(option_rows());
  for (const char* s : {"## train", "## probe", "## surface", "## sweep", "## compare", "## info", "## export",
                        "## launch", "| `--lr` | `lr` | `0.1` |", "none \\| custom \\| torch", "| `--jobs, -j` |",
                        "| `FILES` |", "a positive number of seconds"})
    EXPECT_NE(md.find(s), std::string::npos) << s;
}
