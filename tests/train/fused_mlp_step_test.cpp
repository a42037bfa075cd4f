// The fused MLP step against autograd: the same model's float64 copy (an independent, more
// precise reference) and its float32 autograd step; gradient buffers that persist and are
// overwritten, not accumulated; non-finite values; unsupported models and bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/mlp.h"
#include "bnlandscape/train/fused_mlp_step.h"

using namespace bnl;

namespace {

std::shared_ptr<models::Classifier> mlp(std::vector<std::int64_t> hidden, std::int64_t size, std::uint64_t seed,
                                        const std::string& bn = "none") {
  models::ModelSpec s;
  s.arch = "mlp";
  s.in_channels = 1;
  s.input_size = size;
  s.hidden_dims = std::move(hidden);
  s.norm.kind = models::parse_norm_kind(bn);
  torch::manual_seed(seed);
  return models::make_model(s);
}

struct Reference {
  double loss = 0;
  torch::Tensor logits;
  std::vector<torch::Tensor> grads;
};

// cross_entropy(model(x), y).backward() on a copy of the model in `dtype`: a model of the
// same architecture built afresh, the parameters copied over.
Reference autograd_step(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y,
                        torch::Dtype dtype) {
  auto& live = dynamic_cast<models::MLPImpl&>(model);
  auto copy = std::make_shared<models::MLPImpl>(live.options);
  {
    torch::NoGradGuard no_grad;
    const auto from = live.parameters();
    auto to = copy->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  copy->to(dtype);
  for (auto& p : copy->parameters()) p.mutable_grad() = torch::Tensor();
  Reference r;
  r.logits = copy->forward(x.to(dtype));
  auto loss = torch::nn::functional::cross_entropy(r.logits, y);
  loss.backward();
  r.loss = loss.item<double>();
  r.logits = r.logits.detach().to(torch::kFloat64);
  for (const auto& p : copy->parameters()) r.grads.push_back(p.grad().to(torch::kFloat64));
  return r;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

void expect_matches(models::Classifier& model, train::FusedMlpStep& step, double loss, const Reference& ref,
                    double rel, const std::string& what) {
  EXPECT_NEAR(loss, ref.loss, rel * std::abs(ref.loss)) << what;
  const auto logits = step.logits().to(torch::kFloat64);
  EXPECT_LE(max_abs(logits - ref.logits), rel * max_abs(ref.logits)) << what;
  const auto params = model.parameters();
  ASSERT_EQ(params.size(), ref.grads.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << what << " parameter " << i;
    const auto g = params[i].grad().to(torch::kFloat64);
    EXPECT_LE(max_abs(g - ref.grads[i]), rel * max_abs(ref.grads[i]) + 1e-12) << what << " parameter " << i;
  }
}

}  // namespace

TEST(FusedMlpStep, LossLogitsAndGradientsEqualAutograd) {
  struct Case {
    std::vector<std::int64_t> hidden;
    std::int64_t size, batch;
  };
  // The study's widths on 28x28 inputs, a single hidden layer, odd widths; batch 1, odd, full.
  const std::vector<Case> cases = {{{512, 256, 128}, 28, 128}, {{512, 256, 128}, 28, 1}, {{7}, 5, 33},
                                   {{33, 17, 9, 5}, 6, 13}};
  std::uint64_t seed = 10;
  for (const auto& c : cases) {
    const std::string what = "hidden " + c10::str(c.hidden) + " batch " + std::to_string(c.batch);
    auto model = mlp(c.hidden, c.size, ++seed);
    ASSERT_EQ(train::FusedMlpStep::unsupported_reason(*model), "") << what;
    train::FusedMlpStep step(*model);
    torch::manual_seed(seed);
    const auto x = torch::randn({c.batch, 1, c.size, c.size}) * 1.5;
    const auto y = torch::randint(0, 10, {c.batch}, torch::kInt64);
    const double loss = step.forward_backward(x, y);
    expect_matches(*model, step, loss, autograd_step(*model, x, y, torch::kFloat64), 2e-5, what + " vs float64");
    expect_matches(*model, step, loss, autograd_step(*model, x, y, torch::kFloat32), 2e-5, what + " vs float32");
  }
}

TEST(FusedMlpStep, GradientBuffersPersistAndAreOverwrittenNotAccumulated) {
  auto model = mlp({32, 16}, 8, 3);
  train::FusedMlpStep step(*model);
  torch::manual_seed(4);
  const auto x1 = torch::randn({20, 1, 8, 8}), x2 = torch::randn({20, 1, 8, 8}) * 2;
  const auto y1 = torch::randint(0, 10, {20}, torch::kInt64), y2 = torch::randint(0, 10, {20}, torch::kInt64);
  step.forward_backward(x1, y1);
  auto params = model->parameters();
  std::vector<const void*> ptrs;
  for (const auto& p : params) ptrs.push_back(p.grad().data_ptr());
  // Garbage in one buffer and no buffer for another: both are replaced by the batch gradient.
  params[0].grad().fill_(1e9);
  params[1].mutable_grad() = torch::Tensor();
  const double loss = step.forward_backward(x2, y2);
  expect_matches(*model, step, loss, autograd_step(*model, x2, y2, torch::kFloat64), 2e-5, "second batch");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i != 1) EXPECT_EQ(params[i].grad().data_ptr(), ptrs[i]) << "parameter " << i << " got a new buffer";
  }
  // A smaller batch after a larger one (an epoch's last batch) reuses the buffers' first rows.
  const auto x3 = x1.narrow(0, 0, 7), y3 = y1.narrow(0, 0, 7);
  const double loss3 = step.forward_backward(x3, y3);
  EXPECT_EQ(step.logits().size(0), 7);
  expect_matches(*model, step, loss3, autograd_step(*model, x3, y3, torch::kFloat64), 2e-5, "short batch");
}

