// The training engine on a small synthetic problem: reproducibility, the metrics' definitions,
// divergence handling, the singleton-batch rule, and evaluation mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/train/sgd_step.h"
#include "bnlandscape/train/trainer.h"

using namespace bnl;

namespace {

/// Two-class-per-prototype images: learnable, 8x8, one channel.
data::Dataset synthetic(std::int64_t n_train, std::int64_t n_test, std::uint64_t seed = 1) {
  data::Dataset d;
  d.name = "synthetic";
  d.norm = {{0.5f}, {0.25f}};
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<std::vector<int>> proto(10, std::vector<int>(64));
  for (auto& p : proto)
    for (auto& v : p) v = static_cast<int>(rng() % 256);
  auto fill = [&](data::ImageSet& s, std::int64_t n) {
    s.n = n;
    s.channels = 1;
    s.height = s.width = 8;
    for (std::int64_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(rng() % 10);
      s.labels.push_back(static_cast<std::uint8_t>(label));
      for (int v : proto[label]) s.pixels.push_back(static_cast<std::uint8_t>(std::clamp(v + static_cast<int>(rng() % 41) - 20, 0, 255)));
    }
  };
  fill(d.train, n_train);
  fill(d.test, n_test);
  return d;
}

train::TrainConfig config(const std::string& bn = "custom") {
  train::TrainConfig c;
  c.bn = bn;
  c.hidden_dims = "32,16";
  c.batch_size = 32;
  c.epochs = 2;
  c.lr = 0.1;
  c.seed = 5;
  c.out = "unused.h5";
  return c;
}

std::shared_ptr<models::Classifier> model_for(const train::TrainConfig& c) {
  models::ModelSpec s;
  s.arch = c.arch;
  s.in_channels = 1;
  s.input_size = 8;
  s.hidden_dims = models::parse_int_list(c.hidden_dims, "hidden-dims");
  s.conv_channels = {4, 8};
  s.norm.kind = models::parse_norm_kind(c.bn);
  s.norm.backward = models::parse_bn_backward(c.bn_backward);
  s.norm.eval_stats = models::parse_bn_eval(c.bn_eval);
  torch::manual_seed(c.seed);
  return models::make_model(s);
}

struct Recorder : train::TrainObserver {
  std::vector<train::StepRecord> steps;
  std::vector<train::EpochRecord> epochs;
  std::vector<double> direct_grad_norms;
  std::vector<std::int64_t> checkpoints;
  torch::nn::Module* model = nullptr;
  void before_update(std::int64_t, const torch::Tensor&, const torch::Tensor&) override {
    double sq = 0;
    for (const auto& p : model->parameters()) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    direct_grad_norms.push_back(std::sqrt(sq));
  }
  void on_step(const train::StepRecord& r) override { steps.push_back(r); }
  void on_epoch(const train::EpochRecord& r) override { epochs.push_back(r); }
  void on_checkpoint(std::int64_t s) override { checkpoints.push_back(s); }
};

Recorder run(const train::TrainConfig& c, const data::Dataset& d) {
  train::configure_threads(1);
  auto m = model_for(c);
  train::Trainer t(c, m, d);
  Recorder r;
  r.model = m.get();
  t.run(r);
  return r;
}

}  // namespace

TEST(Trainer, SameSeedSameMetricsDifferentSeedDifferent) {
  auto d = synthetic(320, 100);
  auto a = run(config(), d), b = run(config(), d);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].loss, b.steps[i].loss);
    EXPECT_EQ(a.steps[i].grad_norm, b.steps[i].grad_norm);
  }
  EXPECT_EQ(a.epochs.back().test_acc, b.epochs.back().test_acc);
  auto c = config();
  c.seed = 6;
  EXPECT_NE(run(c, d).steps[0].loss, a.steps[0].loss);
}

