#pragma once
/// \file
/// The original study's MLP (models/mlp.py): flatten -> [Linear(h) -> BN(h)? -> ReLU] for each
/// hidden width -> Linear(num_classes), held in a Sequential registered as `net`, so that
/// parameter and buffer names equal the state_dict keys (net.0.weight, net.1.weight,
/// net.1.running_mean, ...) of the PyTorch nn.Sequential of nn.Linear, nn.BatchNorm1d, nn.ReLU.

#include <cstdint>
#include <vector>

#include <torch/nn/pimpl.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/norm_spec.h"

namespace bnl::models {

/// MLP settings. Fashion-MNIST: input_dim 784, 567,434 parameters without BN (+1,792 with).
struct MLPOptions {
  MLPOptions(std::int64_t input_dim) : input_dim_(input_dim) {}
  TORCH_ARG(std::int64_t, input_dim);
  TORCH_ARG(std::vector<std::int64_t>, hidden_dims) = {512, 256, 128};
  TORCH_ARG(std::int64_t, num_classes) = 10;
  TORCH_ARG(NormSpec, norm) = {};
};

/// Multi-layer perceptron [N, ...] -> [N, num_classes]; BN sits between Linear and ReLU.
class MLPImpl : public Classifier {
 public:
  explicit MLPImpl(const MLPOptions& options);
  /// Registers `net` with PyTorch-default initialisation (U(+-1/sqrt(fan_in))).
  void reset();
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) override;

  MLPOptions options;
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(MLP);

}  // namespace bnl::models
