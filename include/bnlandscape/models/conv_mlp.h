#pragma once
/// \file
/// The original study's ConvMLP (models/cnn.py): `conv` = [Conv3x3 pad 1 -> ReLU -> MaxPool 2]
/// per channel count, flatten, then `mlp` = the MLP's dense head as a plain Sequential
/// (keys conv.0.weight, conv.3.weight, mlp.0.weight, mlp.1.weight, ... as in PyTorch). The original
/// normalises only the dense head; BnPlacement adds a 2-D BN after each convolution.

#include <cstdint>
#include <vector>

#include <torch/nn/pimpl.h>

#include "bnlandscape/models/bn_modes.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/norm_spec.h"

namespace bnl::models {

/// Parses "head" | "conv" | "all".
BnPlacement parse_bn_placement(const std::string& s);

/// ConvMLP settings. Fashion-MNIST (1, 28): 1,790,474 parameters without BN.
struct ConvMLPOptions {
  ConvMLPOptions(std::int64_t in_channels, std::int64_t input_size)
      : in_channels_(in_channels), input_size_(input_size) {}
  TORCH_ARG(std::int64_t, in_channels);
  TORCH_ARG(std::int64_t, input_size);
  TORCH_ARG(std::vector<std::int64_t>, conv_channels) = {32, 64};
  TORCH_ARG(std::vector<std::int64_t>, hidden_dims) = {512, 256, 128};
  TORCH_ARG(std::int64_t, num_classes) = 10;
  TORCH_ARG(NormSpec, norm) = {};
  TORCH_ARG(BnPlacement, placement) = BnPlacement::Head;
};

/// Small CNN [N, C, S, S] -> [N, num_classes]; S must be divisible by 2^len(conv_channels).
class ConvMLPImpl : public Classifier {
 public:
  explicit ConvMLPImpl(const ConvMLPOptions& options);
  void reset();
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) override;

  ConvMLPOptions options;
  torch::nn::Sequential conv{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(ConvMLP);

}  // namespace bnl::models