TEST(Trainer, MetricsFollowTheirDefinitions) {
  auto d = synthetic(320, 100);
  auto r = run(config(), d);
  ASSERT_EQ(r.steps.size(), 20u);  // 320 / 32 * 2 epochs
  ASSERT_EQ(r.epochs.size(), 2u);
  double loss = 0, acc = 0, gn = 0;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(r.steps[i].step, i);
    EXPECT_EQ(r.steps[i].epoch, 0);
    // The global norm is the norm over all parameters (biases, gamma, beta included).
    EXPECT_NEAR(r.steps[i].grad_norm, r.direct_grad_norms[i], 1e-5 * r.direct_grad_norms[i]);
    double layer_sq = 0;
    for (double g : r.steps[i].layer_grad_norm) layer_sq += g * g;
    EXPECT_NEAR(std::sqrt(layer_sq), r.steps[i].grad_norm, 1e-9 * r.steps[i].grad_norm);
    loss += r.steps[i].loss;
    acc += r.steps[i].acc;
    gn += r.steps[i].grad_norm;
  }
  EXPECT_NEAR(r.epochs[0].train_loss, loss / 10, 1e-12);
  EXPECT_NEAR(r.epochs[0].train_acc, acc / 10, 1e-12);
  EXPECT_NEAR(r.epochs[0].grad_norm_mean, gn / 10, 1e-12);
  EXPECT_EQ(r.epochs[0].step, 10);
  EXPECT_EQ(r.steps[0].layer_grad_norm.size(), 5u);  // net.0 net.1 net.3 net.4 net.6
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  EXPECT_GT(r.epochs.back().test_acc, 0.5);  // learnable problem
  EXPECT_EQ(r.checkpoints.back(), 20);
}

TEST(Trainer, DefaultCheckpointsEveryEpochAndEveryFewMinutes) {
  auto d = synthetic(320, 100);  // 10 steps an epoch
  auto c = config();
  c.epochs = 3;
  // The default: the end of every epoch (and the run's end), nothing else in a short run.
  ASSERT_EQ(c.checkpoint_every, -1);
  ASSERT_GT(c.checkpoint_minutes, 0);
  EXPECT_EQ(run(c, d).checkpoints, (std::vector<std::int64_t>{10, 20, 30}));
  // 0: the end only, whatever the minutes say.
  c.checkpoint_every = 0;
  c.checkpoint_minutes = 1e-12;
  EXPECT_EQ(run(c, d).checkpoints, (std::vector<std::int64_t>{30}));
  // Every N steps, and after every step once the wall-time bound is below a step's time.
  c.checkpoint_every = 4;
  c.checkpoint_minutes = 0;
  EXPECT_EQ(run(c, d).checkpoints, (std::vector<std::int64_t>{4, 8, 12, 16, 20, 24, 28, 30}));
  c.checkpoint_every = -1;
  c.checkpoint_minutes = 1e-12;
  std::vector<std::int64_t> every;
  for (std::int64_t s = 1; s <= 30; ++s) every.push_back(s);
  EXPECT_EQ(run(c, d).checkpoints, every);
}

TEST(Trainer, SingletonLastBatchIsDroppedOnlyWithBatchNorm) {
  auto d = synthetic(65, 20);
  auto c = config();
  c.epochs = 1;
  EXPECT_EQ(run(c, d).steps.size(), 2u);
  c.bn = "none";
  EXPECT_EQ(run(c, d).steps.size(), 3u);
}

TEST(Trainer, NonFiniteLossStopsTheRunAsDiverged) {
  auto d = synthetic(320, 100);
  auto c = config("none");
  c.lr = 1e12;
  c.epochs = 5;
  train::configure_threads(1);
  auto m = model_for(c);
  train::Trainer t(c, m, d);
  Recorder r;
  r.model = m.get();
  auto res = t.run(r);
  ASSERT_EQ(res.status, train::RunStatus::Diverged);
  EXPECT_GE(res.diverged_at_step, 1);
  EXPECT_FALSE(std::isfinite(r.steps.back().loss));
  EXPECT_EQ(r.steps.back().step, res.diverged_at_step);
  EXPECT_LT(static_cast<std::int64_t>(r.steps.size()), 50);
}

