#pragma once
// What a training-mode measurement forward may change in a model (running statistics, which
// libtorch's BatchNorm updates unconditionally, and the noisy-BN generator), saved on
// construction and put back by rewind() and on destruction, together with the train/eval mode.

#include <utility>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/models/classifier.h"

namespace bnl::probes::detail {

class TrainingStateGuard {
 public:
  /// Saves buffers, noise state and mode, and switches the model to training mode.
  explicit TrainingStateGuard(models::Classifier& model) : model_(model), was_training_(model.is_training()) {
    for (auto& b : model.buffers()) buffers_.emplace_back(b, b.clone());
    if (auto* noise = model.bn_noise()) noise_state_ = noise->generator().get_state();
    model.train();
  }
  TrainingStateGuard(const TrainingStateGuard&) = delete;
  TrainingStateGuard& operator=(const TrainingStateGuard&) = delete;
  ~TrainingStateGuard() {
    rewind();
    model_.train(was_training_);
  }

  /// Puts buffers and the noise generator back as they were saved (the next forward draws the
  /// same noise).
  void rewind() {
    torch::NoGradGuard no_grad;
    for (auto& [live, saved] : buffers_) live.copy_(saved);
    if (noise_state_.defined()) model_.bn_noise()->generator().set_state(noise_state_);
  }

 private:
  models::Classifier& model_;
  bool was_training_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> buffers_;
  torch::Tensor noise_state_;
};

}  // namespace bnl::probes::detail
