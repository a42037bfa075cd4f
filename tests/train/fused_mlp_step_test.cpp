// The fused MLP step against autograd: the same model's float64 copy (an independent, more
// precise reference) and its float32 autograd step, without normalisation and with our
// BatchNorm (gradients of gamma and beta, running statistics); gradient buffers that persist
// and are overwritten, not accumulated; non-finite values; unsupported models and bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "bnlandscape/models/batch_norm.h"
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
  std::vector<torch::Tensor> buffers;  ///< running statistics after the step
};

// cross_entropy(model(x), y).backward() on a copy of the model in `dtype`, in training mode: a
// model of the same architecture built afresh, parameters and buffers copied over. Taken
// before the fused step, which moves the live model's running statistics.
Reference autograd_step(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y,
                        torch::Dtype dtype) {
  auto& live = dynamic_cast<models::MLPImpl&>(model);
  auto copy = std::make_shared<models::MLPImpl>(live.options);
  {
    torch::NoGradGuard no_grad;
    const auto from = live.parameters();
    auto to = copy->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
    const auto bfrom = live.buffers();
    auto bto = copy->buffers();
    for (std::size_t i = 0; i < bfrom.size(); ++i) bto[i].copy_(bfrom[i]);
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
  for (const auto& b : copy->buffers()) r.buffers.push_back(b.to(torch::kFloat64));
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
  // Relative to the parameter's own gradient, with a floor at the largest gradient's scale: the
  // bias of a Linear followed by BN has an exactly zero gradient, float rounding aside.
  double scale = 0;
  for (const auto& g : ref.grads) scale = std::max(scale, max_abs(g));
  for (std::size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << what << " parameter " << i;
    const auto g = params[i].grad().to(torch::kFloat64);
    EXPECT_LE(max_abs(g - ref.grads[i]), rel * std::max(max_abs(ref.grads[i]), 1e-2 * scale)) << what << " parameter " << i;
  }
  const auto buffers = model.buffers();
  ASSERT_EQ(buffers.size(), ref.buffers.size());
  for (std::size_t i = 0; i < buffers.size(); ++i)
    EXPECT_LE(max_abs(buffers[i].to(torch::kFloat64) - ref.buffers[i]), 1e-6 * max_abs(ref.buffers[i])) << what << " buffer " << i;
}

}  // namespace

