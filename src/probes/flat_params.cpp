#include "bnlandscape/probes/flat_params.h"

#include <c10/util/Exception.h>
#include <torch/utils.h>

namespace bnl::probes {

std::int64_t numel(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return torch::empty({0}, torch::kDouble);
  std::vector<torch::Tensor> pieces;
  pieces.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    TORCH_CHECK(tensors[i].defined(), "flatten: expected defined tensors, got an undefined one at index ", i);
    pieces.push_back(tensors[i].reshape({-1}));
  }
  return torch::cat(pieces);
}

std::vector<torch::Tensor> unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& like) {
  const std::int64_t p = numel(like);
  TORCH_CHECK(flat.dim() == 1 && flat.numel() == p, "unflatten: expected a flat tensor of shape [", p,
              "], got shape ", flat.sizes());
  std::vector<torch::Tensor> parts;
  parts.reserve(like.size());
  std::int64_t offset = 0;
  for (const auto& t : like) {
    parts.push_back(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  return parts;
}

void assign_flat(const std::vector<torch::Tensor>& params, const torch::Tensor& flat) {
  const std::int64_t p = numel(params);
  TORCH_CHECK(flat.dim() == 1 && flat.numel() == p, "assign_flat: expected a flat tensor of shape [", p,
              "], got shape ", flat.sizes());
  torch::NoGradGuard no_grad;
  const auto parts = unflatten(flat, params);
  // .data() shares storage but not the version counter; see the header for why.
  for (std::size_t i = 0; i < params.size(); ++i) params[i].data().copy_(parts[i]);
}

std::vector<torch::Tensor> snapshot(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> saved;
  saved.reserve(params.size());
  for (const auto& param : params) saved.push_back(param.detach().clone(torch::MemoryFormat::Preserve));
  return saved;
}

void restore(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& saved) {
  TORCH_CHECK(params.size() == saved.size(), "restore: expected ", params.size(), " saved tensors, got ",
              saved.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    TORCH_CHECK(params[i].sizes() == saved[i].sizes() && params[i].dtype() == saved[i].dtype(),
                "restore: expected saved tensor ", i, " of shape ", params[i].sizes(), " and dtype ",
                params[i].dtype(), ", got ", saved[i].sizes(), " and ", saved[i].dtype());
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].data().copy_(saved[i]);
}

Eigen::VectorXd to_eigen(const torch::Tensor& flat) {
  TORCH_CHECK(flat.dim() == 1, "to_eigen: expected a 1-D tensor, got shape ", flat.sizes());
  const auto cpu = flat.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(cpu.data_ptr<double>(), cpu.numel());
}

torch::Tensor from_eigen(const Eigen::VectorXd& v, const torch::TensorOptions& options) {
  auto t = torch::empty({static_cast<std::int64_t>(v.size())}, torch::kDouble);
  Eigen::Map<Eigen::VectorXd>(t.data_ptr<double>(), v.size()) = v;
  return t.to(options.device(), options.dtype().toScalarType());
}

}  // namespace bnl::probes
