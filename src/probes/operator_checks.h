#pragma once
/// \file
/// Checks HessianOperator and GgnOperator share (private to src/probes): the parameter list
/// they are built on and the weights they were built at.

#include <cstddef>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/types.h>

namespace bnl::probes::detail {

/// Bit patterns rather than values, so that NaN weights compare equal to themselves.
inline torch::Tensor bits(const torch::Tensor& t) {
  switch (t.element_size()) {
    case 8: return t.view(torch::kLong);
    case 4: return t.view(torch::kInt);
    case 2: return t.view(torch::kShort);
    default: return t.view(torch::kByte);
  }
}

/// Checks that `params` is a non-empty list of defined floating-point tensors that require
/// grad, all of one dtype on one device; messages start with `who`.
inline void check_params(const std::vector<torch::Tensor>& params, const char* who) {
  TORCH_CHECK(!params.empty(), who, ": expected at least one parameter tensor, got none");
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    TORCH_CHECK(p.defined(), who, ": expected defined parameters, got an undefined one at index ", i);
    TORCH_CHECK(p.is_floating_point(), who, ": expected floating-point parameters, got ", p.dtype(), " at index ", i);
    TORCH_CHECK(p.requires_grad(), who, ": expected parameter ", i, " to require grad, got requires_grad=false");
    TORCH_CHECK(p.dtype() == params[0].dtype() && p.device() == params[0].device(), who, ": expected all parameters to be ",
                params[0].dtype(), " on ", params[0].device(), ", got ", p.dtype(), " on ", p.device(), " at index ", i);
  }
}

/// Checks that every parameter still holds, bit for bit, its value in `weights` (the snapshot
/// the operator was built at); messages start with `who`.
inline void check_weights_unchanged(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& weights,
                                    const char* who) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    TORCH_CHECK(torch::equal(bits(params[i].detach()), bits(weights[i])), who,
                ": expected the parameters to hold the values the operator was built at, got parameter ", i,
                " changed; restore() them or build a new operator at the current weights");
  }
}

}  // namespace bnl::probes::detail
