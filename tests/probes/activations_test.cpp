#include "bnlandscape/probes/activations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"

namespace {

using namespace bnl::probes;

TEST(Activations, HistogramCountsAndOverflowAddUpToTheValues) {
  torch::manual_seed(0);
  auto v = torch::randn({1000, 7}) * 3;
  v[0][0] = std::nanf("");
  v[1][1] = INFINITY;
  v[2][2] = -INFINITY;
  const HistogramRange r{-2.0, 4.0};
  auto s = summarize_activations(v, r, 13);
  double in = 0;
  for (double c : s.hist) in += c;
  EXPECT_EQ(in + s.underflow + s.overflow, 7000.0);
  // Independent count with plain loops.
  auto flat = v.reshape(-1);
  std::vector<double> hist(13, 0.0);
  double under = 0, over = 0;
  const double w = 6.0 / 13;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double x = flat[i].item<double>();
    if (x < -2.0) ++under;
    else if (!(x <= 4.0)) ++over;
    else hist[std::min<int64_t>(12, static_cast<int64_t>(std::floor((x + 2.0) / w)))] += 1;
  }
  EXPECT_EQ(s.hist, hist);
  EXPECT_EQ(s.underflow, under);
  EXPECT_EQ(s.overflow, over);
}

TEST(Activations, QuantilesMatchASortOfTheValues) {
  torch::manual_seed(1);
  auto v = torch::rand({1001}, torch::kFloat64) * 10 - 2;
  auto s = summarize_activations(v, {-2, 8}, 50);
  std::vector<double> sorted(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < kActivationQuantiles.size(); ++i) {
    const double pos = kActivationQuantiles[i] * 1000.0;  // n - 1 = 1000: exact order statistics
    const auto k = static_cast<std::size_t>(std::llround(pos));
    ASSERT_NEAR(pos, static_cast<double>(k), 1e-9);
    EXPECT_DOUBLE_EQ(s.quantiles[i], sorted[k]) << "q=" << kActivationQuantiles[i];
  }
  // Interpolation between order statistics: four values 0, 1, 2, 3 -> q 0.25 at position 0.75.
  auto four = torch::tensor({3.0, 0.0, 2.0, 1.0}, torch::kFloat64);
  EXPECT_DOUBLE_EQ(sorted_quantile(std::get<0>(four.sort()), 0.25), 0.75);
  double mean = 0;
  for (double x : sorted) mean += x;
  mean /= 1001.0;
  double var = 0;
  for (double x : sorted) var += (x - mean) * (x - mean);
  EXPECT_NEAR(s.mean, mean, 1e-12);
  EXPECT_NEAR(s.std, std::sqrt(var / 1001.0), 1e-12);
}

TEST(Activations, InitialRangeWidensTheCentralQuantilesAndZeroFraction) {
  auto v = torch::arange(0, 201, torch::kFloat64);  // 0..200: 0.5 % -> 1, 99.5 % -> 199
  auto r = initial_range(v);
  EXPECT_DOUBLE_EQ(r.lo, 1.0 - 0.25 * 198.0);
  EXPECT_DOUBLE_EQ(r.hi, 199.0 + 0.25 * 198.0);
  auto c = initial_range(torch::full({10}, 3.0));
  EXPECT_LT(c.lo, 3.0);
  EXPECT_GT(c.hi, 3.0);
  auto relu = torch::relu(torch::tensor({-1.0, 0.0, 2.0, -3.0}));
  EXPECT_DOUBLE_EQ(summarize_activations(relu, {0, 1}, 4).zero_fraction, 0.75);
  const auto e = bin_edges({-1, 1}, 4);
  EXPECT_EQ(e, (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
}

std::shared_ptr<bnl::models::Classifier> model(const std::string& arch, const std::string& bn) {
  bnl::models::ModelSpec spec;
  spec.arch = arch;
  spec.hidden_dims = {12, 8};
  spec.conv_channels = {3, 4};
  spec.norm.kind = bnl::models::parse_norm_kind(bn);
  spec.placement = bnl::models::BnPlacement::All;
  torch::manual_seed(0);
  return bnl::models::make_model(spec);
}

std::vector<std::string> site_names(const ActivationRecorder& r) {
  std::vector<std::string> out;
  for (const auto& s : r.sites()) out.push_back(s.layer + "/" + s.site);
  return out;
}

TEST(ActivationRecorder, FindsTheHiddenLayersSites) {
  auto x = torch::randn({6, 1, 28, 28});
  auto bn = model("mlp", "custom");
  ActivationRecorder r1(*bn, x, 10, std::nullopt);
  r1.record();
  EXPECT_EQ(site_names(r1), (std::vector<std::string>{"net.0/pre_norm", "net.0/post_norm", "net.0/post_relu",
                                                       "net.3/pre_norm", "net.3/post_norm", "net.3/post_relu"}));
  EXPECT_EQ(r1.sites()[1].module, "net.1");
  auto plain = model("mlp", "none");
  ActivationRecorder r2(*plain, x, 10, std::nullopt);
  r2.record();
  EXPECT_EQ(site_names(r2), (std::vector<std::string>{"net.0/pre_norm", "net.0/post_relu", "net.2/pre_norm",
                                                       "net.2/post_relu"}));
  auto cnn = model("cnn", "torch");
  ActivationRecorder r3(*cnn, x, 10, HistogramRange{-5, 5});
  auto s = r3.record();
  EXPECT_EQ(site_names(r3).front(), "conv.0/pre_norm");
  EXPECT_EQ(site_names(r3)[3], "conv.4/pre_norm");
  EXPECT_EQ(site_names(r3).back(), "mlp.3/post_relu");
  EXPECT_EQ(s.front().count, 6 * 3 * 28 * 28);  // every value of the batch
  EXPECT_EQ(r3.ranges().front().lo, -5);
  // Post-normalisation values in training mode have batch mean 0 and std 1 per channel.
  EXPECT_NEAR(s[1].mean, 0.0, 1e-5);
  EXPECT_NEAR(s[1].std, 1.0, 1e-3);
}

TEST(ActivationRecorder, LeavesTheModelUnchanged) {
  for (const std::string bn : {"custom", "torch", "lp2"}) {
    auto m = model("mlp", bn);
    m->set_bn_noise(std::make_shared<bnl::models::BnNoise>(bnl::models::BnNoiseOptions{}, 3));
    m->eval();
    std::vector<torch::Tensor> before;
    for (auto& b : m->buffers()) before.push_back(b.clone());
    const auto gen = m->bn_noise()->generator().get_state();
    ActivationRecorder r(*m, torch::randn({6, 1, 28, 28}), 20, std::nullopt);
    auto first = r.record();
    auto second = r.record();
    EXPECT_FALSE(m->is_training()) << bn;
    std::size_t i = 0;
    for (auto& b : m->buffers()) EXPECT_TRUE(torch::equal(b, before[i++])) << bn;
    EXPECT_TRUE(torch::equal(gen, m->bn_noise()->generator().get_state())) << bn;
    // Same state, same snapshot: the noise is replayed, not advanced.
    EXPECT_EQ(first[1].hist, second[1].hist) << bn;
  }
}

}  // namespace
