// MLP, ConvMLP and the factory: parameter names and counts equal the original PyTorch
// study's (so weights move between the two), PyTorch-default initialisation, shapes.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/mlp.h"

using namespace bnl::models;

namespace {

std::int64_t count_params(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::vector<std::string> param_names(const torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& item : m.named_parameters()) out.push_back(item.key());
  return out;
}

ModelSpec spec(const std::string& arch, std::int64_t ch, std::int64_t size, NormKind kind,
               std::vector<std::int64_t> hidden = {512, 256, 128}) {
  ModelSpec s;
  s.arch = arch;
  s.in_channels = ch;
  s.input_size = size;
  s.hidden_dims = std::move(hidden);
  s.norm.kind = kind;
  return s;
}

}  // namespace

TEST(Models, ParameterCountsMatchTheOriginalStudy) {
  // Counts from the original study's notebooks (shared/reference/original-study.md §0).
  EXPECT_EQ(count_params(*make_model(spec("mlp", 1, 28, NormKind::None))), 567434);
  EXPECT_EQ(count_params(*make_model(spec("mlp", 1, 28, NormKind::Custom))), 567434 + 1792);
  EXPECT_EQ(count_params(*make_model(spec("mlp", 1, 28, NormKind::None, {256, 128}))), 235146);
  EXPECT_EQ(count_params(*make_model(spec("mlp", 1, 28, NormKind::Custom, {256, 128}))), 235146 + 768);
  EXPECT_EQ(count_params(*make_model(spec("mlp", 3, 32, NormKind::None))), 1738890);
  EXPECT_EQ(count_params(*make_model(spec("cnn", 3, 32, NormKind::None))), 2282570);
  EXPECT_EQ(count_params(*make_model(spec("cnn", 3, 32, NormKind::Custom))), 2282570 + 1792);
  EXPECT_EQ(count_params(*make_model(spec("cnn", 1, 28, NormKind::None))), 1790474);
  EXPECT_EQ(count_params(*make_model(spec("cnn", 1, 28, NormKind::Torch))), 1790474 + 1792);
}

TEST(Models, MlpNamesAreTheStateDictKeys) {
  auto with_bn = param_names(*make_model(spec("mlp", 1, 28, NormKind::Custom)));
  std::vector<std::string> expect{"net.0.weight", "net.0.bias",  "net.1.weight",  "net.1.bias",
                                  "net.3.weight", "net.3.bias",  "net.4.weight",  "net.4.bias",
                                  "net.6.weight", "net.6.bias",  "net.7.weight",  "net.7.bias",
                                  "net.9.weight", "net.9.bias"};
  EXPECT_EQ(with_bn, expect);
  auto without = param_names(*make_model(spec("mlp", 1, 28, NormKind::None)));
  std::vector<std::string> expect_nobn{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                                       "net.4.weight", "net.4.bias", "net.6.weight", "net.6.bias"};
  EXPECT_EQ(without, expect_nobn);
  auto model = make_model(spec("mlp", 1, 28, NormKind::Custom));
  std::vector<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  // torch.nn.BatchNorm1d's buffers, in its order.
  EXPECT_EQ(std::vector<std::string>(buffers.begin(), buffers.begin() + 3),
            (std::vector<std::string>{"net.1.running_mean", "net.1.running_var", "net.1.num_batches_tracked"}));
  EXPECT_EQ(model->named_buffers()["net.1.num_batches_tracked"].scalar_type(), torch::kLong);
  EXPECT_EQ(model->layer_names(), (std::vector<std::string>{"net.0", "net.1", "net.3", "net.4", "net.6", "net.7", "net.9"}));
  EXPECT_EQ(model->weight_layer_names(), (std::vector<std::string>{"net.0", "net.3", "net.6", "net.9"}));
}

