#pragma once
/// \file
/// Which normalisation layer a model puts after its Linear (and optionally Conv) layers.

#include <cstdint>
#include <memory>
#include <string>

#include <torch/nn/modules/container/any.h>

#include "bnlandscape/models/bn_modes.h"

namespace bnl::models {

/// --bn: none, our own BatchNorm (custom autograd), libtorch's BatchNorm1d/2d as reference, or
/// lp normalisation (LpNorm, section 3.3 of the paper) with p = 1, 2 or infinity.
enum class NormKind { None, Custom, Torch, Lp1, Lp2, LpInf };

/// Parses "none" | "custom" | "torch" | "lp1" | "lp2" | "lpinf"; throws std::invalid_argument
/// otherwise.
NormKind parse_norm_kind(const std::string& s);
/// Parses "exact" | "original".
BnBackward parse_bn_backward(const std::string& s);
/// Parses "running" | "batch".
BnEvalStats parse_bn_eval(const std::string& s);

/// The normalisation layer's settings, shared by every layer of a model.
struct NormSpec {
  NormKind kind = NormKind::None;
  BnBackward backward = BnBackward::Exact;
  BnEvalStats eval_stats = BnEvalStats::Running;
  double eps = 1e-5;
  double momentum = 0.1;

  bool enabled() const { return kind != NormKind::None; }
  /// A normalisation layer over `features` channels: [N, features] when !spatial,
  /// [N, features, H, W] when spatial. Our BatchNorm carries torch.nn's parameter and buffer
  /// names (weight, bias, running_mean, running_var, num_batches_tracked); LpNorm, which torch
  /// lacks, keeps gamma and beta.
  torch::nn::AnyModule make(std::int64_t features, bool spatial) const;
};

/// Whether `m` is a normalisation layer (ours, libtorch's BatchNorm1d/2d, or LpNorm): the
/// modules after which noisy BN adds its noise and whose output is the "post_norm" site.
bool is_norm_layer(const torch::nn::Module& m);

/// Turns running-statistics updates of every BatchNorm and LpNorm (ours) in `model` on or off.
void set_running_stats_updates(torch::nn::Module& model, bool on);

}  // namespace bnl::models
