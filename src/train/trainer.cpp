#include "bnlandscape/train/trainer.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>
#include <mutex>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/metrics.h"
#include "bnlandscape/train/sgd_step.h"

namespace bnl::train {
namespace {

// Key of a parameter's state in torch::optim::Optimizer::state(): libtorch 1.13 keys it by the
// parameter's TensorImpl address printed as a string, libtorch 2 by the address itself; the
// CUDA builds (README, "Devices") use libtorch 2.
using OptimizerStateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <class Key = OptimizerStateKey>
Key optimizer_state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
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

std::int64_t Trainer::steps_per_epoch() const {
  return static_cast<std::int64_t>(data::batch_bounds(data_.train.n, config_.batch_size, drop_singleton_).size());
}

std::int64_t Trainer::total_steps() const { return steps_per_epoch() * config_.epochs; }

void Trainer::compute_grad_norms(StepRecord& r) const {
  r.layer_grad_norm.assign(layer_params_.size(), 0.0);
  double total = 0;
  for (std::size_t l = 0; l < layer_params_.size(); ++l) {
    double sq = 0;
    for (const auto& p : layer_params_[l]) sq += squared_norm(p.grad());
    r.layer_grad_norm[l] = std::sqrt(sq);
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
      const bool last = step_ == total;
      if (config_.checkpoint_every > 0 && step_ % config_.checkpoint_every == 0 && !last)
        observer.on_checkpoint(step_);
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
    EpochRecord er;
    er.epoch = epoch_;
    er.step = step_;
    er.train_loss = loss_sum_ / std::max<std::int64_t>(batches_, 1);
    er.train_acc = acc_sum_ / std::max<std::int64_t>(batches_, 1);
    er.grad_norm_mean = gnorm_sum_ / std::max<std::int64_t>(batches_, 1);
    std::tie(er.test_loss, er.test_acc) = evaluate();
    er.wall_time = epoch_time();
    observer.on_epoch(er);
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

std::vector<std::pair<std::string, torch::Tensor>> Trainer::named_state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  // .to(kCPU) is the tensor itself on the CPU (shared storage) and a host copy on a GPU.
  for (const auto& item : model_->named_parameters()) out.emplace_back(item.key(), item.value().detach().to(torch::kCPU));
  for (const auto& item : model_->named_buffers()) out.emplace_back(item.key(), item.value().detach().to(torch::kCPU));
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::resume_state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.emplace_back("step", torch::tensor({step_}, torch::kInt64));
  out.emplace_back("epoch", torch::tensor({epoch_}, torch::kInt64));
  out.emplace_back("seed", torch::tensor({static_cast<std::int64_t>(config_.seed)}, torch::kInt64));
  // Position inside the epoch and the epoch's running sums, so a resumed epoch's record equals
  // an uninterrupted one's.
  out.emplace_back("batches_in_epoch", torch::tensor({batches_}, torch::kInt64));
  out.emplace_back("loss_sum", torch::tensor({loss_sum_}, torch::kFloat64));
  out.emplace_back("acc_sum", torch::tensor({acc_sum_}, torch::kFloat64));
  out.emplace_back("grad_norm_sum", torch::tensor({gnorm_sum_}, torch::kFloat64));
  out.emplace_back("wall_time", torch::tensor({wall_at_step_}, torch::kFloat64));
  out.emplace_back("epoch_wall_time", torch::tensor({epoch_time_}, torch::kFloat64));
  out.emplace_back("torch_generator_state", at::detail::getDefaultCPUGenerator().get_state());
  if (!legacy_order_) out.emplace_back("data_order_generator_state", order_start_.get_state());
  if (auto* noise = model_->bn_noise()) out.emplace_back("bn_noise.generator_state", noise->generator().get_state());
  // Optimizer buffers (momentum, Adam moments) by parameter index, so a resume restores them.
  std::int64_t i = 0;
  for (const auto& group : optimizer_->param_groups()) {
    for (const auto& p : group.params()) {
      auto it = optimizer_->state().find(optimizer_state_key(p));
      if (it != optimizer_->state().end()) {
        if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
          if (s->momentum_buffer().defined())
            out.emplace_back("optimizer.momentum_buffer." + std::to_string(i), s->momentum_buffer().to(torch::kCPU));
        } else if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
          out.emplace_back("optimizer.exp_avg." + std::to_string(i), a->exp_avg().to(torch::kCPU));
          out.emplace_back("optimizer.exp_avg_sq." + std::to_string(i), a->exp_avg_sq().to(torch::kCPU));
          out.emplace_back("optimizer.adam_step." + std::to_string(i), torch::tensor({a->step()}, torch::kInt64));
        }
      }
      ++i;
    }
  }
  return out;
}

void Trainer::restore(const std::vector<std::pair<std::string, torch::Tensor>>& weights,
                      const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> w(weights.begin(), weights.end());
  std::map<std::string, torch::Tensor> st(state.begin(), state.end());
  auto need = [](const std::map<std::string, torch::Tensor>& m, const std::string& key, const char* where) {
    const auto it = m.find(key);
    if (it == m.end()) throw std::runtime_error(std::string("resume: expected ") + where + " '" + key + "' in the checkpoint, got none");
    return it->second;
  };
  auto load = [&](torch::Tensor& live, const std::string& name) {
    const auto t = need(w, name, "tensor");
    if (t.sizes() != live.sizes())
      throw std::runtime_error("resume: expected '" + name + "' of shape " + c10::str(live.sizes()) + ", got " + c10::str(t.sizes()));
    live.copy_(t.to(live.scalar_type()));
  };
  for (auto& item : model_->named_parameters()) load(item.value(), item.key());
  for (auto& item : model_->named_buffers()) load(item.value(), item.key());

  auto scalar_i = [&](const char* k) { return need(st, k, "state").reshape(-1)[0].item<std::int64_t>(); };
  auto scalar_d = [&](const char* k) { return need(st, k, "state").reshape(-1)[0].item<double>(); };
  step_ = scalar_i("step");
  epoch_ = scalar_i("epoch");
  batches_ = scalar_i("batches_in_epoch");
  loss_sum_ = scalar_d("loss_sum");
  acc_sum_ = scalar_d("acc_sum");
  gnorm_sum_ = scalar_d("grad_norm_sum");
  wall_offset_ = wall_at_step_ = scalar_d("wall_time");
  epoch_time_ = scalar_d("epoch_wall_time");
  auto gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(need(st, "torch_generator_state", "state"));
  // Checkpoints from before loader_permutation carry no order state: their run continues in
  // the order it started with.
  const auto order = st.find("data_order_generator_state");
  legacy_order_ = order == st.end();
  if (!legacy_order_) order_start_.set_state(order->second);
  if (auto* noise = model_->bn_noise()) noise->generator().set_state(need(st, "bn_noise.generator_state", "state"));

  // Optimizer buffers by parameter index, as resume_state wrote them.
  auto& ostate = optimizer_->state();
  ostate.clear();
  std::int64_t i = 0;
  for (const auto& group : optimizer_->param_groups()) {
    for (const auto& p : group.params()) {
      const std::string idx = std::to_string(i);
      const OptimizerStateKey key = optimizer_state_key(p);
      if (optimizer_kind(config_) == Optimizer::adam) {
        if (st.count("optimizer.exp_avg." + idx)) {
          auto a = std::make_unique<torch::optim::AdamParamState>();
          a->step(need(st, "optimizer.adam_step." + idx, "state").reshape(-1)[0].item<std::int64_t>());
          a->exp_avg(need(st, "optimizer.exp_avg." + idx, "state").to(p.device(), p.scalar_type()).clone());
          a->exp_avg_sq(need(st, "optimizer.exp_avg_sq." + idx, "state").to(p.device(), p.scalar_type()).clone());
          ostate[key] = std::move(a);
        }
      } else if (st.count("optimizer.momentum_buffer." + idx)) {
        auto m = std::make_unique<torch::optim::SGDParamState>();
        m->momentum_buffer(need(st, "optimizer.momentum_buffer." + idx, "state").to(p.device(), p.scalar_type()).clone());
        ostate[key] = std::move(m);
      }
      ++i;
    }
  }
}

std::vector<torch::Tensor> Trainer::preview_update() {
  torch::NoGradGuard no_grad;
  const auto& params = params_;
  std::vector<torch::Tensor> before;
  for (const auto& p : params) before.push_back(p.detach().clone());
  // A deep copy of the optimizer state: step() updates momentum and moment buffers in place,
  // and the states' own clone() shares those tensors.
  auto& state = optimizer_->state();
  std::vector<std::pair<OptimizerStateKey, std::unique_ptr<torch::optim::OptimizerParamState>>> saved;
  for (const auto& [key, st] : state) {
    auto copy = st->clone();
    if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(copy.get())) {
      if (s->momentum_buffer().defined()) s->momentum_buffer(s->momentum_buffer().clone());
    } else if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(copy.get())) {
      if (a->exp_avg().defined()) a->exp_avg(a->exp_avg().clone());
      if (a->exp_avg_sq().defined()) a->exp_avg_sq(a->exp_avg_sq().clone());
      if (a->max_exp_avg_sq().defined()) a->max_exp_avg_sq(a->max_exp_avg_sq().clone());
    } else {
      TORCH_CHECK(false, "preview_update: expected SGD or Adam optimizer state, got another kind");
    }
    saved.emplace_back(key, std::move(copy));
  }
  update();
  std::vector<torch::Tensor> after;
  for (std::size_t i = 0; i < params.size(); ++i) {
    after.push_back(params[i].detach().clone());
    params[i].detach().copy_(before[i]);
  }
  state.clear();
  for (auto& [key, st] : saved) state[key] = std::move(st);
  return after;
}