TEST(Trainer, EvaluateUsesRunningStatisticsAndRestoresTrainingMode) {
  auto d = synthetic(320, 100);
  auto c = config();
  train::configure_threads(1);
  auto m = model_for(c);
  train::Trainer t(c, m, d);
  auto [loss, acc] = t.evaluate();
  EXPECT_TRUE(m->is_training());
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GE(acc, 0.0);
  // Before training the running statistics are (0, 1); evaluation with them differs from
  // evaluation with batch statistics.
  c.bn_eval = "batch";
  auto m2 = model_for(c);
  train::Trainer t2(c, m2, d);
  EXPECT_NE(t2.evaluate().first, loss);
}

TEST(Trainer, OriginalBackwardChangesTheTrajectory) {
  auto d = synthetic(320, 100);
  // Both through autograd (the original backward has no fused step), so that only the
  // backward formula differs.
  auto e = config();
  e.step_engine = "autograd";
  auto exact = run(e, d);
  auto c = e;
  c.bn_backward = "original";
  auto orig = run(c, d);
  EXPECT_EQ(orig.steps[0].loss, exact.steps[0].loss);  // same start
  EXPECT_NE(orig.steps[0].grad_norm, exact.steps[0].grad_norm);  // different gradient
}

namespace {

/// Calls preview_update at every step and checks it against the step the trainer then takes.
struct PreviewChecker : train::TrainObserver {
  train::Trainer* trainer = nullptr;
  std::vector<torch::Tensor> preview;
  int checked = 0;
  void before_update(std::int64_t, const torch::Tensor&, const torch::Tensor&) override {
    if (!preview.empty()) compare();
    std::vector<torch::Tensor> before, grads;
    for (auto& p : trainer->model().parameters()) {
      before.push_back(p.detach().clone());
      grads.push_back(p.grad().clone());
    }
    preview = trainer->preview_update();
    std::size_t i = 0;
    for (auto& p : trainer->model().parameters()) {
      EXPECT_TRUE(torch::equal(p, before[i])) << "weights changed by preview_update";
      EXPECT_TRUE(torch::equal(p.grad(), grads[i])) << "gradients changed by preview_update";
      ++i;
    }
  }
  void on_step(const train::StepRecord&) override { compare(); }
  void compare() {
    if (preview.empty()) return;
    std::size_t i = 0;
    for (auto& p : trainer->model().parameters()) EXPECT_TRUE(torch::equal(p, preview[i++]));
    preview.clear();
    ++checked;
  }
};

}  // namespace

TEST(Trainer, PreviewUpdateEqualsTheStepAndLeavesTheOptimizerAlone) {
  auto d = synthetic(160, 40);
  // "plain" is SGD without momentum or weight decay: the trainer's own BLAS update.
  for (const std::string opt : {"plain", "sgd", "adam"}) {
    auto c = config();
    c.epochs = 1;
    c.optimizer = opt == "adam" ? "adam" : "sgd";
    c.momentum = opt == "sgd" ? 0.9 : 0.0;
    c.weight_decay = opt == "plain" ? 0.0 : 1e-3;
    c.lr = opt == "adam" ? 1e-3 : 0.1;
    ASSERT_EQ(train::is_plain_sgd(c), opt == "plain");
    // Reference trajectory without previews; momentum/moment buffers must be left untouched
    // by a preview, or the next steps would differ.
    auto plain = run(c, d);
    train::configure_threads(1);
    auto m = model_for(c);
    train::Trainer t(c, m, d);
    PreviewChecker check;
    check.trainer = &t;
    t.run(check);
    EXPECT_EQ(check.checked, 5) << opt;
    // A run that previews every step has the losses of one that never does.
    train::configure_threads(1);
    auto m2 = model_for(c);
    train::Trainer t2(c, m2, d);
    struct Both : train::TrainObserver {
      train::Trainer* t;
      std::vector<double> losses;
      void before_update(std::int64_t, const torch::Tensor&, const torch::Tensor&) override { t->preview_update(); }
      void on_step(const train::StepRecord& r) override { losses.push_back(r.loss); }
    } both;
    both.t = &t2;
    t2.run(both);
    ASSERT_EQ(both.losses.size(), plain.steps.size());
    for (std::size_t i = 0; i < both.losses.size(); ++i) EXPECT_EQ(both.losses[i], plain.steps[i].loss) << opt << " step " << i;
  }
}

