#pragma once
/// \file
/// Internal covariate shift as defined by Santurkar et al. 2018 (Definition 2.1): how much the
/// gradient of layer i changes when the layers before it take their update of the same step,
/// ||G_i - G'_i||_2 and cos(G_i, G'_i).

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace bnl::models {
class Classifier;
}  // namespace bnl::models

namespace bnl::probes {

/// ICS of the measured layers at one step.
struct IcsRecord {
  std::vector<double> l2;   ///< ||G_i - G'_i||_2 per layer
  std::vector<double> cos;  ///< <G_i, G'_i> / (||G_i|| ||G'_i||) per layer (NaN if a gradient is 0)
};

/// For each layer i of `layers` (module names; a layer's parameters are its own, e.g. weight
/// and bias): G_i = gradient of the mean cross-entropy on (x [B, C, H, W], y [B]) with respect
/// to layer i's parameters at the current weights; G'_i = the same gradient after every
/// parameter that precedes layer i in forward order (the earlier layers, their normalisation
/// layers included) has been replaced by its value in `updated` (the step's update; same
/// order and shapes as model.parameters()), layer i and later unchanged.
/// Both use training mode and the same BN noise draws. The model is left as it was found:
/// parameters, gradients, buffers, mode and the noise generator's state.
IcsRecord internal_covariate_shift(models::Classifier& model, const std::vector<std::string>& layers,
                                   const torch::Tensor& x, const torch::Tensor& y,
                                   const std::vector<torch::Tensor>& updated);

}  // namespace bnl::probes
