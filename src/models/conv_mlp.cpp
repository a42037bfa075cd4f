#include "bnlandscape/models/conv_mlp.h"

#include <stdexcept>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace bnl::models {

BnPlacement parse_bn_placement(const std::string& s) {
  if (s == "head") return BnPlacement::Head;
  if (s == "conv") return BnPlacement::Conv;
  if (s == "all") return BnPlacement::All;
  throw std::invalid_argument("bn-placement: expected head, conv or all, got \"" + s + "\"");
}

ConvMLPImpl::ConvMLPImpl(const ConvMLPOptions& options_) : options(options_) { reset(); }

void ConvMLPImpl::reset() {
  const auto& o = options;
  if (o.conv_channels().empty())
    throw std::invalid_argument("conv-channels: expected at least one convolution, got none");
  if (o.hidden_dims().empty())
    throw std::invalid_argument("hidden-dims: expected at least one hidden layer, got none");
  const std::int64_t factor = std::int64_t(1) << o.conv_channels().size();
  if (o.input_size() <= 0 || o.input_size() % factor != 0)
    throw std::invalid_argument("arch cnn: input size " + std::to_string(o.input_size()) +
                                " is not divisible by 2^" + std::to_string(o.conv_channels().size()) +
                                " = " + std::to_string(factor) + " (one 2x2 max-pool per convolution)");
  const bool conv_bn = o.norm().enabled() && o.placement() != BnPlacement::Head;
  const bool head_bn = o.norm().enabled() && o.placement() != BnPlacement::Conv;

  conv = torch::nn::Sequential();
  std::int64_t ch = o.in_channels();
  for (std::int64_t c : o.conv_channels()) {
    if (c <= 0) throw std::invalid_argument("conv-channels: expected counts > 0, got " + std::to_string(c));
    conv->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch, c, 3).padding(1)));
    if (conv_bn) conv->push_back(o.norm().make(c, /*spatial=*/true));
    conv->push_back(torch::nn::ReLU());
    conv->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    ch = c;
  }
  const std::int64_t side = o.input_size() / factor;
  std::int64_t width = ch * side * side;
  mlp = torch::nn::Sequential();
  for (std::int64_t h : o.hidden_dims()) {
    if (h <= 0) throw std::invalid_argument("hidden-dims: expected widths > 0, got " + std::to_string(h));
    mlp->push_back(torch::nn::Linear(width, h));
    if (head_bn) mlp->push_back(o.norm().make(h, /*spatial=*/false));
    mlp->push_back(torch::nn::ReLU());
    width = h;
  }
  mlp->push_back(torch::nn::Linear(width, o.num_classes()));
  conv = register_module("conv", conv);
  mlp = register_module("mlp", mlp);
}

torch::Tensor ConvMLPImpl::forward(const torch::Tensor& x) {
  return run(mlp, "mlp", run(conv, "conv", x, nullptr).flatten(1), nullptr);
}

torch::Tensor ConvMLPImpl::forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) {
  return run(mlp, "mlp", run(conv, "conv", x, &record).flatten(1), &record);
}

}  // namespace bnl::models
