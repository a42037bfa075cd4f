#pragma once
/// \file
/// The structure that the hand-written MLP computations (train::FusedMlpStep, probes::MlpCurvature)
/// rely on, matched once: models::MLP's `net` as [Linear (with bias) -> BatchNorm? -> ReLU]* ->
/// Linear, where every BatchNorm is ours, over [N, C] and with the exact backward.

#include <string>
#include <vector>

namespace torch::nn {
class LinearImpl;
}

namespace bnl::models {

class BatchNormImpl;
class Classifier;

/// One affine layer of a matched MLP: Z = A W^T + b, optionally followed by BatchNorm.
struct MlpLayer {
  std::string linear_name;              ///< the Linear's name in the model, e.g. "net.0"
  torch::nn::LinearImpl* linear = nullptr;  ///< owned by the model; weight [out, in], bias [out]
  std::string bn_name;                  ///< the BatchNorm's name ("" without one), e.g. "net.1"
  BatchNormImpl* bn = nullptr;          ///< owned by the model; nullptr without BatchNorm
};

/// The result of match_mlp_layout: the layers in forward order, or why the model does not match.
struct MlpLayout {
  std::vector<MlpLayer> layers;  ///< empty when the model does not match
  std::string reason;            ///< empty when the model matches

  /// Whether the model matched.
  bool ok() const { return reason.empty(); }
};

/// Matches `model` against flatten -> [Linear -> BatchNorm? -> ReLU]* -> Linear: a models::MLP
/// without BN noise whose `net` holds a Linear with bias, optionally our BatchNorm (not spatial,
/// exact backward, as wide as the Linear's output) and a ReLU, repeated, ending in a Linear.
/// Checks structure only, never dtypes, devices or parameter flags. The reason names the
/// offending module ("net.1 is a spatial BatchNorm"), or says "not an MLP", "noisy BN is on",
/// "net is empty" or "net does not end in a Linear".
MlpLayout match_mlp_layout(Classifier& model);

}  // namespace bnl::models
