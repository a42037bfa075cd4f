// The tensor dataset harness's seed corpus (fuzz/corpus/tensor_dataset), replayed in the
// ordinary build through the harness's own generator and oracle (fuzz/tensor_dataset_gen.h):
// each input writes an HDF5 file, and the reader must either return exactly what was written,
// within every documented guarantee, or refuse it with a one-line DataError naming the file.
// Inputs that once broke a guarantee are added to the corpus, so they stay fixed.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/tensor_dataset_gen.h"
#include "io_test_util.h"

namespace bnl::io {
namespace {

TEST(TensorDatasetFuzzCorpus, EveryInputIsReadExactlyOrRefusedWithADataError) {
  namespace fs = std::filesystem;
  const fs::path corpus = fs::path(BNL_SOURCE_DIR) / "fuzz" / "corpus" / "tensor_dataset";
  ASSERT_TRUE(fs::is_directory(corpus)) << corpus;
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(corpus)) inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  ASSERT_GE(inputs.size(), 10u);
  test::TempDir dir("bnl_tensor_corpus");
  int accepted_count = 0;
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool accepted = false;
    const std::string problem =
        fuzz::tensors::check_one(bytes.data(), bytes.size(), dir.file("t.h5"), &accepted);
    EXPECT_EQ(problem, "") << p.filename();
    accepted_count += accepted;
  }
  // Both paths are exercised: some files are read, most are refused.
  EXPECT_GE(accepted_count, 3);
  EXPECT_LT(accepted_count, static_cast<int>(inputs.size()));
}

}  // namespace
}  // namespace bnl::io