TEST(FusedMlpStep, LossLogitsAndGradientsEqualAutograd) {
  struct Case {
    std::vector<std::int64_t> hidden;
    std::int64_t size, batch;
    std::string bn;
  };
  // The study's widths on 28x28 inputs, a single hidden layer, odd widths; batch 1 (no BN),
  // 2 (the smallest BN batch), odd, full.
  const std::vector<Case> cases = {{{512, 256, 128}, 28, 128, "none"},  {{512, 256, 128}, 28, 1, "none"},
                                   {{7}, 5, 33, "none"},                {{33, 17, 9, 5}, 6, 13, "none"},
                                   {{512, 256, 128}, 28, 128, "custom"}, {{7}, 5, 2, "custom"},
                                   {{33, 17, 9, 5}, 6, 13, "custom"}};
  std::uint64_t seed = 10;
  for (const auto& c : cases) {
    const std::string what = "hidden " + c10::str(c.hidden) + " batch " + std::to_string(c.batch) + " bn " + c.bn;
    auto model = mlp(c.hidden, c.size, ++seed, c.bn);
    ASSERT_EQ(train::FusedMlpStep::unsupported_reason(*model), "") << what;
    {
      // Trained-looking BN parameters and running statistics rather than the initial 1 and 0.
      torch::NoGradGuard no_grad;
      for (auto& b : model->buffers())
        if (b.is_floating_point()) b.uniform_(0.5, 1.5);  // not num_batches_tracked (int64)
      // A BN layer's weight and bias (torch's names): the parameters of a module with a running_var.
      const auto buffers = model->named_buffers();
      for (auto& item : model->named_parameters())
        if (buffers.contains(item.key().substr(0, item.key().rfind('.')) + ".running_var"))
          item.value().uniform_(-1.0, 1.5);
    }
    train::FusedMlpStep step(*model);
    torch::manual_seed(seed);
    const auto x = torch::randn({c.batch, 1, c.size, c.size}) * 1.5;
    const auto y = torch::randint(0, 10, {c.batch}, torch::kInt64);
    const auto ref64 = autograd_step(*model, x, y, torch::kFloat64);
    const auto ref32 = autograd_step(*model, x, y, torch::kFloat32);
    const double loss = step.forward_backward(x, y);
    expect_matches(*model, step, loss, ref64, 2e-5, what + " vs float64");
    expect_matches(*model, step, loss, ref32, 2e-5, what + " vs float32");
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
    if (i != 1) {
      EXPECT_EQ(params[i].grad().data_ptr(), ptrs[i]) << "parameter " << i << " got a new buffer";
    }
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

TEST(FusedMlpStep, BatchNormWithoutRunningStatisticUpdatesLeavesThemAlone) {
  auto model = mlp({16, 8}, 4, 9, "custom");
  models::for_each_batch_norm(*model, [](models::BatchNormImpl& bn) { bn.set_update_running_stats(false); });
  std::vector<torch::Tensor> before;
  for (const auto& b : model->buffers()) before.push_back(b.clone());
  train::FusedMlpStep step(*model);
  torch::manual_seed(9);
  const auto x = torch::randn({6, 1, 4, 4});
  const auto y = torch::randint(0, 10, {6}, torch::kInt64);
  const auto ref = autograd_step(*model, x, y, torch::kFloat64);
  const double loss = step.forward_backward(x, y);
  const auto buffers = model->buffers();
  for (std::size_t i = 0; i < buffers.size(); ++i) EXPECT_TRUE(torch::equal(buffers[i], before[i])) << "buffer " << i;
  // The reference copy does update its statistics; only gradients and loss are compared.
  EXPECT_NEAR(loss, ref.loss, 2e-5 * ref.loss);
  const auto params = model->parameters();
  double scale = 0;
  for (const auto& g : ref.grads) scale = std::max(scale, max_abs(g));
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_LE(max_abs(params[i].grad().to(torch::kFloat64) - ref.grads[i]), 2e-5 * std::max(max_abs(ref.grads[i]), 1e-2 * scale));
}

TEST(FusedMlpStep, RefusesWhatItCannotCompute) {
  auto why = [](const std::shared_ptr<models::Classifier>& m) { return train::FusedMlpStep::unsupported_reason(*m); };
  auto torch_bn = mlp({16}, 4, 1, "torch");
  EXPECT_NE(why(torch_bn).find("net.1"), std::string::npos) << why(torch_bn);
  EXPECT_THROW(train::FusedMlpStep{*torch_bn}, std::invalid_argument);
  EXPECT_NE(why(mlp({16}, 4, 1, "lp2")).find("net.1"), std::string::npos) << why(mlp({16}, 4, 1, "lp2"));

  auto original = mlp({16}, 4, 1, "custom");
  models::for_each_batch_norm(*original, [](models::BatchNormImpl& bn) { bn.options.backward(models::BnBackward::Original); });
  EXPECT_NE(why(original).find("original"), std::string::npos) << why(original);

  auto noisy = mlp({16}, 4, 1, "custom");
  noisy->set_bn_noise(std::make_shared<models::BnNoise>(models::BnNoiseOptions{0.5, 0.25}, 1));
  EXPECT_NE(why(noisy).find("noisy"), std::string::npos) << why(noisy);

  models::ModelSpec cnn;
  cnn.arch = "cnn";
  cnn.input_size = 8;
  cnn.hidden_dims = {16};
  cnn.conv_channels = {2, 2};
  EXPECT_EQ(why(models::make_model(cnn)), "not an MLP");

  auto f64 = mlp({16}, 4, 1);
  f64->to(torch::kFloat64);
  EXPECT_NE(why(f64).find("float32"), std::string::npos) << why(f64);

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

  // Batch statistics need two examples, and BN layers in eval mode are not a training step.
  auto bn = mlp({16}, 4, 1, "custom");
  train::FusedMlpStep bn_step(*bn);
  EXPECT_THROW(bn_step.forward_backward(x.narrow(0, 0, 1), torch::tensor({0}, torch::kInt64)), c10::Error);
  bn->eval();
  EXPECT_THROW(bn_step.forward_backward(x, torch::tensor({0, 1, 2}, torch::kInt64)), c10::Error);
}
