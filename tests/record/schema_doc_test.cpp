// docs/hdf5_schema.md and docs/hdf5_schema.json against the declaration (record/schema.h).
// BNL_UPDATE_SCHEMA=1 rewrites docs/hdf5_schema.json from the declaration instead of failing.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_doc.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record::schema {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

const std::string kDocPath = std::string(BNL_SOURCE_DIR) + "/docs/hdf5_schema.md";
const std::string kJsonPath = std::string(BNL_SOURCE_DIR) + "/docs/hdf5_schema.json";

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

TEST(SchemaDoc, CommittedDocAgreesWithTheDeclaration) {
  const auto diffs = check_doc(read_text(kDocPath), run_file());
  EXPECT_TRUE(diffs.empty()) << join(diffs);
}

TEST(SchemaDoc, ReportsExactlyAUnitChangedInTheDoc) {
  std::string doc = read_text(kDocPath);
  const std::string row = "| `loss` | float64 | `[n]` | nats | mean cross-entropy of the mini-batch before the update |";
  const auto pos = doc.find(row);
  ASSERT_NE(pos, std::string::npos);
  doc.replace(pos, row.size(), "| `loss` | float64 | `[n]` | s | mean cross-entropy of the mini-batch before the update |");
  const auto diffs = check_doc(doc, run_file());
  ASSERT_EQ(diffs.size(), 1u) << join(diffs);
  EXPECT_EQ(diffs[0], "/train/steps/loss: units: doc 's', declared 'nats'");
}

TEST(SchemaDoc, ReportsExactlyADtypeChangedInTheDeclaration) {
  auto groups = run_file();
  for (auto& g : groups)
    if (g.path == names::kProbes)
      for (auto& c : g.columns)
        if (c.name == names::kHvpCount) c.dtype = Dtype::Float64;
  const auto diffs = check_doc(read_text(kDocPath), groups);
  ASSERT_EQ(diffs.size(), 1u) << join(diffs);
  EXPECT_EQ(diffs[0], "/probes/hvp_count: dtype: doc 'int64', declared 'float64'");
}

TEST(SchemaDoc, ReportsAShapeChangedInACodeBlockAndAMissingRow) {
  std::string doc = read_text(kDocPath);
  const std::string line = "    quantiles      float64 [n, 7]";
  const auto pos = doc.find(line);
  ASSERT_NE(pos, std::string::npos);
  doc.replace(pos, line.size(), "    quantiles      float64 [n, 9]");
  const std::string row = "| `test_acc` | float64 | `[k]` | 1 | accuracy on the test set |\n";
  const auto r = doc.find(row);
  ASSERT_NE(r, std::string::npos);
  doc.erase(r, row.size());
  const auto diffs = check_doc(doc, run_file());
  ASSERT_EQ(diffs.size(), 2u) << join(diffs);
  EXPECT_EQ(diffs[0], "/train/evals/test_acc: declared, not in the doc");
  EXPECT_EQ(diffs[1], "/activations/<layer>/<site>/quantiles: shape: doc '[n, 9]', declared '[n, 7]'");
}

TEST(SchemaDoc, ReportsAGroupWithoutASection) {
  auto groups = run_file();
  Group extra;
  extra.path = "/extra";
  extra.columns = {{"step", Dtype::Int64, "[n]", "1", "update index", "", ""}};
  groups.push_back(extra);
  const auto diffs = check_doc(read_text(kDocPath), groups);
  ASSERT_EQ(diffs.size(), 1u) << join(diffs);
  EXPECT_EQ(diffs[0], "/extra: declared, no section in the doc");
}

TEST(SchemaJson, CommittedJsonIsCurrent) {
  const std::string fresh = to_json(run_file());
  const char* update = std::getenv("BNL_UPDATE_SCHEMA");
  if (update && std::string(update) == "1") {
    std::ofstream(kJsonPath, std::ios::binary) << fresh;
    GTEST_SKIP() << "rewrote " << kJsonPath;
  }
  EXPECT_EQ(read_text(kJsonPath), fresh)
      << kJsonPath << " is stale: run BNL_UPDATE_SCHEMA=1 build/tests/record_tests --gtest_filter=SchemaJson.*";
}

TEST(SchemaJson, ReportsAChangedUnit) {
  auto groups = run_file();
  groups[1].columns[2].units = "bits";
  EXPECT_NE(to_json(groups), read_text(kJsonPath));
}

}  // namespace
}  // namespace bnl::record::schema
