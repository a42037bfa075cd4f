#include "bnlandscape/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <tuple>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/data/dataset.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/fused_mlp_step.h"
#include "bnlandscape/train/metrics.h"
#include "bnlandscape/train/sgd_step.h"

namespace bnl::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Whether the update that made `step` (the last of its epoch when `epoch_end`) is followed by a
// periodic checkpoint: every checkpoint_every steps, or every epoch (-1); and, unless
// checkpoint_every is 0, whenever checkpoint_minutes of wall time have passed since the last
// checkpoint (or the session's start), so that a kill -9 loses a bounded amount of work.
bool periodic_checkpoint_due(const TrainConfig& c, std::int64_t step, bool epoch_end, double seconds_since_last) {
  if (c.checkpoint_every == 0) return false;
  if (c.checkpoint_every > 0 ? step % c.checkpoint_every == 0 : epoch_end) return true;
  return c.checkpoint_minutes > 0 && seconds_since_last >= 60.0 * c.checkpoint_minutes;
}

}  // namespace

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Complete: return "complete";
    case RunStatus::Diverged: return "diverged";
    case RunStatus::Interrupted: return "interrupted";
  }
  return "unknown";
}

Trainer::Trainer(const TrainConfig& config, std::shared_ptr<models::Classifier> model,
                 const data::Dataset& data)
    : config_(config), model_(std::move(model)), data_(data) {
  {
    auto global = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(global.mutex());
    order_start_ = global.clone();
  }
  device_ = resolve_device(config_.device);
  // Moved before the optimizer captures the parameters; a CPU run is left untouched.
  if (!device_.is_cpu()) model_->to(device_);
  if (optimizer_kind(config_) == Optimizer::adam) {
    optimizer_ = std::make_unique<torch::optim::Adam>(
        model_->parameters(), torch::optim::AdamOptions(config_.lr).weight_decay(config_.weight_decay));
  } else {
    optimizer_ = std::make_unique<torch::optim::SGD>(
        model_->parameters(), torch::optim::SGDOptions(config_.lr)
                                  .momentum(config_.momentum)
                                  .weight_decay(config_.weight_decay));
  }
  layer_names_ = model_->layer_names();
  for (const auto& name : layer_names_) {
    std::vector<torch::Tensor> ps;
    for (const auto& item : model_->named_parameters()) {
      const auto& key = item.key();
      if (key.size() > name.size() && key.compare(0, name.size(), name) == 0 && key[name.size()] == '.' &&
          key.find('.', name.size() + 1) == std::string::npos)
        ps.push_back(item.value());
    }
    layer_params_.push_back(std::move(ps));
  }
  drop_singleton_ = bn_kind(config_) != Bn::none;
  params_ = model_->parameters();
  plain_sgd_ = is_plain_sgd(config_);
  // The fused step and the BLAS update work on host memory.
  plain_sgd_ = plain_sgd_ && device_.is_cpu();
  if (step_engine_kind(config_) == StepEngine::automatic && device_.is_cpu() && FusedMlpStep::unsupported_reason(*model_).empty())
    fused_ = std::make_unique<FusedMlpStep>(*model_);
}

Trainer::~Trainer() = default;

std::int64_t Trainer::steps_per_epoch() const {
  return static_cast<std::int64_t>(data::batch_bounds(data_.train.n, config_.batch_size, drop_singleton_).size());
}

std::int64_t Trainer::total_steps() const { return steps_per_epoch() * config_.epochs; }

void Trainer::compute_grad_norms(StepRecord& r) const {
  r.layer_grad_norm.assign(layer_params_.size(), 0.0);
  r.layer_weight_norm.assign(layer_params_.size(), 0.0);
  double total = 0;
  for (std::size_t l = 0; l < layer_params_.size(); ++l) {
    double sq = 0, wsq = 0;
    for (const auto& p : layer_params_[l]) {
      sq += squared_norm(p.grad());
      wsq += squared_norm(p);
    }
    r.layer_grad_norm[l] = std::sqrt(sq);
    r.layer_weight_norm[l] = std::sqrt(wsq);
    total += sq;
  }
  r.grad_norm = std::sqrt(total);
}

void Trainer::update() {
  if (plain_sgd_) {
    plain_sgd_update(params_, config_.lr);
  } else {
    optimizer_->step();
  }
}

std::pair<double, double> Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  const auto& test = data_.test;
  auto bounds = data::batch_bounds(test.n, config_.batch_size, false);
  // Batch statistics of a single example are undefined: fold it into the previous batch.
  if (bn_eval_kind(config_) == BnEval::batch && bounds.size() > 1 && bounds.back().second - bounds.back().first == 1) {
    bounds[bounds.size() - 2].second = bounds.back().second;
    bounds.pop_back();
  }
  std::vector<std::int64_t> idx(static_cast<std::size_t>(test.n));
  for (std::int64_t i = 0; i < test.n; ++i) idx[i] = i;
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (const auto& [b, e] : bounds) {
    auto x = data::gather_images(test, data_.norm, idx.data() + b, e - b).to(device_);
    auto y = data::gather_labels(test, idx.data() + b, e - b).to(device_);
    auto logits = model_->forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
  }
  model_->train();
  const double n = static_cast<double>(std::max<std::int64_t>(test.n, 1));
  return {loss_sum / n, static_cast<double>(correct) / n};
}

