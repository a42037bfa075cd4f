#include "bnlandscape/probes/param_block.h"

#include <unordered_map>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/norm_spec.h"
#include "bnlandscape/models/torchscript_model.h"

namespace bnl::probes {
namespace {

std::string kind_of(const torch::nn::Module& m) {
  // A submodule of a scripted model (--arch torchscript) is known by its Python class.
  const std::string scripted = models::scripted_class(m);
  if (scripted == "Linear") return "linear";
  if (scripted == "Conv1d" || scripted == "Conv2d" || scripted == "Conv3d") return "conv";
  if (scripted.rfind("BatchNorm", 0) == 0) return "norm";
  if (!scripted.empty()) return "other";
  if (m.as<torch::nn::Linear>()) return "linear";
  if (m.as<torch::nn::Conv2d>() || m.as<torch::nn::Conv1d>() || m.as<torch::nn::Conv3d>()) return "conv";
  if (models::is_norm_layer(m)) return "norm";
  return "other";
}

}  // namespace

std::vector<ParamBlock> parameter_blocks(const torch::nn::Module& model, const std::vector<torch::Tensor>& params) {
  // Identity of the storage-owning tensor, so that a parameter is found whatever view holds it.
  std::unordered_map<const void*, std::pair<std::int64_t, std::int64_t>> where;
  std::int64_t offset = 0;
  for (const auto& p : params) {
    where.emplace(p.unsafeGetTensorImpl(), std::make_pair(offset, p.numel()));
    offset += p.numel();
  }
  std::vector<ParamBlock> blocks;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    ParamBlock b;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      const auto it = where.find(p.value().unsafeGetTensorImpl());
      if (it == where.end()) continue;
      b.ranges.push_back(it->second);
      b.size += it->second.second;
    }
    if (b.size == 0) continue;
    b.name = item.key();
    b.kind = kind_of(*item.value());
    blocks.push_back(std::move(b));
  }
  return blocks;
}

}  // namespace bnl::probes
