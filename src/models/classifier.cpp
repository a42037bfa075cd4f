#include "bnlandscape/models/classifier.h"

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

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

torch::Tensor run_sequential(torch::nn::Sequential& seq, const std::string& prefix,
                             torch::Tensor x, const ForwardRecorder* record) {
  std::size_t i = 0;
  for (auto& m : *seq) {
    x = m.forward(x);
    if (record && *record) (*record)(prefix + "." + std::to_string(i), x);
    ++i;
  }
  return x;
}

}  // namespace bnl::models