TEST(FusedMlpStep, SeesParameterUpdatesMadeInPlace) {
  auto model = mlp({16}, 4, 5);
  train::FusedMlpStep step(*model);
  torch::manual_seed(6);
  const auto x = torch::randn({9, 1, 4, 4});
  const auto y = torch::randint(0, 10, {9}, torch::kInt64);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.mul_(-1.7).add_(0.01);
  }
  const double loss = step.forward_backward(x, y);
  expect_matches(*model, step, loss, autograd_step(*model, x, y, torch::kFloat64), 2e-5, "after update");
}

TEST(FusedMlpStep, NonFiniteValuesBehaveAsInAutograd) {
  auto model = mlp({16, 8}, 4, 7);
  train::FusedMlpStep step(*model);
  torch::manual_seed(8);
  const auto x = torch::randn({6, 1, 4, 4});
  const auto y = torch::randint(0, 10, {6}, torch::kInt64);
  {
    torch::NoGradGuard no_grad;
    model->parameters()[0][3][2] = std::numeric_limits<float>::quiet_NaN();
  }
  const double loss = step.forward_backward(x, y);
  const auto ref = autograd_step(*model, x, y, torch::kFloat32);
  EXPECT_TRUE(std::isnan(ref.loss));
  EXPECT_TRUE(std::isnan(loss));
  // The NaN hidden unit passes through the ReLU (torch.relu keeps NaN) and its gradient through
  // the mask, exactly where autograd's do.
  const auto params = model->parameters();
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::equal(params[i].grad().isnan(), ref.grads[i].isnan())) << "parameter " << i;
}

TEST(FusedMlpStep, RefusesWhatItCannotCompute) {
  auto bn = mlp({16}, 4, 1, "custom");
  EXPECT_NE(train::FusedMlpStep::unsupported_reason(*bn).find("net.1"), std::string::npos)
      << train::FusedMlpStep::unsupported_reason(*bn);
  EXPECT_THROW(train::FusedMlpStep{*bn}, std::invalid_argument);

  models::ModelSpec cnn;
  cnn.arch = "cnn";
  cnn.input_size = 8;
  cnn.hidden_dims = {16};
  cnn.conv_channels = {2, 2};
  EXPECT_EQ(train::FusedMlpStep::unsupported_reason(*models::make_model(cnn)), "not an MLP");

  auto f64 = mlp({16}, 4, 1);
  f64->to(torch::kFloat64);
  EXPECT_NE(train::FusedMlpStep::unsupported_reason(*f64).find("float32"), std::string::npos);

  auto model = mlp({16}, 4, 1);
  train::FusedMlpStep step(*model);
  const auto x = torch::randn({3, 1, 4, 4});
  EXPECT_THROW(step.forward_backward(x, torch::tensor({0, 1, 10}, torch::kInt64)), c10::Error);
  EXPECT_THROW(step.forward_backward(x, torch::tensor({0, -1, 2}, torch::kInt64)), c10::Error);
  EXPECT_THROW(step.forward_backward(x, torch::tensor({0, 1}, torch::kInt64)), c10::Error);
  EXPECT_THROW(step.forward_backward(x, torch::tensor({0, 1, 2}, torch::kInt32)), c10::Error);
  EXPECT_THROW(step.forward_backward(torch::randn({3, 1, 5, 4}), torch::tensor({0, 1, 2}, torch::kInt64)), c10::Error);
  EXPECT_THROW(step.forward_backward(x.to(torch::kFloat64), torch::tensor({0, 1, 2}, torch::kInt64)), c10::Error);
  EXPECT_THROW(step.logits(), c10::Error);
}
