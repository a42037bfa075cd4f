// match_mlp_layout: the structure FusedMlpStep and MlpCurvature compute by hand, and the reason
// for every kind of model it refuses.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/bn_noise.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/mlp.h"
#include "bnlandscape/models/mlp_layout.h"

using namespace bnl::models;

namespace {

std::shared_ptr<Classifier> mlp(std::vector<std::int64_t> hidden, NormKind kind = NormKind::None) {
  ModelSpec s;
  s.arch = "mlp";
  s.in_channels = 1;
  s.input_size = 4;
  s.hidden_dims = std::move(hidden);
  s.norm.kind = kind;
  return make_model(s);
}

// An MLPImpl whose `net` is replaced by `net`.
std::shared_ptr<MLPImpl> with_net(torch::nn::Sequential net) {
  auto m = std::make_shared<MLPImpl>(MLPOptions(4).hidden_dims({3}).num_classes(2));
  m->net = m->replace_module("net", net);
  return m;
}

}  // namespace

TEST(MlpLayout, MatchesThePlainMlpLayerByLayer) {
  auto model = mlp({8, 6});
  const auto layout = match_mlp_layout(*model);
  ASSERT_TRUE(layout.ok()) << layout.reason;
  ASSERT_EQ(layout.layers.size(), 3u);
  auto net = dynamic_cast<MLPImpl&>(*model).net;
  EXPECT_EQ(layout.layers[0].linear_name, "net.0");
  EXPECT_EQ(layout.layers[1].linear_name, "net.2");
  EXPECT_EQ(layout.layers[2].linear_name, "net.4");
  for (const auto& layer : layout.layers) {
    EXPECT_EQ(layer.bn, nullptr);
    EXPECT_EQ(layer.bn_name, "");
  }
  EXPECT_EQ(layout.layers[0].linear, net[0]->as<torch::nn::Linear>());
  EXPECT_EQ(layout.layers[2].linear->weight.size(0), 10);
}

TEST(MlpLayout, AttachesEachBatchNormToItsLinear) {
  auto model = mlp({8, 6}, NormKind::Custom);
  const auto layout = match_mlp_layout(*model);
  ASSERT_TRUE(layout.ok()) << layout.reason;
  ASSERT_EQ(layout.layers.size(), 3u);
  auto net = dynamic_cast<MLPImpl&>(*model).net;
  EXPECT_EQ(layout.layers[0].bn_name, "net.1");
  EXPECT_EQ(layout.layers[0].bn, net[1]->as<BatchNorm>());
  EXPECT_EQ(layout.layers[1].linear_name, "net.3");
  EXPECT_EQ(layout.layers[1].bn_name, "net.4");
  EXPECT_EQ(layout.layers[2].bn, nullptr);
}

TEST(MlpLayout, NamesWhatItRefuses) {
  EXPECT_EQ(match_mlp_layout(*mlp({8}, NormKind::Torch)).reason.find("net.1"), 0u);
  EXPECT_EQ(match_mlp_layout(*mlp({8}, NormKind::Lp2)).reason.find("net.1"), 0u);

  auto original = mlp({8}, NormKind::Custom);
  for_each_batch_norm(*original, [](BatchNormImpl& bn) { bn.options.backward(BnBackward::Original); });
  EXPECT_EQ(match_mlp_layout(*original).reason, "net.1 uses the original study's backward");

  auto noisy = mlp({8}, NormKind::Custom);
  noisy->set_bn_noise(std::make_shared<BnNoise>(BnNoiseOptions{0.5, 0.25}, 1));
  EXPECT_EQ(match_mlp_layout(*noisy).reason, "noisy BN is on");

  ModelSpec cnn;
  cnn.arch = "cnn";
  cnn.input_size = 8;
  cnn.hidden_dims = {16};
  cnn.conv_channels = {2, 2};
  const auto refused = match_mlp_layout(*make_model(cnn));
  EXPECT_EQ(refused.reason, "not an MLP");
  EXPECT_TRUE(refused.layers.empty());
}

TEST(MlpLayout, ChecksTheOrderOfLayers) {
  using torch::nn::Linear;
  using torch::nn::LinearOptions;
  using torch::nn::ReLU;
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential())).reason, "net is empty");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), ReLU()))).reason,
            "net does not end in a Linear");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), Linear(3, 2)))).reason,
            "net.1 is a Linear that follows a Linear or BatchNorm");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(ReLU(), Linear(4, 2)))).reason,
            "net.0 is a ReLU that does not follow a Linear or BatchNorm");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(LinearOptions(4, 2).bias(false))))).reason,
            "net.0 has no bias");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), BatchNorm(5), ReLU(), Linear(3, 2)))).reason,
            "net.1 does not match its Linear's width");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), BatchNorm(BatchNormOptions(3).spatial(true)),
                                                              ReLU(), Linear(3, 2)))).reason,
            "net.1 is a spatial BatchNorm");
  EXPECT_EQ(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), ReLU(), BatchNorm(3), Linear(3, 2)))).reason,
            "net.2 is a BatchNorm that does not follow a Linear");
  EXPECT_TRUE(match_mlp_layout(*with_net(torch::nn::Sequential(Linear(4, 3), BatchNorm(3), ReLU(), Linear(3, 2)))).ok());
}
