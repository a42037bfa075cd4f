#include "bnlandscape/models/mlp.h"

#include <stdexcept>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

namespace bnl::models {

MLPImpl::MLPImpl(const MLPOptions& options_) : options(options_) { reset(); }

void MLPImpl::reset() {
  if (options.input_dim() <= 0)
    throw std::invalid_argument("mlp: expected input_dim > 0, got " + std::to_string(options.input_dim()));
  if (options.hidden_dims().empty())
    throw std::invalid_argument("hidden-dims: expected at least one hidden layer, got none");
  net = torch::nn::Sequential();
  std::int64_t width = options.input_dim();
  for (std::int64_t h : options.hidden_dims()) {
    if (h <= 0) throw std::invalid_argument("hidden-dims: expected widths > 0, got " + std::to_string(h));
    net->push_back(torch::nn::Linear(width, h));
    if (options.norm().enabled()) net->push_back(options.norm().make(h, /*spatial=*/false));
    net->push_back(torch::nn::ReLU());
    width = h;
  }
  net->push_back(torch::nn::Linear(width, options.num_classes()));
  net = register_module("net", net);
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return run(net, "net", x.flatten(1), nullptr);
}

torch::Tensor MLPImpl::forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) {
  return run(net, "net", x.flatten(1), &record);
}

}  // namespace bnl::models
