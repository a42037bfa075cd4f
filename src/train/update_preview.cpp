// Trainer::preview_update: the optimizer step taken on trial and undone, for measurements of
// the update before it happens (ICS).
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "bnlandscape/train/trainer.h"

namespace bnl::train {

std::vector<torch::Tensor> Trainer::preview_update() {
  torch::NoGradGuard no_grad;
  const auto& params = params_;
  std::vector<torch::Tensor> before;
  for (const auto& p : params) before.push_back(p.detach().clone());
  // A deep copy of the optimizer state: step() updates momentum and moment buffers in place,
  // and the states' own clone() shares those tensors.
  auto& state = optimizer_->state();
  using Key = std::decay_t<decltype(state)>::key_type;
  std::vector<std::pair<Key, std::unique_ptr<torch::optim::OptimizerParamState>>> saved;
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

}  // namespace bnl::train