TEST(Models, ConvMlpNamesAreTheStateDictKeys) {
  auto names = param_names(*make_model(spec("cnn", 1, 28, NormKind::Custom)));
  ASSERT_GE(names.size(), 6u);
  EXPECT_EQ(names[0], "conv.0.weight");
  EXPECT_EQ(names[2], "conv.3.weight");
  EXPECT_EQ(names[4], "mlp.0.weight");
  EXPECT_EQ(names[6], "mlp.1.weight");
  auto s = spec("cnn", 1, 28, NormKind::Custom);
  s.placement = BnPlacement::All;
  auto all = param_names(*make_model(s));
  EXPECT_EQ(all[2], "conv.1.weight");
  EXPECT_EQ(all[4], "conv.4.weight");
  s.placement = BnPlacement::Conv;
  auto conv_only = param_names(*make_model(s));
  EXPECT_EQ(std::count_if(conv_only.begin(), conv_only.end(), [](const std::string& n) { return n.rfind("mlp.1.", 0) == 0; }), 0);
}

TEST(Models, PyTorchDefaultInitialisation) {
  torch::manual_seed(3);
  auto model = make_model(spec("mlp", 1, 28, NormKind::Custom));
  for (const auto& item : model->named_parameters()) {
    const auto& p = item.value();
    if (item.key() == "net.0.weight" || item.key() == "net.0.bias") {
      const double bound = 1.0 / std::sqrt(784.0);
      EXPECT_LE(p.abs().max().item<double>(), bound);
      EXPECT_GT(p.abs().max().item<double>(), 0.95 * bound);  // uniform fills the interval
      EXPECT_NEAR(p.mean().item<double>(), 0.0, 0.05 * bound);
    }
    if (item.key() == "net.1.weight") {
      EXPECT_TRUE(torch::equal(p, torch::ones_like(p)));
    }
    if (item.key() == "net.1.bias") {
      EXPECT_TRUE(torch::equal(p, torch::zeros_like(p)));
    }
  }
}

TEST(Models, SameSeedSameWeights) {
  torch::manual_seed(11);
  auto a = make_model(spec("cnn", 1, 28, NormKind::None));
  torch::manual_seed(11);
  auto b = make_model(spec("cnn", 1, 28, NormKind::None));
  auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

TEST(Models, ForwardShapesAndRecorder) {
  auto cnn = make_model(spec("cnn", 3, 32, NormKind::Torch));
  auto x = torch::randn({4, 3, 32, 32});
  EXPECT_EQ(cnn->forward(x).sizes(), (std::vector<std::int64_t>{4, 10}));
  std::vector<std::string> seen;
  auto y = cnn->forward_recorded(x, [&](const std::string& n, const torch::Tensor&) { seen.push_back(n); });
  EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{4, 10}));
  EXPECT_EQ(seen.front(), "conv.0");
  EXPECT_EQ(seen.back(), "mlp.9");
  auto mlp = make_model(spec("mlp", 1, 28, NormKind::None));
  EXPECT_EQ(mlp->forward(torch::randn({5, 1, 28, 28})).sizes(), (std::vector<std::int64_t>{5, 10}));
}

TEST(Models, BadSpecsAreRejectedWithTheSettingNamed) {
  auto s = spec("cnn", 1, 30, NormKind::None);  // 30 is not divisible by 4
  try {
    make_model(s);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("input size 30"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_model(spec("resnet", 1, 28, NormKind::None)), std::invalid_argument);
  EXPECT_THROW(make_model(spec("mlp", 1, 28, NormKind::None, {})), std::invalid_argument);
  EXPECT_THROW(parse_int_list("512,,128", "hidden-dims"), std::invalid_argument);
  EXPECT_THROW(parse_int_list("512,-1", "hidden-dims"), std::invalid_argument);
  EXPECT_EQ(parse_int_list(" 256, 128 ", "hidden-dims"), (std::vector<std::int64_t>{256, 128}));
  EXPECT_THROW(parse_norm_kind("batch"), std::invalid_argument);
}
