#include "bnlandscape/probes/ics.h"

#include <gtest/gtest.h>

#include <cmath>

#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"

namespace {

using bnl::probes::internal_covariate_shift;

struct Setup {
  std::shared_ptr<bnl::models::Classifier> model;
  torch::Tensor x, y;
  std::vector<torch::Tensor> grads;  // batch gradient, model.parameters() order
};

Setup setup(const std::string& bn) {
  bnl::models::ModelSpec spec;
  spec.hidden_dims = {16, 12};
  spec.norm.kind = bnl::models::parse_norm_kind(bn);
  torch::manual_seed(5);
  Setup s;
  s.model = bnl::models::make_model(spec);
  s.model->to(torch::kFloat64);
  s.x = torch::randn({10, 1, 28, 28}, torch::kFloat64);
  s.y = torch::randint(0, 10, {10}, torch::kInt64);
  auto loss = torch::nn::functional::cross_entropy(s.model->forward(s.x), s.y);
  loss.backward();
  for (auto& p : s.model->parameters()) s.grads.push_back(p.grad().clone());
  return s;
}

std::vector<torch::Tensor> sgd_update(const Setup& s, double lr) {
  std::vector<torch::Tensor> out;
  auto params = s.model->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) out.push_back(params[i].detach() - lr * s.grads[i]);
  return out;
}

TEST(Ics, ZeroWhenEarlierLayersDoNotMoveAndPositiveOtherwise) {
  for (const std::string bn : {"none", "custom"}) {
    auto s = setup(bn);
    const auto layers = s.model->weight_layer_names();
    auto still = internal_covariate_shift(*s.model, layers, s.x, s.y, sgd_update(s, 0.0));
    for (std::size_t l = 0; l < layers.size(); ++l) {
      EXPECT_EQ(still.l2[l], 0.0) << bn << " " << layers[l];
      EXPECT_NEAR(still.cos[l], 1.0, 1e-12) << bn << " " << layers[l];
    }
    auto moved = internal_covariate_shift(*s.model, layers, s.x, s.y, sgd_update(s, 0.5));
    EXPECT_EQ(moved.l2[0], 0.0) << bn;  // nothing precedes the first layer
    for (std::size_t l = 1; l < layers.size(); ++l) EXPECT_GT(moved.l2[l], 1e-6) << bn << " " << layers[l];
  }
}

TEST(Ics, MatchesADirectComputationAndRestoresTheModel) {
  auto s = setup("custom");
  const auto layers = s.model->weight_layer_names();  // net.0, net.3, net.6
  const auto updated = sgd_update(s, 0.3);
  std::vector<torch::Tensor> params_before, buffers_before;
  for (auto& p : s.model->parameters()) params_before.push_back(p.detach().clone());
  for (auto& b : s.model->buffers()) buffers_before.push_back(b.clone());
  auto r = internal_covariate_shift(*s.model, layers, s.x, s.y, updated);

  // Reference for layer net.3: a fresh model with net.0 and net.1 (its BN) moved.
  bnl::models::ModelSpec spec;
  spec.hidden_dims = {16, 12};
  spec.norm.kind = bnl::models::NormKind::Custom;
  auto ref = bnl::models::make_model(spec);
  ref->to(torch::kFloat64);
  {
    torch::NoGradGuard ng;
    auto rp = ref->named_parameters();
    auto sp = s.model->named_parameters();
    std::size_t i = 0;
    for (auto& item : rp) {
      const bool earlier = item.key().rfind("net.0.", 0) == 0 || item.key().rfind("net.1.", 0) == 0;
      item.value().copy_(earlier ? updated[i] : sp[item.key()].detach());
      ++i;
    }
  }
  auto loss = torch::nn::functional::cross_entropy(ref->forward(s.x), s.y);
  auto g = torch::autograd::grad({loss}, {ref->named_parameters()["net.3.weight"], ref->named_parameters()["net.3.bias"]});
  auto gp = torch::cat({g[0].reshape(-1), g[1].reshape(-1)});
  auto g0 = torch::cat({s.grads[4].reshape(-1), s.grads[5].reshape(-1)});  // net.3 weight, bias
  EXPECT_NEAR(r.l2[1], (g0 - gp).norm().item<double>(), 1e-10);
  EXPECT_NEAR(r.cos[1], g0.dot(gp).item<double>() / (g0.norm() * gp.norm()).item<double>(), 1e-10);

  std::size_t i = 0;
  for (auto& p : s.model->parameters()) {
    EXPECT_TRUE(torch::equal(p, params_before[i])) << i;
    EXPECT_TRUE(torch::equal(p.grad(), s.grads[i])) << i;
    ++i;
  }
  i = 0;
  for (auto& b : s.model->buffers()) EXPECT_TRUE(torch::equal(b, buffers_before[i++]));
}

}  // namespace
