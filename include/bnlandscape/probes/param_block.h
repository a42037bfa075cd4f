#pragma once
/// \file
/// The diagonal blocks of the loss Hessian: the parameters each module owns directly, located
/// in the flat parameter vector (per-layer curvature, layer_hessian.h).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace bnl::probes {

/// The parameters one module owns directly (not its children's): a diagonal block of H.
struct ParamBlock {
  /// Dotted module name, e.g. "net.0" (as in named_modules and the checkpoint's tensor names).
  std::string name;
  /// "linear", "conv", "norm" (models::is_norm_layer) or "other".
  std::string kind;
  /// (offset, length) of each of its parameter tensors in the flat vector of the parameter
  /// list the blocks were built for (flatten() order).
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  /// Number of parameters in the block (sum of the lengths).
  std::int64_t size = 0;
};

/// The blocks of `model`: every submodule (named_modules order, the model itself excluded)
/// owning at least one parameter in `params`, which must be (a subset of) model's parameters,
/// matched by identity. Parameters owned by no submodule belong to no block.
std::vector<ParamBlock> parameter_blocks(const torch::nn::Module& model, const std::vector<torch::Tensor>& params);

}  // namespace bnl::probes