StepRecord Trainer::forward_backward(const torch::Tensor& x, const torch::Tensor& y) {
  StepRecord r;
  torch::Tensor logits;
  if (fused_) {
    r.loss = fused_->forward_backward(x, y);
    logits = fused_->logits();
  } else {
    // Dropping the gradients (rather than zeroing them) lets backward hand its freshly
    // computed gradient buffers over instead of adding them into zeroed ones: one memset
    // and one read-add-write of every parameter's size less per step.
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
    logits = model_->forward(x);
    auto loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    r.loss = loss.item<double>();
  }
  r.step = step_;
  r.epoch = epoch_;
  r.acc = batch_accuracy(logits, y);
  r.lr = config_.lr;
  compute_grad_norms(r);
  return r;
}

EpochRecord Trainer::epoch_record(const std::function<double()>& epoch_time) {
  EpochRecord er;
  er.epoch = epoch_;
  er.step = step_;
  er.train_loss = loss_sum_ / std::max<std::int64_t>(batches_, 1);
  er.train_acc = acc_sum_ / std::max<std::int64_t>(batches_, 1);
  er.grad_norm_mean = gnorm_sum_ / std::max<std::int64_t>(batches_, 1);
  std::tie(er.test_loss, er.test_acc) = evaluate();
  // Read after the evaluation: an epoch's time includes its test pass.
  er.wall_time = epoch_time();
  return er;
}

TrainResult Trainer::run(TrainObserver& observer) {
  const auto t_start = Clock::now();
  // Seconds since the run started, earlier sessions of a resumed run included.
  auto run_time = [&] { return wall_offset_ + seconds_since(t_start); };
  TrainResult result;
  model_->train();
  const auto& train = data_.train;
  const auto bounds = data::batch_bounds(train.n, config_.batch_size, drop_singleton_);
  const std::int64_t total = total_steps();
  observer.on_start(total);
  auto last_checkpoint = Clock::now();

  for (; epoch_ < config_.epochs; ++epoch_) {
    // A resumed epoch keeps the time it had already taken.
    const auto t_epoch = Clock::now();
    const double epoch_before = epoch_time_;
    auto epoch_time = [&] { return epoch_before + seconds_since(t_epoch); };
    const auto perm = legacy_order_ ? data::epoch_permutation(train.n, config_.seed, epoch_)
                                    : data::loader_permutation(train.n, order_start_, epoch_);
    for (auto batch = static_cast<std::size_t>(batches_); batch < bounds.size(); ++batch) {
      const auto [b, e] = bounds[batch];
      auto x = data::gather_images(train, data_.norm, perm.data() + b, e - b).to(device_);
      auto y = data::gather_labels(train, perm.data() + b, e - b).to(device_);
      StepRecord r = forward_backward(x, y);
      if (!std::isfinite(r.loss)) {
        r.wall_time = run_time();
        observer.on_step(r);
        observer.on_flush_point(step_);
        result.status = RunStatus::Diverged;
        result.diverged_at_step = step_;
        result.steps = step_;
        result.wall_time = run_time();
        return result;
      }
      observer.before_update(step_, x, y);
      update();
      ++step_;
      r.wall_time = run_time();
      observer.on_step(r);
      loss_sum_ += r.loss;
      acc_sum_ += r.acc;
      gnorm_sum_ += r.grad_norm;
      ++batches_;
      wall_at_step_ = r.wall_time;
      epoch_time_ = epoch_time();

      if (config_.eval_every > 0 && step_ % config_.eval_every == 0) {
        auto [tl, ta] = evaluate();
        observer.on_eval({step_, tl, ta});
      }
      // The run's last step gets its checkpoint after the loop; one inside an epoch, or at its
      // last step before its record, makes a resume redo that record (RunRecorder cuts it).
      const bool last = step_ == total;
      const bool epoch_end = batch + 1 == bounds.size();
      if (!last && periodic_checkpoint_due(config_, step_, epoch_end, seconds_since(last_checkpoint))) {
        observer.on_checkpoint(step_);
        last_checkpoint = Clock::now();
      }
      if (step_ % config_.flush_every == 0) observer.on_flush_point(step_);
      if (observer.stop_requested()) {
        observer.on_checkpoint(step_);
        observer.on_flush_point(step_);
        result.status = RunStatus::Interrupted;
        result.steps = step_;
        result.wall_time = run_time();
        return result;
      }
    }
    observer.on_epoch(epoch_record(epoch_time));
    observer.on_flush_point(step_);
    loss_sum_ = acc_sum_ = gnorm_sum_ = 0;
    batches_ = 0;
    epoch_time_ = 0;
  }
  observer.on_checkpoint(step_);
  observer.on_flush_point(step_);
  result.steps = step_;
  result.wall_time = run_time();
  return result;
}

}  // namespace bnl::train
