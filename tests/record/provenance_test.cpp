// One provenance writer for train, probe --checkpoint and surface files.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/build_info.h"
#include "bnlandscape/record/provenance.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record {
namespace {

using namespace names;

std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("bnl_record_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

RunProvenance sample(ProvenanceKind kind) {
  RunProvenance p;
  p.kind = kind;
  p.config_toml = "seed = 7\n";
  p.seed = 7;
  p.intra_op_threads = 2;
  p.blas_threads = 3;
  p.data_files = {{"a.gz", "abc"}, {"b.gz", "def"}};
  p.step_engine = "fused";
  p.device = "cpu";
  p.device_name = "some cpu";
  p.checkpoint_file = "run.h5";
  p.checkpoint_group = "/checkpoints/step_0000050";
  return p;
}

io::RunReader written(ProvenanceKind kind, const std::string& name) {
  const std::string path = scratch(name);
  auto f = io::RunFile::create(path, true);
  write_provenance(*f, sample(kind));
  f->close();
  return io::RunReader(path);
}

TEST(Provenance, TrainingWritesEveryRootAttribute) {
  const auto r = written(ProvenanceKind::Training, "train.h5");
  EXPECT_EQ(r.string_attr(kStatus).value_or(""), "running");
  EXPECT_EQ(r.number_attr(kDivergedAtStep).value_or(0), -1);
  EXPECT_EQ(r.string_attr(kVersion).value_or(""), version());
  EXPECT_EQ(r.string_attr(kGitRevision).value_or(""), git_revision());
  EXPECT_EQ(r.number_attr(kIntraOpThreads).value_or(0), 2);
  EXPECT_EQ(r.number_attr(kBlasThreads).value_or(0), 3);
  EXPECT_EQ(r.string_attr(kStepEngine).value_or(""), "fused");
  EXPECT_EQ(r.string_attr(kDevice).value_or(""), "cpu");
  EXPECT_EQ(r.string_attr(kDeviceName).value_or(""), "some cpu");
  EXPECT_TRUE(r.string_attr(kTorchBuild));
  EXPECT_TRUE(r.string_attr(kHost));
  EXPECT_EQ(r.number_attr(kSeed).value_or(0), 7);
  EXPECT_TRUE(std::regex_match(r.string_attr(kStartTime).value_or(""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(r.string_attr(kEndTime).value_or("x"), "");
  EXPECT_EQ(r.string_attr(kDataFiles).value_or(""), "a.gz abc\nb.gz def\n");
  EXPECT_FALSE(r.string_attr(kCheckpointFile));
}

TEST(Provenance, SurfaceNamesItsCheckpointAndNoTrainingEngine) {
  const auto r = written(ProvenanceKind::Surface, "surface.h5");
  EXPECT_EQ(r.string_attr(kCheckpointFile).value_or(""), "run.h5");
  EXPECT_EQ(r.string_attr(kCheckpointGroup).value_or(""), "/checkpoints/step_0000050");
  EXPECT_TRUE(r.string_attr(kTorchVersion));
  EXPECT_TRUE(r.string_attr(kHost));
  EXPECT_EQ(r.string_attr(kEndTime).value_or("x"), "");
  EXPECT_FALSE(r.number_attr(kDivergedAtStep));
  EXPECT_FALSE(r.string_attr(kStepEngine));
  EXPECT_EQ(r.string_attr(kDevice).value_or(""), "cpu");
}

// Issue 28: an offline probe carries the provenance of a training run (torch build, BLAS, device,
// host, data files), not a short set, and the SHA-256 of the checkpoint it measured.
TEST(Provenance, CheckpointProbeWritesTheRunAttributesAndItsCheckpoint) {
  auto p = sample(ProvenanceKind::CheckpointProbe);
  p.checkpoint_file = scratch("ck.bin");
  {
    std::ofstream(p.checkpoint_file) << "abc";
  }
  const std::string path = scratch("probe.h5");
  {
    auto f = io::RunFile::create(path, true);
    write_provenance(*f, p);
    f->close();
  }
  const io::RunReader r(path);
  EXPECT_EQ(r.string_attr(kStatus).value_or(""), "running");
  EXPECT_EQ(r.string_attr(kConfigToml).value_or(""), "seed = 7\n");
  EXPECT_EQ(r.string_attr(kCheckpointFile).value_or(""), p.checkpoint_file);
  EXPECT_EQ(r.string_attr(kCheckpointSha256).value_or(""),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // sha256("abc")
  EXPECT_TRUE(r.string_attr(kStartTime));
  EXPECT_TRUE(r.string_attr(kTorchVersion));
  EXPECT_TRUE(r.string_attr(kTorchBuild));
  EXPECT_TRUE(r.string_attr(kBlas));
  EXPECT_TRUE(r.string_attr(kHost));
  EXPECT_EQ(r.string_attr(kDevice).value_or(""), "cpu");
  EXPECT_EQ(r.string_attr(kEndTime).value_or("x"), "");
  EXPECT_EQ(r.string_attr(kDataFiles).value_or(""), "a.gz abc\nb.gz def\n");
  EXPECT_EQ(r.number_attr(kIntraOpThreads).value_or(0), 2);
  EXPECT_FALSE(r.number_attr(kDivergedAtStep));
  EXPECT_FALSE(r.string_attr(kStepEngine));
}

// The data part: what a run read, its classes, one input's shape and what the inputs went
// through, for the study's data sets and for tensor datasets of both dtypes.
TEST(Provenance, DescribeDataRecordsClassesShapeAndNormalisation) {
  data::Dataset fashion;
  fashion.files = {{"train.gz", "aa"}};
  fashion.train.n = 2;
  fashion.train.channels = 1;
  fashion.train.height = fashion.train.width = 28;
  fashion.train.pixels.assign(2 * 784, 0);
  fashion.norm = {{0.2860f}, {0.3530f}};
  RunProvenance p = sample(ProvenanceKind::Training);
  describe_data(p, fashion);
  EXPECT_EQ(p.data_files.size(), 1u);
  EXPECT_EQ(p.num_classes, 10);
  EXPECT_EQ(p.input_shape, "1x28x28");
  EXPECT_EQ(p.input_normalization, "x/255, then (x - mean[c]) / std[c] with mean = (0.286), std = (0.353)");

  data::Dataset rows;
  rows.name = "tensors";
  rows.num_classes = 3;
  rows.feature_rows = true;
  rows.train.n = 1;
  rows.train.channels = 20;
  rows.train.height = rows.train.width = 1;
  rows.train.values.assign(20, 0.5f);
  rows.norm = {std::vector<float>(20, 0.0f), std::vector<float>(20, 1.0f)};
  describe_data(p, rows);
  EXPECT_EQ(p.num_classes, 3);
  EXPECT_EQ(p.input_shape, "20");
  EXPECT_EQ(p.input_normalization, "none (float32 values as stored)");
  rows.norm.mean[1] = 2.5f;
  describe_data(p, rows);
  EXPECT_EQ(p.input_normalization.rfind("(x - mean[c]) / std[c] with mean = (0, 2.5, 0,", 0), 0u) << p.input_normalization;

  data::Dataset images = fashion;
  images.norm = {{0.0f}, {1.0f}};
  describe_data(p, images);
  EXPECT_EQ(p.input_normalization, "x/255 only (uint8 pixels; no mean/std)");

  const std::string path = scratch("data.h5");
  auto f = io::RunFile::create(path, true);
  write_provenance(*f, p);
  f->close();
  const io::RunReader r(path);
  EXPECT_EQ(r.number_attr(kNumClasses).value_or(0), 10);
  EXPECT_EQ(r.string_attr(kInputShape).value_or(""), "1x28x28");
  EXPECT_EQ(r.string_attr(kInputNormalization).value_or(""), "x/255 only (uint8 pixels; no mean/std)");
  EXPECT_FALSE(written(ProvenanceKind::Training, "nodata.h5").number_attr(kNumClasses));  // not described: not written
}

}  // namespace
}  // namespace bnl::record
