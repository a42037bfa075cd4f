// record/checkpoint_source: a checkpoint group loads into a model of the same shape, a
// mismatch names the tensor, and a stored configuration is adopted only where not given.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/train/config.h"

namespace fs = std::filesystem;
using bnl::record::CheckpointSource;

namespace {

bnl::models::ModelSpec small_mlp(std::vector<std::int64_t> hidden) {
  bnl::models::ModelSpec s;
  s.hidden_dims = std::move(hidden);
  return s;
}

/// A run file holding the weights of a fresh MLP as checkpoint step 7, and a config_toml.
std::string write_checkpoint_file(const fs::path& dir, bnl::models::Classifier& model) {
  const std::string path = (dir / "ck.h5").string();
  auto f = bnl::io::RunFile::create(path, true);
  f->set_attr("config_toml", std::string("# stored\nbn = \"none\"\nlr = 0.25\narch = \"mlp\"\nepochs = 4\n"));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model.named_parameters()) tensors.emplace_back(p.key(), p.value().detach().clone());
  for (const auto& b : model.named_buffers()) tensors.emplace_back(b.key(), b.value().clone());
  f->write_checkpoint(7, tensors, {});
  f->close();
  return path;
}

class RecordCheckpointSource : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bnl_record_ck_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST_F(RecordCheckpointSource, LoadsParametersAndBuffers) {
  torch::manual_seed(1);
  auto saved = bnl::models::make_model(small_mlp({16, 8}));
  const std::string file = write_checkpoint_file(dir_, *saved);
  torch::manual_seed(2);
  auto loaded = bnl::models::make_model(small_mlp({16, 8}));
  bnl::record::load_checkpoint(*loaded, {file, "/checkpoints/step_0000007"}, "mlp", "custom");
  const auto a = saved->named_parameters(), b = loaded->named_parameters();
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  EXPECT_EQ(bnl::record::checkpoint_step("/checkpoints/step_0000007"), 7);
  EXPECT_EQ(bnl::record::checkpoint_step("/weights"), 0);
}

TEST_F(RecordCheckpointSource, AShapeMismatchNamesTheTensor) {
  auto saved = bnl::models::make_model(small_mlp({16, 8}));
  const std::string file = write_checkpoint_file(dir_, *saved);
  auto other = bnl::models::make_model(small_mlp({12, 8}));
  try {
    bnl::record::load_checkpoint(*other, {file, "/checkpoints/step_0000007"}, "mlp", "custom");
    FAIL() << "expected a ConfigError";
  } catch (const bnl::train::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(file + ":/checkpoints/step_0000007/net.0.weight: expected shape [12, 784] for --arch mlp "
                                "--bn custom, got [16, 784]",
                         0),
              0u)
        << what;
  }
}

TEST_F(RecordCheckpointSource, AdoptsOnlyListedKeysNotGiven) {
  auto saved = bnl::models::make_model(small_mlp({16, 8}));
  const std::string file = write_checkpoint_file(dir_, *saved);
  const auto toml = bnl::record::stored_config(file);
  ASSERT_TRUE(toml.has_value());
  EXPECT_NE(toml->find("lr = 0.25"), std::string::npos);
  bnl::train::TrainConfig cfg;
  cfg.arch = "cnn";
  const std::vector<std::pair<std::string, std::string>> stored{
      {"bn", "none"}, {"lr", "0.25"}, {"arch", "mlp"}, {"epochs", "4"}, {"batch_size", "many"}, {"seed", "3"}};
  bnl::record::adopt_config(cfg, stored, {"bn", "lr", "arch", "epochs", "batch_size"},
                            [](const std::string& key) { return key == "arch"; });
  EXPECT_EQ(cfg.bn, "none");
  EXPECT_EQ(cfg.lr, 0.25);
  EXPECT_EQ(cfg.arch, "cnn");       // given on the command line
  EXPECT_EQ(cfg.epochs, 4);         // listed: adopted as its own type
  EXPECT_EQ(cfg.batch_size, 128);   // not an integer: left as it was
  EXPECT_EQ(cfg.seed, 0u);          // not listed
  bnl::train::TrainConfig untouched;
  bnl::record::adopt_config(untouched, stored, {"arch"}, [](const std::string&) { return false; });
  EXPECT_EQ(untouched.bn, "custom");
}
