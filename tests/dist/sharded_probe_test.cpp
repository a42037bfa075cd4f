// The probe set split across ranks (threads of this process meeting through a c10d FileStore,
// as libtorch's own ProcessGroupGloo tests do) gives the single-process numbers: loss,
// gradient and Hessian-vector products of a float64 MLP with our BatchNorm, and every field
// of a whole LandscapeProbe record.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include <torch/torch.h>

#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "common/temp_dir.h"
#include "probes/problems.h"

using namespace bnl;

namespace {

constexpr int kWorld = 2;

using TempDir = bnl_test::TempDir;

models::ModelSpec spec() { return probes::testing::small_mlp_spec(4, {8, 6}, models::NormKind::Custom); }

/// Runs body(rank, communicator) on kWorld threads; rethrows the first failure.
void on_ranks(const std::string& store, const std::function<void(int, dist::Communicator&)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(kWorld);
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = dist::Communicator::connect_file(store, r, kWorld, std::chrono::seconds(60));
        body(r, *comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/// The mean over micro-batches of m examples of the mean cross-entropy of `model` on x, y.
probes::LossFn chunked_loss(std::shared_ptr<models::Classifier> model, torch::Tensor x, torch::Tensor y,
                            std::int64_t m) {
  return [=] {
    torch::Tensor total;
    const std::int64_t n = x.size(0);
    for (std::int64_t b = 0; b < n; b += m) {
      auto l = torch::nn::functional::cross_entropy(model->forward(x.slice(0, b, b + m)), y.slice(0, b, b + m));
      total = total.defined() ? total + l : l;
    }
    return total / static_cast<double>(n / m);
  };
}

double rel(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

}  // namespace

TEST(Communicator, AveragesOverTheRanks) {
  TempDir dir;
  std::vector<torch::Tensor> out(kWorld);
  on_ranks((dir.path / "store").string(), [&](int r, dist::Communicator& c) {
    EXPECT_EQ(c.rank(), r);
    EXPECT_EQ(c.world_size(), kWorld);
    auto t = torch::full({5}, static_cast<double>(r + 1), torch::kFloat64);
    c.average(t);
    auto f = torch::arange(3, torch::kFloat32) * static_cast<float>(r);
    c.average(f);
    out[r] = torch::cat({t, f.to(torch::kFloat64)});
    EXPECT_EQ(c.allreduce_count(), 2);
  });
  const auto expect = torch::tensor({1.5, 1.5, 1.5, 1.5, 1.5, 0.0, 0.5, 1.0}, torch::kFloat64);
  for (int r = 0; r < kWorld; ++r) EXPECT_TRUE(torch::equal(out[r], expect)) << out[r];
}

TEST(Communicator, AMissingPeerFailsWithinTheTimeout) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    dist::Communicator::connect_file((dir.path / "store").string(), 0, kWorld, std::chrono::milliseconds(1500));
    FAIL() << "connected without its peer";
  } catch (const dist::DistError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 of 2"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

TEST(ShardedProbe, LossGradientAndHvpEqualOneProcess) {
  torch::manual_seed(3);
  auto source = models::make_model(spec());
  source->to(torch::kFloat64);
  const auto x = torch::randn({16, 1, 4, 4}, torch::kFloat64);
  const auto y = torch::randint(0, 10, {16}, torch::kInt64);
  const std::int64_t m = 4;  // 4 micro-batches: 2 per rank
  const auto v = torch::randn({probes::HessianOperator(source->parameters(), chunked_loss(source, x, y, m)).rows()},
                              torch::kFloat64);
  probes::HessianOperator single(source->parameters(), chunked_loss(source, x, y, m));
  const auto hv_single = single.hvp(v);

  TempDir dir;
  std::vector<double> loss(kWorld);
  std::vector<torch::Tensor> grad(kWorld), hv(kWorld);
  on_ranks((dir.path / "store").string(), [&](int r, dist::Communicator& c) {
    auto model = models::make_model(spec());
    model->to(torch::kFloat64);
    probes::copy_state(*source, *model);
    const std::int64_t share = x.size(0) / kWorld;
    probes::HessianOperator op(model->parameters(),
                               chunked_loss(model, x.slice(0, r * share, (r + 1) * share),
                                            y.slice(0, r * share, (r + 1) * share), m),
                               [&c](torch::Tensor& t) { c.average(t); });
    loss[r] = op.loss();
    grad[r] = op.gradient().clone();
    hv[r] = op.hvp(v);
    // One all-reduce for loss and gradient together, one per product.
    EXPECT_EQ(c.allreduce_count(), 2);
  });
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_LT(rel(loss[r], single.loss()), 1e-12) << r;
    EXPECT_LT((grad[r] - single.gradient()).abs().max().item<double>(), 1e-12) << r;
    EXPECT_LT((hv[r] - hv_single).abs().max().item<double>(), 1e-10 * std::max(1.0, hv_single.abs().max().item<double>()))
        << r;
    // Every rank holds the same product, bit for bit.
    EXPECT_TRUE(torch::equal(hv[r], hv[0]));
  }
  // The split is not trivially the whole set: a rank's own share alone gives another loss.
  auto own = models::make_model(spec());
  own->to(torch::kFloat64);
  probes::copy_state(*source, *own);
  probes::HessianOperator half(own->parameters(), chunked_loss(own, x.slice(0, 0, 8), y.slice(0, 0, 8), m));
  EXPECT_GT(rel(half.loss(), single.loss()), 1e-6);
}

TEST(ShardedProbe, AWholeProbeRecordEqualsOneProcess) {
  torch::manual_seed(5);
  auto source = models::make_model(spec());
  const auto x = torch::randn({16, 1, 4, 4});
  const auto y = torch::randint(0, 10, {16}, torch::kInt64);
  probes::ProbeConfig cfg;
  cfg.probe_batch = "fixed";
  cfg.probe_size = 16;
  cfg.probe_microbatch = 4;
  cfg.probe_dtype = "float64";
  cfg.top_k = 2;
  cfg.bottom_k = 1;
  cfg.trace_samples = 3;
  cfg.density_runs = 2;
  cfg.density_steps = 6;
  cfg.layer_top_k = 1;
  cfg.tol = 1e-10;
  probes::ProbeContext ctx;
  ctx.seed = 11;
  probes::validate_probe_shard(cfg, kWorld);
  probes::LandscapeProbe single(spec(), cfg, ctx);
  const auto want = single.measure(7, *source, x, y);

  TempDir dir;
  std::vector<probes::ProbeRecord> got(kWorld);
  on_ranks((dir.path / "store").string(), [&](int r, dist::Communicator& c) {
    probes::LandscapeProbe probe(spec(), cfg, ctx, {r, kWorld, [&c](torch::Tensor& t) { c.average(t); }});
    got[r] = probe.measure(7, *source, x, y);
  });
  for (int r = 0; r < kWorld; ++r) {
    const auto& g = got[r];
    EXPECT_LT(rel(g.loss, want.loss), 1e-10);
    EXPECT_LT(rel(g.grad_norm, want.grad_norm), 1e-10);
    EXPECT_LT(rel(g.beta_smoothness, want.beta_smoothness), 1e-10);
    EXPECT_LT(rel(g.grad_curvature, want.grad_curvature), 1e-10);
    EXPECT_LT(rel(g.trace, want.trace), 1e-10);
    ASSERT_EQ(g.loss_path.size(), want.loss_path.size());
    for (std::size_t j = 0; j < g.loss_path.size(); ++j) {
      EXPECT_LT(rel(g.loss_path[j], want.loss_path[j]), 1e-10) << j;
      EXPECT_LT(rel(g.grad_pred[j], want.grad_pred[j]), 1e-10) << j;
    }
    ASSERT_EQ(g.eigvals.size(), 2u);
    for (std::size_t j = 0; j < 2; ++j) EXPECT_LT(rel(g.eigvals[j], want.eigvals[j]), 1e-10) << j;
    EXPECT_LT(rel(g.eigvals_bottom[0], want.eigvals_bottom[0]), 1e-10);
    EXPECT_TRUE(g.converged);
    EXPECT_EQ(g.hvp_count, want.hvp_count);
    // Every rank holds the same record, bit for bit.
    EXPECT_EQ(g.eigvals, got[0].eigvals);
    EXPECT_EQ(g.loss_path, got[0].loss_path);
    // The density and the per-layer eigenvalues too (one all-reduce per product).
    ASSERT_EQ(g.density_nodes.size(), 12u);
    for (std::size_t j = 0; j < 12; ++j) {
      EXPECT_LT(rel(g.density_nodes[j], want.density_nodes[j]), 1e-8) << j;
      EXPECT_NEAR(g.density_weights[j], want.density_weights[j], 1e-8) << j;
    }
    EXPECT_EQ(g.density_hvp_count, want.density_hvp_count);
    ASSERT_EQ(g.layer_eigvals.size(), want.layer_eigvals.size());
    for (std::size_t j = 0; j < g.layer_eigvals.size(); ++j)
      EXPECT_LT(rel(g.layer_eigvals[j], want.layer_eigvals[j]), 1e-8) << j;
    EXPECT_EQ(g.layer_hvp_count, want.layer_hvp_count);
    EXPECT_EQ(g.density_nodes, got[0].density_nodes);
    EXPECT_EQ(g.layer_eigvals, got[0].layer_eigvals);
  }
}

TEST(ShardedProbe, TheSplitMustBeWholeMicroBatchesPerRank) {
  probes::ProbeConfig cfg;
  cfg.probe_batch = "fixed";
  cfg.probe_size = 512;
  cfg.probe_microbatch = 128;
  EXPECT_NO_THROW(probes::validate_probe_shard(cfg, 2));
  EXPECT_NO_THROW(probes::validate_probe_shard(cfg, 4));
  EXPECT_THROW(probes::validate_probe_shard(cfg, 3), std::invalid_argument);  // 4 micro-batches, 3 ranks
  cfg.probe_microbatch = 0;
  EXPECT_THROW(probes::validate_probe_shard(cfg, 2), std::invalid_argument);
  EXPECT_NO_THROW(probes::validate_probe_shard(cfg, 1));
  cfg.probe_microbatch = 128;
  cfg.probe_batch = "current";
  EXPECT_THROW(probes::validate_probe_shard(cfg, 2), std::invalid_argument);
}
