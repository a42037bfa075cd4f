#pragma once
/// \file
/// Which weight layers of a model feed a normalisation layer and are therefore scale
/// invariant while it normalises with batch statistics: BN(c (W x + b)) = BN(W x + b) for every
/// c > 0 (up to BN's eps), so the loss does not change when the layer's weight and bias are
/// scaled together (Lyu, Li and Arora 2022; issue 24, section 2). Training records the norms
/// of these blocks (/train/steps/layer_weight_norm and its scale_invariant attribute); the
/// probes' scaled sharpness (probes/scaled_operator.h) builds its blocks from the same list.

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bnl::models {

/// One Linear or Conv2d layer immediately followed, in an nn::Sequential, by a normalisation
/// layer (is_norm_layer: our BatchNorm, libtorch's BatchNorm1d/2d, LpNorm).
struct ScaleInvariantLayer {
  /// Dotted module name of the Linear/Conv layer ("net.1", "conv.0", "features.4").
  std::string name;
  /// The layer itself (owned by the model, which must outlive this reference).
  const torch::nn::Module* module = nullptr;
};

/// The scale-invariant layers of `model`, in the order of its named_modules(): for every
/// nn::Sequential inside it (the model itself included), each Linear/Conv2d child i whose next
/// child i + 1 is a normalisation layer. Empty for a model without normalisation.
std::vector<ScaleInvariantLayer> scale_invariant_layers(const torch::nn::Module& model);

}  // namespace bnl::models