std::pair<int, int> configure_threads(std::int64_t n, bool convolutional) {
  // Measured on 2 cores (README, "Speed"): libtorch's intra-op OpenMP pool and OpenBLAS's own
  // pthreads oversubscribe the cores when both are > 1. The MLP's time is in BLAS products:
  // one intra-op thread and n BLAS threads. Convolutions run in libtorch's own kernels (oneDNN,
  // im2col) on the intra-op pool: n intra-op threads and one BLAS thread, 1.4-1.8x faster for
  // VGG and the ConvMLP (bench/RESULTS.md).
  const int cores = static_cast<int>(std::max<std::int64_t>(1, n > 0 ? n : std::thread::hardware_concurrency()));
  const int intra = convolutional ? cores : 1;
  const int blas = convolutional ? 1 : cores;
  at::set_num_threads(intra);
  using SetThreads = void (*)(int);
  if (auto* f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(blas);
  return {intra, blas};
}

void configure_allocator() {
  // glibc serves blocks above its mmap threshold (128 KiB at start, raised only up to a freed
  // block's size) with fresh mappings and gives freed heap tops back to the system, so every
  // step's activations and every probe's parameter-sized vectors were page-faulted in anew:
  // 26-45% of a probe run's or the ConvMLP's samples were in the kernel's page-fault path
  // (bench/RESULTS.md). Keeping freed memory in the heap costs the peak working set, which the
  // next step needs again anyway.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

std::string blas_description() {
  using GetConfig = char* (*)();
  if (auto* f = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    const char* c = f();
    return std::string("OpenBLAS ") + (c ? c : "");
  }
  return "unknown";
}

}  // namespace bnl::train
