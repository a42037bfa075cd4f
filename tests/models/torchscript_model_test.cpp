// TorchScriptModel (--arch torchscript): Python names, the jit module's own tensors (in-place
// updates reach the scripted forward), train/eval, float64, independent copies, and the
// load-time checks, against a functional libtorch reference of the same network
// (tests/models/scripts/make_torchscript_models.py writes the modules).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/torchscript_model.h"
#include "common/torchscript_files.h"

using namespace bnl;

namespace {

/// mlp_bn_small.txt: the Python state_dict of mlp_bn_small.pt as float64 tensors (flat).
std::map<std::string, torch::Tensor> python_state(const std::string& dir) {
  std::ifstream in(dir + "/mlp_bn_small.txt");
  std::map<std::string, torch::Tensor> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name;
    std::int64_t n = 0;
    ls >> name >> n;
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) ls >> x;
    out[name] = torch::tensor(v, torch::kFloat64);
  }
  return out;
}

/// Linear(6, 5) -> BatchNorm1d -> ReLU -> Linear(5, 3) written with libtorch's functional ops
/// on the tensors `t` (names as Python's), float64; `training`: batch statistics.
torch::Tensor reference_logits(const std::map<std::string, torch::Tensor>& t, const torch::Tensor& x, bool training) {
  auto h = torch::linear(x, t.at("fc1.weight").view({5, 6}), t.at("fc1.bias"));
  h = torch::batch_norm(h, t.at("bn.weight"), t.at("bn.bias"), t.at("bn.running_mean").clone(),
                        t.at("bn.running_var").clone(), training, 0.1, 1e-5, false);
  return torch::linear(torch::relu(h), t.at("fc2.weight").view({3, 5}), t.at("fc2.bias"));
}

std::shared_ptr<models::Classifier> load(const std::string& dir, const std::string& name, bool flat = false) {
  models::ModelSpec spec;
  spec.arch = "torchscript";
  spec.model_file = dir + "/" + name;
  spec.flat_input = flat;
  return models::make_model(spec);
}

std::string load_error(const std::string& path) {
  try {
    models::TorchScriptModel m(path, false);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TorchScriptModel, ParametersAndBuffersHaveThePythonNamesAndValues) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "mlp_bn_small.pt");
  std::vector<std::string> params, buffers;
  for (const auto& p : model->named_parameters()) params.push_back(p.key());
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(params, (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(buffers, (std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  const auto want = python_state(dir);
  for (const auto& p : model->named_parameters()) {
    EXPECT_TRUE(p.value().requires_grad()) << p.key();
    EXPECT_TRUE(torch::equal(p.value().to(torch::kFloat64).flatten(), want.at(p.key()))) << p.key();
  }
  EXPECT_EQ(model->named_buffers()["bn.running_var"].to(torch::kFloat64).flatten().sub(want.at("bn.running_var")).abs().max().item<double>(), 0.0);
  EXPECT_EQ(model->layer_names(), (std::vector<std::string>{"fc1", "bn", "fc2"}));
}

TEST(TorchScriptModel, ForwardAndGradientEqualAFunctionalReferenceInBothModesInFloat64) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "mlp_bn_small.pt");
  model->to(torch::kFloat64);
  torch::manual_seed(3);
  const auto x = torch::randn({9, 6}, torch::kFloat64);
  const auto y = torch::randint(0, 3, {9}, torch::kInt64);
  // Evaluation first: a training-mode forward moves the module's running statistics.
  for (bool training : {false, true}) {
    model->train(training);
    std::map<std::string, torch::Tensor> ref;
    for (const auto& [k, v] : python_state(dir)) ref[k] = v.clone().requires_grad_(k.find("running") == std::string::npos && k.find("num_batches") == std::string::npos);
    const auto loss_ref = torch::nn::functional::cross_entropy(reference_logits(ref, x, training), y);
    loss_ref.backward();
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    const auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    EXPECT_NEAR(loss.item<double>(), loss_ref.item<double>(), 1e-12) << training;
    for (const auto& p : model->named_parameters())
      EXPECT_LT((p.value().grad().flatten() - ref.at(p.key()).grad()).abs().max().item<double>(), 1e-12)
          << p.key() << " training " << training;
  }
}

TEST(TorchScriptModel, InPlaceUpdatesThroughParametersReachTheScriptedForward) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "mlp_bn_small.pt");
  model->eval();
  const auto x = torch::randn({4, 6});
  const auto before = model->forward(x).detach();
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["fc2.bias"].add_(1.5);
  }
  const auto after = model->forward(x).detach();
  // A bias of the last layer shifts every logit by exactly its change.
  EXPECT_TRUE(torch::allclose(after - before, torch::full_like(before, 1.5), 1e-5, 1e-5));
  // And the jit module reads the same tensor.
  auto* scripted = dynamic_cast<models::TorchScriptModelImpl*>(model.get());
  ASSERT_NE(scripted, nullptr);
  EXPECT_TRUE(scripted->module().attr("fc2").toModule().attr("bias").toTensor().is_same(model->named_parameters()["fc2.bias"]));
}

TEST(TorchScriptModel, TrainingModeReachesTheModulesBatchNorm) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "mlp_bn_small.pt");
  const auto x = torch::randn({8, 6});
  auto mean = model->named_buffers()["bn.running_mean"];
  const auto start = mean.clone();
  model->eval();
  model->forward(x);
  EXPECT_TRUE(torch::equal(mean, start)) << "evaluation must not move running statistics";
  model->train();
  model->forward(x);
  EXPECT_FALSE(torch::equal(mean, start)) << "training mode uses and tracks batch statistics";
  EXPECT_EQ(model->named_buffers()["bn.num_batches_tracked"].item<std::int64_t>(), 1);
}

