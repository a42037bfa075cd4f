#pragma once
/// \file
/// lp batch normalisation (Santurkar et al. 2018, section 3.3): like BatchNorm, but the batch
/// is divided by its average lp norm instead of its standard deviation, to test whether the
/// benefit of BN comes from controlling the scale of activations rather than from their exact
/// first two moments.

#include <cstdint>
#include <limits>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bnlandscape/models/batch_norm.h"

namespace bnl::models {

/// Options of LpNorm, in the style of torch::nn::BatchNormOptions.
struct LpNormOptions {
  /// Options for a layer over `num_features` channels (C) with norm order `p`.
  LpNormOptions(int64_t num_features, double p);

  /// Number of channels C: the size of dimension 1 of the input.
  TORCH_ARG(int64_t, num_features);
  /// Norm order: 1, 2, or std::numeric_limits<double>::infinity() (max |x|).
  TORCH_ARG(double, p);
  /// Added to the scale before dividing: y = gamma * (x - mu) / (s + eps) + beta.
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-statistics update factor m: running = (1 - m) * running + m * batch_stat.
  TORCH_ARG(double, momentum) = 0.1;
  /// false: input [N, C], statistics over N. true: input [N, C, H, W], statistics over N, H, W.
  TORCH_ARG(bool, spatial) = false;
  /// Statistics used by eval-mode forwards (as BatchNorm's --bn-eval).
  TORCH_ARG(BnEvalStats, eval_stats) = BnEvalStats::Running;
};

/// y = gamma * (x - mu) / (s + eps) + beta per channel (dimension 1), where, over the batch
/// (N, or N, H, W when spatial): mu = mean(x) and s = mean(|x|^p)^(1/p) for finite p, or
/// s = max |x| for p = inf. As the paper specifies, s is computed on x before the mean shift.
/// Training mode uses batch statistics and moves running_mean / running_scale towards them
/// with `momentum`; eval mode uses the running ones (or the batch's, see BnEvalStats).
/// Written in plain differentiable tensor ops, so gradients and double backward (Hessian-vector
/// products) are autograd's.
class LpNormImpl : public torch::nn::Cloneable<LpNormImpl> {
 public:
  /// Builds the layer and calls reset().
  explicit LpNormImpl(const LpNormOptions& options);

  /// Registers parameters "gamma" (ones [C]) and "beta" (zeros [C]) and buffers
  /// "running_mean" (zeros [C]) and "running_scale" (ones [C]).
  void reset() override;

  /// y of the same shape as x: [N, C] (or [N, C, H, W] when options.spatial()).
  torch::Tensor forward(const torch::Tensor& x);

  /// Prints e.g. "bnl::models::LpNorm(64, p=2, eps=1e-05, momentum=0.1, spatial=false)".
  void pretty_print(std::ostream& stream) const override;

  /// When false, training-mode forwards leave the running statistics untouched.
  void set_update_running_stats(bool on);

  /// The options of this layer.
  LpNormOptions options;
  /// Scale per channel, [C]; parameter "gamma".
  torch::Tensor gamma;
  /// Shift per channel, [C]; parameter "beta".
  torch::Tensor beta;
  /// Running mean per channel, [C]; buffer "running_mean".
  torch::Tensor running_mean;
  /// Running lp scale s per channel, [C]; buffer "running_scale".
  torch::Tensor running_scale;

 private:
  bool update_running_stats_ = true;
};

/// Module holder of LpNormImpl.
TORCH_MODULE(LpNorm);

/// The batch lp scale s per channel [C] of x ([N, C] or [N, C, d1, ...]): mean(|x|^p)^(1/p)
/// over every dimension but 1, or max |x| for p = inf. Differentiable.
torch::Tensor lp_scale(const torch::Tensor& x, double p);

}  // namespace bnl::models
