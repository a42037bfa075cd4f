#include "bnlandscape/models/mlp_layout.h"

#include <cstdint>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/mlp.h"

namespace bnl::models {
namespace {

MlpLayout mismatch(std::string reason) {
  MlpLayout out;
  out.reason = std::move(reason);
  return out;
}

}  // namespace

MlpLayout match_mlp_layout(Classifier& model) {
  auto* mlp = dynamic_cast<MLPImpl*>(&model);
  if (!mlp) return mismatch("not an MLP");
  if (model.bn_noise()) return mismatch("noisy BN is on");
  const auto children = mlp->net->named_children();
  if (children.is_empty()) return mismatch("net is empty");
  // What may come next: a Linear, or (after a Linear) a BatchNorm or ReLU, or (after a
  // BatchNorm) a ReLU.
  enum class Next { Linear, NormOrRelu, Relu } next = Next::Linear;
  MlpLayout out;
  std::int64_t width = 0;
  for (const auto& item : children) {
    const std::string name = "net." + item.key();
    if (auto* lin = item.value()->as<torch::nn::Linear>()) {
      if (next != Next::Linear) return mismatch(name + " is a Linear that follows a Linear or BatchNorm");
      if (!lin->bias.defined()) return mismatch(name + " has no bias");
      width = lin->weight.size(0);
      out.layers.push_back({name, lin, "", nullptr});
      next = Next::NormOrRelu;
    } else if (auto* bn = item.value()->as<BatchNorm>()) {
      if (next != Next::NormOrRelu) return mismatch(name + " is a BatchNorm that does not follow a Linear");
      if (bn->options.spatial()) return mismatch(name + " is a spatial BatchNorm");
      if (bn->options.backward() != BnBackward::Exact) return mismatch(name + " uses the original study's backward");
      if (bn->options.num_features() != width) return mismatch(name + " does not match its Linear's width");
      out.layers.back().bn_name = name;
      out.layers.back().bn = bn;
      next = Next::Relu;
    } else if (item.value()->as<torch::nn::ReLU>()) {
      if (next == Next::Linear) return mismatch(name + " is a ReLU that does not follow a Linear or BatchNorm");
      next = Next::Linear;
    } else {
      return mismatch(name + " is " + item.value()->name() + ", not Linear, our BatchNorm or ReLU");
    }
  }
  if (next != Next::NormOrRelu) return mismatch("net does not end in a Linear");
  return out;
}

}  // namespace bnl::models