TEST(Trainer, PlainSgdFollowsLibtorchsSgd) {
  // The plain-SGD update goes through BLAS; a weight decay of 1e-30 (below float32's resolution
  // next to any gradient entry that matters) sends the same run through torch::optim::SGD.
  auto d = synthetic(320, 100);
  auto c = config();
  auto ref_cfg = c;
  ref_cfg.weight_decay = 1e-30;
  ASSERT_TRUE(train::is_plain_sgd(c));
  ASSERT_FALSE(train::is_plain_sgd(ref_cfg));
  auto ours = run(c, d), ref = run(ref_cfg, d);
  ASSERT_EQ(ours.steps.size(), ref.steps.size());
  for (std::size_t i = 0; i < ours.steps.size(); ++i) {
    EXPECT_NEAR(ours.steps[i].loss, ref.steps[i].loss, 1e-4 * ref.steps[i].loss) << "step " << i;
    EXPECT_NEAR(ours.steps[i].grad_norm, ref.steps[i].grad_norm, 1e-4 * ref.steps[i].grad_norm) << "step " << i;
  }
  EXPECT_NEAR(ours.epochs.back().test_acc, ref.epochs.back().test_acc, 0.02);
  // A wrong learning rate would not follow: half the step gives a different trajectory.
  auto half = c;
  half.lr = c.lr / 2;
  EXPECT_GT(std::abs(run(half, d).steps.back().loss - ref.steps.back().loss), 1e-3);
}

TEST(Trainer, FusedStepFollowsAutograd) {
  // --step-engine auto takes the fused step for an MLP without BN or with ours; autograd gives
  // the reference.
  auto d = synthetic(330, 100);  // 330 = 10 batches of 32 and one of 10
  for (const std::string bn : {"none", "custom"}) {
    auto c = config(bn);
    auto ref_cfg = c;
    ref_cfg.step_engine = "autograd";
    {
      auto m = model_for(c);
      EXPECT_STREQ(train::Trainer(c, m, d).step_engine(), "fused");
      EXPECT_STREQ(train::Trainer(ref_cfg, m, d).step_engine(), "autograd");
    }
    auto fused = run(c, d), ref = run(ref_cfg, d);
    ASSERT_EQ(fused.steps.size(), ref.steps.size());
    ASSERT_EQ(fused.steps.size(), 22u);
    for (std::size_t i = 0; i < fused.steps.size(); ++i) {
      EXPECT_NEAR(fused.steps[i].loss, ref.steps[i].loss, 1e-4 * ref.steps[i].loss) << bn << " step " << i;
      EXPECT_NEAR(fused.steps[i].grad_norm, ref.steps[i].grad_norm, 1e-4 * ref.steps[i].grad_norm) << bn << " step " << i;
      EXPECT_EQ(fused.steps[i].acc, ref.steps[i].acc) << bn << " step " << i;
      // The observer sees the batch gradient in .grad() before the update, as with autograd.
      EXPECT_NEAR(fused.direct_grad_norms[i], fused.steps[i].grad_norm, 1e-5 * fused.steps[i].grad_norm);
    }
    // Evaluation uses the running statistics the fused steps moved.
    EXPECT_NEAR(fused.epochs.back().test_loss, ref.epochs.back().test_loss, 1e-3 * ref.epochs.back().test_loss) << bn;
    EXPECT_NEAR(fused.epochs.back().test_acc, ref.epochs.back().test_acc, 0.02) << bn;
    EXPECT_LT(fused.epochs.back().train_loss, fused.epochs.front().train_loss) << bn;
  }
  for (const std::string bn : {"torch", "lp2"}) {
    auto c = config(bn);
    EXPECT_STREQ(train::Trainer(c, model_for(c), d).step_engine(), "autograd") << bn;
  }
  auto original = config("custom");
  original.bn_backward = "original";
  EXPECT_STREQ(train::Trainer(original, model_for(original), d).step_engine(), "autograd");
}

