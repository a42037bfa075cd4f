// record/legacy_tensor_names: a checkpoint written before BatchNorm took torch.nn's names
// (P.gamma, P.beta, no P.num_batches_tracked) still loads into a model and still resumes.
#include "bnlandscape/record/legacy_tensor_names.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/record/resume_point.h"

namespace fs = std::filesystem;
using Tensors = std::vector<std::pair<std::string, torch::Tensor>>;

namespace {

std::map<std::string, torch::Tensor> as_map(const Tensors& t) { return {t.begin(), t.end()}; }

bnl::models::ModelSpec bn_mlp() {
  bnl::models::ModelSpec s;
  s.hidden_dims = {16, 8};
  s.norm.kind = bnl::models::NormKind::Custom;
  return s;
}

/// The model's state as a checkpoint written before the change named it: a BatchNorm layer's
/// weight and bias as gamma and beta, no num_batches_tracked.
Tensors old_names(bnl::models::Classifier& model) {
  Tensors out;
  const auto buffers = model.named_buffers();
  for (const auto& p : model.named_parameters()) {
    std::string key = p.key();
    const auto dot = key.rfind('.');
    const std::string layer = key.substr(0, dot), leaf = key.substr(dot + 1);
    if (buffers.contains(layer + ".running_var")) key = layer + (leaf == "weight" ? ".gamma" : ".beta");
    out.emplace_back(key, p.value().detach().clone());
  }
  for (const auto& b : model.named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) out.emplace_back(b.key(), b.value().clone());
  return out;
}

class LegacyTensorNames : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bnl_legacy_names_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST(LegacyTensorNamesMap, AddsTorchNamesToOldBatchNormLayersOnly) {
  const auto g = torch::full({3}, 2.0), b = torch::full({3}, -1.0);
  const Tensors old = {{"net.0.weight", torch::ones({3, 4})}, {"net.0.bias", torch::zeros({3})},
                       {"net.1.gamma", g},  {"net.1.beta", b},
                       {"net.1.running_mean", torch::zeros({3})}, {"net.1.running_var", torch::ones({3})},
                       // LpNorm: gamma and beta are its own names (running_scale, not running_var).
                       {"net.4.gamma", g},  {"net.4.beta", b},
                       {"net.4.running_mean", torch::zeros({3})}, {"net.4.running_scale", torch::ones({3})}};
  const auto m = as_map(bnl::record::with_torch_bn_names(old));
  EXPECT_EQ(m.size(), old.size() + 3);
  ASSERT_TRUE(m.count("net.1.weight") && m.count("net.1.bias") && m.count("net.1.num_batches_tracked"));
  EXPECT_TRUE(torch::equal(m.at("net.1.weight"), g));
  EXPECT_TRUE(torch::equal(m.at("net.1.bias"), b));
  EXPECT_EQ(m.at("net.1.num_batches_tracked").scalar_type(), torch::kLong);
  EXPECT_EQ(m.at("net.1.num_batches_tracked").dim(), 0);
  EXPECT_EQ(m.at("net.1.num_batches_tracked").item<std::int64_t>(), 0);
  EXPECT_TRUE(m.count("net.1.gamma"));  // the old names stay
  EXPECT_FALSE(m.count("net.4.weight"));
  EXPECT_FALSE(m.count("net.4.num_batches_tracked"));

  // A group in torch's names is left as it is.
  const Tensors now = {{"net.1.weight", g}, {"net.1.bias", b}, {"net.1.running_mean", torch::zeros({3})},
                       {"net.1.running_var", torch::ones({3})}, {"net.1.num_batches_tracked", torch::full({}, 7, torch::kLong)}};
  const auto same = bnl::record::with_torch_bn_names(now);
  ASSERT_EQ(same.size(), now.size());
  for (std::size_t i = 0; i < now.size(); ++i) EXPECT_EQ(same[i].first, now[i].first);
}

TEST_F(LegacyTensorNames, AnOldCheckpointLoadsAndResumes) {
  torch::manual_seed(5);
  auto saved = bnl::models::make_model(bn_mlp());
  {
    // Trained-looking state, so that a copy is told from the initial ones and zeros.
    torch::NoGradGuard no_grad;
    for (auto& p : saved->parameters()) p.uniform_(-1.0, 2.0);
    for (auto& b : saved->buffers())
      if (b.is_floating_point()) b.uniform_(0.5, 1.5);
  }
  const std::string path = (dir_ / "old.h5").string();
  {
    auto f = bnl::io::RunFile::create(path, true);
    f->write_checkpoint(3, old_names(*saved), {{"step", torch::tensor({3}, torch::kInt64)}});
    f->close();
  }
  // probe --checkpoint and surface: every parameter and buffer arrives under its new name.
  torch::manual_seed(6);
  auto loaded = bnl::models::make_model(bn_mlp());
  bnl::record::load_checkpoint(*loaded, {path, "/checkpoints/step_0000003"}, "mlp", "custom");
  for (const auto& p : saved->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), loaded->named_parameters()[p.key()])) << p.key();
  for (const auto& b : saved->named_buffers()) {
    if (b.value().is_floating_point()) {
      EXPECT_TRUE(torch::equal(b.value(), loaded->named_buffers()[b.key()])) << b.key();
    }
  }
  EXPECT_EQ(loaded->named_buffers()["net.1.num_batches_tracked"].item<std::int64_t>(), 0);

  // --resume: the resume point holds every name the trainer restores.
  const auto r = bnl::record::read_resume_point(path);
  EXPECT_EQ(r.step, 3);
  const auto w = as_map(r.weights);
  for (const auto& p : saved->named_parameters()) EXPECT_TRUE(w.count(p.key())) << p.key();
  for (const auto& b : saved->named_buffers()) EXPECT_TRUE(w.count(b.key())) << b.key();
}
