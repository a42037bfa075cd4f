#include "bnlandscape/probes/scaled_operator.h"

#include <cmath>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/norm_spec.h"
#include "bnlandscape/probes/flat_params.h"

namespace bnl::probes {

namespace {

// The blocks of one Sequential whose dotted name is `name` ("" for the model itself).
void append_blocks(const torch::nn::SequentialImpl& seq, const std::string& name,
                   std::vector<ScaleInvariantBlock>& blocks) {
  const auto children = seq.named_children();
  const std::string prefix = name.empty() ? std::string() : name + ".";
  for (std::size_t i = 0; i + 1 < children.size(); ++i) {
    const auto& layer = children[i].value();
    const bool weight_layer = layer->as<torch::nn::Linear>() != nullptr || layer->as<torch::nn::Conv2d>() != nullptr;
    if (!weight_layer || !models::is_norm_layer(*children[i + 1].value())) continue;
    ScaleInvariantBlock block;
    block.layer = prefix + children[i].key();
    for (const auto& p : layer->named_parameters(/*recurse=*/false)) {
      block.names.push_back(block.layer + "." + p.key());
      block.params.push_back(p.value());
    }
    blocks.push_back(std::move(block));
  }
}

}  // namespace

std::vector<ScaleInvariantBlock> scale_invariant_blocks(const torch::nn::Module& model) {
  std::vector<ScaleInvariantBlock> blocks;
  // include_self needs the model held by a shared_ptr; the model itself is looked at apart.
  if (const auto* self = model.as<torch::nn::Sequential>()) append_blocks(*self, "", blocks);
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (const auto* seq = item.value()->as<torch::nn::Sequential>()) append_blocks(*seq, item.key(), blocks);
  }
  return blocks;
}

double block_norm(const ScaleInvariantBlock& block) {
  double sq = 0.0;
  for (const auto& p : block.params) sq += p.detach().to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

Eigen::VectorXd layer_scaling(const std::vector<torch::Tensor>& params, const std::vector<ScaleInvariantBlock>& blocks) {
  Eigen::VectorXd d = Eigen::VectorXd::Ones(numel(params));
  for (const auto& block : blocks) {
    const double norm = block_norm(block);
    for (std::size_t j = 0; j < block.params.size(); ++j) {
      std::int64_t offset = 0;
      bool found = false;
      for (const auto& p : params) {
        if (p.unsafeGetTensorImpl() == block.params[j].unsafeGetTensorImpl()) {
          d.segment(offset, p.numel()).setConstant(norm);
          found = true;
          break;
        }
        offset += p.numel();
      }
      TORCH_CHECK(found, "layer_scaling: expected every block parameter among the operator's parameters, got ",
                  j < block.names.size() ? block.names[j] : block.layer, " missing");
    }
  }
  return d;
}

Eigen::VectorXd adaptive_scaling(const std::vector<torch::Tensor>& params, double eta) {
  TORCH_CHECK(eta >= 0.0 && std::isfinite(eta), "adaptive_scaling: expected eta >= 0, got ", eta);
  Eigen::VectorXd d = to_eigen(flatten(params).detach()).cwiseAbs();
  d.array() += eta;
  return d;
}

}  // namespace bnl::probes