TEST(TorchScriptModel, EachLoadIsAnIndependentCopy) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto a = load(dir, "mlp_bn_small.pt");
  auto b = load(dir, "mlp_bn_small.pt");
  {
    torch::NoGradGuard no_grad;
    a->named_parameters()["fc1.weight"].zero_();
  }
  EXPECT_GT(b->named_parameters()["fc1.weight"].abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(a->named_parameters()["fc1.weight"].is_same(b->named_parameters()["fc1.weight"]));
}

TEST(TorchScriptModel, NestedSubmodulesKeepTheirDottedNamesAndCodeIsRecorded) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "conv_bn.pt");
  std::vector<std::string> params;
  for (const auto& p : model->named_parameters()) params.push_back(p.key());
  EXPECT_EQ(params, (std::vector<std::string>{"layer1.0.weight", "layer1.0.bias", "layer1.1.weight", "layer1.1.bias",
                                              "head.weight", "head.bias"}));
  EXPECT_TRUE(model->named_buffers().contains("layer1.1.running_mean"));
  EXPECT_EQ(model->forward(torch::randn({3, 1, 28, 28})).sizes(), (std::vector<std::int64_t>{3, 10}));
  const auto code = dynamic_cast<models::TorchScriptModelImpl&>(*model).code();
  EXPECT_NE(code.find("def forward"), std::string::npos) << code;
  EXPECT_NE(code.find("max_pool2d"), std::string::npos) << code;
}

TEST(TorchScriptModel, FeatureRowsGoInFlat) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "mlp_bn_small.pt", /*flat=*/true);
  model->eval();
  const auto x = torch::randn({4, 6});
  EXPECT_TRUE(torch::equal(model->forward(x.view({4, 6, 1, 1})), model->forward(x)));
}

TEST(TorchScriptModel, BadFilesAreErrorsNamingTheFileAndWhatWasExpected) {
  BNL_TORCHSCRIPT_DIR(dir);
  for (const std::string name : {"missing.pt", "state_dict.pt", "mlp_bn_small.txt"}) {
    const auto e = load_error(dir + "/" + name);
    EXPECT_NE(e.find("model = " + dir + "/" + name + ": expected a TorchScript archive"), std::string::npos) << e;
  }
  EXPECT_NE(load_error(dir + "/missing.pt").find("got no such file"), std::string::npos);
  const auto none = load_error(dir + "/no_params.pt");
  EXPECT_NE(none.find("expected a module with parameters"), std::string::npos) << none;
  EXPECT_NE(none.find("got none"), std::string::npos) << none;
}

TEST(TorchScriptModel, CheckOutputSaysWhatCameBack) {
  BNL_TORCHSCRIPT_DIR(dir);
  const auto x = torch::randn({2, 1, 28, 28});
  models::TorchScriptModel good(dir + "/mlp_bn.pt", false), bad(dir + "/bad_output.pt", false),
      tuple(dir + "/tuple_output.pt", false);
  EXPECT_EQ(models::check_output(*good, x, 10), "");
  EXPECT_NE(models::check_output(*good, x, 7).find("[2, 10]"), std::string::npos);
  EXPECT_NE(models::check_output(*bad, x, 10).find("a tensor of shape [2, 3]"), std::string::npos);
  EXPECT_NE(models::check_output(*tuple, x, 10).find("Tuple"), std::string::npos);
  EXPECT_NE(models::check_output(*good, torch::randn({2, 3, 32, 32}), 10).find("an error from forward"), std::string::npos);
}

TEST(TorchScriptModel, SecondOrderFailureNamesTheOperation) {
  BNL_TORCHSCRIPT_DIR(dir);
  const auto x = torch::randn({8, 1, 28, 28});
  const auto y = torch::randint(0, 10, {8}, torch::kInt64);
  models::TorchScriptModel good(dir + "/mlp_bn.pt", false), cdist(dir + "/cdist.pt", false),
      round(dir + "/round.pt", false);
  const auto mean = good->named_buffers()["bn.running_mean"].clone();
  EXPECT_EQ(models::second_order_failure(*good, x, y), "");
  EXPECT_TRUE(torch::equal(mean, good->named_buffers()["bn.running_mean"])) << "the check restores running statistics";
  EXPECT_NE(models::second_order_failure(*cdist, x, y).find("_cdist_backward"), std::string::npos);
  EXPECT_NE(models::second_order_failure(*round, x, y).find("fc1.weight"), std::string::npos);
}

TEST(TorchScriptModel, ASharedSubmoduleIsRegisteredOnceUnderItsFirstName) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = load(dir, "tied.pt");
  std::vector<std::string> params;
  for (const auto& p : model->named_parameters()) params.push_back(p.key());
  // As Python's named_parameters(): mid's weights once, not again as again.weight.
  EXPECT_EQ(params, (std::vector<std::string>{"enc.weight", "enc.bias", "mid.weight", "mid.bias", "head.weight", "head.bias"}));
  // Its gradient is the sum over both uses: one SGD step moves it once.
  const auto x = torch::randn({4, 1, 28, 28});
  torch::nn::functional::cross_entropy(model->forward(x), torch::tensor({0, 1, 2, 3})).backward();
  EXPECT_TRUE(model->named_parameters()["mid.weight"].grad().defined());
}
