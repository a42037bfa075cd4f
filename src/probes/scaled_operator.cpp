#include "bnlandscape/probes/scaled_operator.h"

#include <cmath>
#include <utility>

#include <torch/nn/module.h>

#include "bnlandscape/models/scale_invariant.h"
#include "bnlandscape/probes/flat_params.h"

namespace bnl::probes {

std::vector<ScaleInvariantBlock> scale_invariant_blocks(const torch::nn::Module& model) {
  std::vector<ScaleInvariantBlock> blocks;
  for (const auto& layer : models::scale_invariant_layers(model)) {
    ScaleInvariantBlock block;
    block.layer = layer.name;
    for (const auto& p : layer.module->named_parameters(/*recurse=*/false)) {
      block.names.push_back(block.layer + "." + p.key());
      block.params.push_back(p.value());
    }
    blocks.push_back(std::move(block));
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
