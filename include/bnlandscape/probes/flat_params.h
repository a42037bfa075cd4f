#pragma once
/// \file
/// Conversions between a list of parameter tensors and one flat vector of
/// length P = sum of their numels, plus snapshot / restore of parameter values.

#include <vector>

#include <Eigen/Core>
#include <torch/types.h>

namespace bnl::probes {

/// Total number of elements P of `tensors`.
std::int64_t numel(const std::vector<torch::Tensor>& tensors);

/// Concatenation of the tensors, each flattened in row-major order: shape [P],
/// the dtype/device of the first tensor (all must agree). It is differentiable
/// (not detached), so the flat gradient of a graph keeps its graph; an empty
/// list gives an empty tensor.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors);

/// Copies `flat` ([P], any floating dtype) into `params` in place, slice by
/// slice in the order of flatten(). The write goes through a version-counter-free
/// alias (Python's `.data`), so it records no autograd history and does not
/// invalidate graphs built earlier: a graph used while the weights are
/// changed sees the new values without complaint, which is why
/// HessianOperator checks the weights itself before each product.
void assign_flat(const std::vector<torch::Tensor>& params, const torch::Tensor& flat);

/// Views of `flat` ([P]) shaped as `like`, slice by slice in the order of flatten() (no copy).
std::vector<torch::Tensor> unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& like);

/// Deep, detached copies of `params` (same shapes, dtypes, devices).
std::vector<torch::Tensor> snapshot(const std::vector<torch::Tensor>& params);

/// Writes `saved` (from snapshot()) back into `params`, bit for bit, with the
/// same version-counter-free write as assign_flat(): a graph built at the
/// restored values (a HessianOperator) is valid again afterwards.
void restore(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& saved);

/// Copy of a 1-D tensor into an Eigen vector of doubles: [P] -> VectorXd(P).
Eigen::VectorXd to_eigen(const torch::Tensor& flat);

/// Copy of an Eigen vector into a 1-D tensor with the given options: VectorXd(P) -> [P].
torch::Tensor from_eigen(const Eigen::VectorXd& v, const torch::TensorOptions& options);

}  // namespace bnl::probes
