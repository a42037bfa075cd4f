// Trainer's checkpoint state: weights and buffers by name, and what a resume needs besides
// (position, epoch sums, generators, optimizer buffers), under the names run files store.
#include <map>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "bnlandscape/models/bn_noise.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/train/trainer.h"

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

using TensorMap = std::map<std::string, torch::Tensor>;

torch::Tensor need(const TensorMap& m, const std::string& key, const char* where) {
  const auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error(std::string("resume: expected ") + where + " '" + key + "' in the checkpoint, got none");
  return it->second;
}

// Appends the optimizer's buffers to `out` under "optimizer.<buffer>.<parameter index>".
void append_optimizer_state(torch::optim::Optimizer& optimizer, std::vector<std::pair<std::string, torch::Tensor>>& out) {
  // Optimizer buffers (momentum, Adam moments) by parameter index, so a resume restores them.
  std::int64_t i = 0;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      auto it = optimizer.state().find(optimizer_state_key(p));
      if (it != optimizer.state().end()) {
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
}

// Replaces the optimizer's state with the buffers append_optimizer_state stored in `st`.
void load_optimizer_state(torch::optim::Optimizer& optimizer, bool adam, const TensorMap& st) {
  // Optimizer buffers by parameter index, as resume_state wrote them.
  auto& ostate = optimizer.state();
  ostate.clear();
  std::int64_t i = 0;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      const std::string idx = std::to_string(i);
      const OptimizerStateKey key = optimizer_state_key(p);
      if (adam) {
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

}  // namespace

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
  append_optimizer_state(*optimizer_, out);
  return out;
}

void Trainer::restore(const std::vector<std::pair<std::string, torch::Tensor>>& weights,
                      const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> w(weights.begin(), weights.end());
  std::map<std::string, torch::Tensor> st(state.begin(), state.end());
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

  load_optimizer_state(*optimizer_, optimizer_kind(config_) == Optimizer::adam, st);
}

}  // namespace bnl::train
