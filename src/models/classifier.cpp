#include "bnlandscape/models/classifier.h"

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/norm_spec.h"

namespace bnl::models {

std::vector<std::string> Classifier::layer_names() const {
  std::vector<std::string> names;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (!item.value()->named_parameters(/*recurse=*/false).is_empty()) names.push_back(item.key());
  }
  return names;
}

std::vector<std::string> Classifier::weight_layer_names() const {
  std::vector<std::string> names;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    const auto& m = item.value();
    if (m->as<torch::nn::Linear>() || m->as<torch::nn::Conv2d>()) names.push_back(item.key());
  }
  return names;
}

torch::Tensor Classifier::run(torch::nn::Sequential& seq, const std::string& prefix, torch::Tensor x,
                              const ForwardRecorder* record) {
  return run_sequential(seq, prefix, std::move(x), record, is_training() ? bn_noise_.get() : nullptr);
}

torch::Tensor run_sequential(torch::nn::Sequential& seq, const std::string& prefix,
                             torch::Tensor x, const ForwardRecorder* record, BnNoise* noise) {
  std::size_t i = 0;
  for (auto& m : *seq) {
    x = m.forward(x);
    if (noise && is_norm_layer(*m.ptr())) x = noise->apply(x);
    if (record && *record) (*record)(prefix + "." + std::to_string(i), x);
    ++i;
  }
  return x;
}

}  // namespace bnl::models
