#include "bnlandscape/models/scale_invariant.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/norm_spec.h"

namespace bnl::models {
namespace {

// The layers of one Sequential whose dotted name is `name` ("" for the model itself).
void append_layers(const torch::nn::SequentialImpl& seq, const std::string& name,
                   std::vector<ScaleInvariantLayer>& layers) {
  const auto children = seq.named_children();
  const std::string prefix = name.empty() ? std::string() : name + ".";
  for (std::size_t i = 0; i + 1 < children.size(); ++i) {
    const auto& layer = children[i].value();
    const bool weight_layer = layer->as<torch::nn::Linear>() != nullptr || layer->as<torch::nn::Conv2d>() != nullptr;
    if (!weight_layer || !is_norm_layer(*children[i + 1].value())) continue;
    layers.push_back({prefix + children[i].key(), layer.get()});
  }
}

}  // namespace

std::vector<ScaleInvariantLayer> scale_invariant_layers(const torch::nn::Module& model) {
  std::vector<ScaleInvariantLayer> layers;
  // include_self needs the model held by a shared_ptr; the model itself is looked at apart.
  if (const auto* self = model.as<torch::nn::Sequential>()) append_layers(*self, "", layers);
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (const auto* seq = item.value()->as<torch::nn::Sequential>()) append_layers(*seq, item.key(), layers);
  }
  return layers;
}

}  // namespace bnl::models
