// LandscapeProbe: works on a private copy (the training model is never changed), always
// differentiates the exact loss, micro-batch semantics, edge-of-stability threshold.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "probes/problems.h"

using namespace bnl;

namespace {

models::ModelSpec small_spec(models::BnBackward backward) {
  models::ModelSpec s = probes::testing::small_mlp_spec(4, {8, 6}, models::NormKind::Custom);
  s.norm.backward = backward;
  return s;
}

/// A model of small_spec(Exact), initialised after torch::manual_seed(seed), and a batch of
/// `n` random 1x4x4 inputs with random labels drawn after it.
struct ExactBatch {
  std::shared_ptr<models::Classifier> model;
  torch::Tensor x, y;
};

ExactBatch exact_batch(std::uint64_t seed, std::int64_t n) {
  torch::manual_seed(seed);
  ExactBatch b;
  b.model = models::make_model(small_spec(models::BnBackward::Exact));
  b.x = torch::randn({n, 1, 4, 4});
  b.y = torch::randint(0, 10, {n}, torch::kInt64);
  return b;
}

std::vector<torch::Tensor> state_copy(const torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : m.buffers()) out.push_back(b.detach().clone());
  return out;
}

}  // namespace

TEST(LandscapeProbe, NeverChangesTheTrainingModelAndUsesTheExactGradient) {
  torch::manual_seed(0);
  auto orig = models::make_model(small_spec(models::BnBackward::Original));
  auto exact = models::make_model(small_spec(models::BnBackward::Exact));
  probes::copy_state(*orig, *exact);
  auto x = torch::randn({16, 1, 4, 4});
  auto y = torch::randint(0, 10, {16}, torch::kInt64);
  // A gradient in .grad must survive the probe too.
  torch::nn::functional::cross_entropy(orig->forward(x), y).backward();
  auto before = state_copy(*orig);
  std::vector<torch::Tensor> grads;
  for (const auto& p : orig->parameters()) grads.push_back(p.grad().clone());

  probes::ProbeConfig cfg;
  cfg.top_k = 2;
  cfg.probe_dtype = "float64";
  cfg.tol = 1e-9;
  probes::ProbeContext ctx;
  probes::LandscapeProbe pa(small_spec(models::BnBackward::Original), cfg, ctx);
  probes::LandscapeProbe pb(small_spec(models::BnBackward::Exact), cfg, ctx);
  auto ra = pa.measure(0, *orig, x, y);
  auto rb = pb.measure(0, *exact, x, y);

  auto after = state_copy(*orig);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i])) << i;
  auto params = orig->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i].grad(), grads[i])) << i;
  // The original backward is ignored by probes: identical numbers from both models.
  EXPECT_EQ(ra.loss, rb.loss);
  EXPECT_EQ(ra.grad_norm, rb.grad_norm);
  ASSERT_EQ(ra.eigvals.size(), 2u);
  EXPECT_NEAR(ra.eigvals[0], rb.eigvals[0], 1e-9 * std::abs(rb.eigvals[0]));
  EXPECT_TRUE(ra.converged);
  EXPECT_NEAR(std::abs(ra.grad_eig_cosine), std::abs(rb.grad_eig_cosine), 1e-6);
  EXPECT_DOUBLE_EQ(ra.eos_threshold, 2.0 / 0.1);
  // The gradient norm is the exact one: autograd through libtorch's own batch_norm.
  auto ref = models::make_model(small_spec(models::BnBackward::Exact));
  probes::copy_state(*orig, *ref);
  ref->to(torch::kFloat64);
  auto out = ref->forward(x.to(torch::kFloat64));
  EXPECT_NEAR(torch::nn::functional::cross_entropy(out, y).item<double>(), ra.loss, 1e-12);
}

TEST(LandscapeProbe, MicroBatchLossIsTheMeanOfBatchMeans) {
  auto [model, x, y] = exact_batch(1, 12);
  probes::ProbeConfig cfg;
  cfg.top_k = 0;
  cfg.probe_microbatch = 4;
  cfg.probe_dtype = "float64";
  probes::LandscapeProbe probe(small_spec(models::BnBackward::Exact), cfg, {});
  auto r = probe.measure(3, *model, x, y);
  auto m64 = models::make_model(small_spec(models::BnBackward::Exact));
  probes::copy_state(*model, *m64);
  m64->to(torch::kFloat64);
  double expect = 0;
  for (int b = 0; b < 12; b += 4)
    expect += torch::nn::functional::cross_entropy(m64->forward(x.slice(0, b, b + 4).to(torch::kFloat64)),
                                                   y.slice(0, b, b + 4)).item<double>();
  EXPECT_NEAR(r.loss, expect / 3, 1e-12);
  EXPECT_EQ(r.step, 3);
  EXPECT_TRUE(r.eigvals.empty());
  EXPECT_EQ(r.hvp_count, 0);
}

TEST(LandscapeProbe, EdgeOfStabilityThresholdFollowsTheOptimizer) {
  auto [model, x, y] = exact_batch(2, 8);
  probes::ProbeConfig cfg;
  cfg.top_k = 0;
  probes::ProbeContext momentum{0.05, 0.9, "sgd", 0};
  EXPECT_NEAR(probes::LandscapeProbe(small_spec(models::BnBackward::Exact), cfg, momentum).measure(0, *model, x, y).eos_threshold,
              (2 + 2 * 0.9) / 0.05, 1e-9);
  probes::ProbeContext adam{0.001, 0, "adam", 0};
  EXPECT_TRUE(std::isnan(probes::LandscapeProbe(small_spec(models::BnBackward::Exact), cfg, adam).measure(0, *model, x, y).eos_threshold));
}

TEST(LandscapeProbe, ValidationNamesTheOption) {
  probes::ProbeConfig c;
  c.top_k = 500;
  try {
    probes::validate_probe(c, 128, 400);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--top-k"), std::string::npos);
  }
  c.top_k = 1;
  c.step_sizes = "0.1,abc";
  EXPECT_THROW(probes::validate_probe(c, 128, 400), std::invalid_argument);
  c.step_sizes = "0.1, 0.2";
  EXPECT_NO_THROW(probes::validate_probe(c, 128, 400));
  c.checkpoint = "x.h5";
  EXPECT_THROW(probes::validate_probe(c, 128, 400), std::invalid_argument);
}
