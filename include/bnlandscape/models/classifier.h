#pragma once
/// \file
/// The common base of the study's models: a module mapping images [N, C, H, W] to logits
/// [N, num_classes], whose forward can report every intermediate output by module name.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "bnlandscape/models/bn_noise.h"

namespace bnl::models {

/// Called with (dotted module name, that module's output) for every module a forward runs
/// through, in order; used by activation recording. The tensor is the live output.
using ForwardRecorder = std::function<void(const std::string& name, const torch::Tensor& out)>;

/// Abstract classifier: images [N, C, H, W] -> logits [N, K].
class Classifier : public torch::nn::Module {
 public:
  /// Logits [N, K] for images [N, C, H, W] (an MLP flattens them first).
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  /// Same as forward, calling `record` after each module of the model's Sequentials.
  virtual torch::Tensor forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) = 0;
  /// Names of the modules that own parameters, in forward order ("net.0", "net.1", ...):
  /// the layers of per-layer gradient norms.
  std::vector<std::string> layer_names() const;
  /// Names of the Linear and Conv layers, in forward order (the layers of ICS).
  std::vector<std::string> weight_layer_names() const;

  /// Turns noisy BN (Algorithm 1 of the paper) on (`noise` set) or off (nullptr): in training
  /// mode every normalisation layer's output then passes through noise->apply. Models built by
  /// make_model start without noise; clones and probe copies do not inherit it.
  void set_bn_noise(std::shared_ptr<BnNoise> noise) { bn_noise_ = std::move(noise); }
  /// The noise source, or nullptr when noisy BN is off.
  BnNoise* bn_noise() const { return bn_noise_.get(); }

 protected:
  /// Runs `seq` on `x`, adding this model's BN noise after normalisation layers in training
  /// mode; when `record` is set, reports each child's output as "prefix.i" (a normalisation
  /// layer's output with its noise).
  torch::Tensor run(torch::nn::Sequential& seq, const std::string& prefix, torch::Tensor x,
                    const ForwardRecorder* record);

 private:
  std::shared_ptr<BnNoise> bn_noise_;
};

/// Runs `seq` on `x`; when `record` is set, reports each child's output as "prefix.i"; when
/// `noise` is set, passes the output of every normalisation layer through noise->apply.
torch::Tensor run_sequential(torch::nn::Sequential& seq, const std::string& prefix,
                             torch::Tensor x, const ForwardRecorder* record, BnNoise* noise = nullptr);

}  // namespace bnl::models