namespace {

/// Labels of every training batch, in the order the trainer drew them.
struct LabelRecorder : train::TrainObserver {
  std::vector<torch::Tensor> labels;
  void before_update(std::int64_t, const torch::Tensor&, const torch::Tensor& y) override { labels.push_back(y.clone()); }
};

}  // namespace

TEST(Trainer, ResumeKeepsTheDataOrderItsCheckpointStartedWith) {
  auto d = synthetic(320, 100);
  auto c = config("none");
  train::configure_threads(1);
  const auto n = d.train.n;
  const auto b = c.batch_size;
  auto first_labels = [&](const std::vector<std::int64_t>& perm) {
    return data::gather_labels(d.train, perm.data(), b);
  };
  // Uninterrupted: the PyTorch DataLoader order continuing from the initialisation's generator.
  auto m = model_for(c);
  const auto start = at::detail::getDefaultCPUGenerator().clone();
  train::Trainer t(c, m, d);
  const auto state = t.resume_state();
  const auto weights = t.named_state();
  LabelRecorder whole;
  t.run(whole);
  ASSERT_EQ(whole.labels.size(), 20u);
  for (std::int64_t e = 0; e < 2; ++e)
    EXPECT_TRUE(torch::equal(whole.labels[e * 10], first_labels(data::loader_permutation(n, start, e)))) << e;

  // A checkpoint with the order's generator state, restored into a trainer built after other
  // draws: the order is the checkpoint's, not the live generator's.
  auto m2 = model_for(c);
  torch::rand({100});
  train::Trainer t2(c, m2, d);
  t2.restore(weights, state);
  LabelRecorder resumed;
  t2.run(resumed);
  ASSERT_EQ(resumed.labels.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_TRUE(torch::equal(resumed.labels[i], whole.labels[i])) << i;

  // A checkpoint written before loader_permutation (no order state) keeps the old order.
  std::vector<std::pair<std::string, torch::Tensor>> legacy;
  for (const auto& kv : state)
    if (kv.first != "data_order_generator_state") legacy.push_back(kv);
  ASSERT_EQ(legacy.size() + 1, state.size());
  auto m3 = model_for(c);
  train::Trainer t3(c, m3, d);
  t3.restore(weights, legacy);
  LabelRecorder old;
  t3.run(old);
  ASSERT_EQ(old.labels.size(), 20u);
  for (std::int64_t e = 0; e < 2; ++e)
    EXPECT_TRUE(torch::equal(old.labels[e * 10], first_labels(data::epoch_permutation(n, c.seed, e)))) << e;
  EXPECT_FALSE(torch::equal(old.labels[0], whole.labels[0]));
  const auto written = t3.resume_state();
  EXPECT_TRUE(std::none_of(written.begin(), written.end(),
                           [](const auto& kv) { return kv.first == "data_order_generator_state"; }));
}

TEST(Trainer, ThreadsGoToBlasForTheMlpAndToTheIntraOpPoolForConvolutions) {
  EXPECT_EQ(train::configure_threads(2), std::make_pair(1, 2));
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(train::configure_threads(2, /*convolutional=*/true), std::make_pair(2, 1));
  EXPECT_EQ(at::get_num_threads(), 2);
  EXPECT_EQ(train::configure_threads(1, /*convolutional=*/true), std::make_pair(1, 1));
  EXPECT_EQ(at::get_num_threads(), 1);
}
