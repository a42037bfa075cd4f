#pragma once
/// \file
/// Our own batch normalisation layer (Ioffe & Szegedy 2015) as studied by Santurkar et al. 2018:
/// a custom autograd Function with a hand-derived backward that is itself differentiable (so
/// Hessian-vector products through the layer are exact), an optional reproduction of the
/// original study's flawed backward, and control over which statistics eval mode uses and
/// whether training-mode forwards move the running statistics.

#include <cstdint>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bnlandscape/models/bn_modes.h"

namespace bnl::models {

/// Options of BatchNorm, in the style of torch::nn::BatchNormOptions.
struct BatchNormOptions {
  /// Options for a layer over `num_features` channels (C).
  BatchNormOptions(int64_t num_features);  // NOLINT(google-explicit-constructor)

  /// Number of channels C: the size of dimension 1 of the input.
  TORCH_ARG(int64_t, num_features);
  /// Added to the variance before the square root: x_hat = (x - mu) / sqrt(var + eps).
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-statistics update factor m: running = (1 - m) * running + m * batch_stat.
  TORCH_ARG(double, momentum) = 0.1;
  /// false: input [N, C], statistics over N. true: input [N, C, H, W], statistics over N, H, W.
  TORCH_ARG(bool, spatial) = false;
  /// Backward formula of batch-statistics forwards (training, and eval with BnEvalStats::Batch).
  TORCH_ARG(BnBackward, backward) = BnBackward::Exact;
  /// Statistics used by eval-mode forwards.
  TORCH_ARG(BnEvalStats, eval_stats) = BnEvalStats::Running;
};

/// Batch normalisation y = gamma * (x - mu) / sqrt(var + eps) + beta over channel dimension 1.
/// Training mode: mu, var are the batch mean and biased variance per channel (over N, or N, H, W
/// when spatial), computed by batch_norm_train, and running_mean / running_var move towards the
/// batch mean and the unbiased batch variance with `momentum`, exactly as torch::nn::BatchNorm1d
/// / BatchNorm2d do. Eval mode: see BnEvalStats. Parameters and buffers carry torch.nn's names
/// (weight, bias, running_mean, running_var, num_batches_tracked), so a model's state dict loads
/// into the PyTorch equivalent built from torch.nn.BatchNorm1d / BatchNorm2d.
class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  /// Builds the layer and calls reset().
  explicit BatchNormImpl(const BatchNormOptions& options);

  /// Registers, under torch.nn.BatchNorm's names, parameters "weight" (gamma, ones [C]) and
  /// "bias" (beta, zeros [C]) and buffers "running_mean" (zeros [C]), "running_var" (ones [C])
  /// and "num_batches_tracked" (0, int64 []). Checkpoints written before 2026-12 name the
  /// parameters "gamma" and "beta" and lack the counter: record/legacy_tensor_names.h maps them.
  void reset() override;

  /// y of the same shape as x: x is [N, C] (or [N, C, H, W] when options.spatial()).
  /// Batch statistics need at least two values per channel (N * H * W >= 2).
  torch::Tensor forward(const torch::Tensor& x);

  /// Prints e.g. "bnl::models::BatchNorm(64, eps=1e-05, momentum=0.1, spatial=false,
  /// backward=exact, eval_stats=running)".
  void pretty_print(std::ostream& stream) const override;

  /// When false, training-mode forwards leave running_mean/running_var untouched (probes use
  /// this so a measurement never changes the training run).
  void set_update_running_stats(bool on);

  /// Whether training-mode forwards update running_mean/running_var (true after construction).
  bool update_running_stats() const;

  /// The options of this layer; public and mutable (probes switch backward() temporarily).
  /// num_features takes effect only through reset().
  BatchNormOptions options;

  /// Scale gamma per channel, [C]; parameter "weight" (torch's name).
  torch::Tensor gamma;
  /// Shift beta per channel, [C]; parameter "bias" (torch's name).
  torch::Tensor beta;
  /// Running mean per channel, [C]; buffer "running_mean".
  torch::Tensor running_mean;
  /// Running unbiased variance per channel, [C]; buffer "running_var".
  torch::Tensor running_var;
  /// Running-statistics updates so far (int64 []); buffer "num_batches_tracked", +1 per
  /// training-mode forward that updates the running statistics, as torch counts. Informative
  /// only: the update factor stays `momentum` (torch's momentum=None average is not offered).
  torch::Tensor num_batches_tracked;

 private:
  bool update_running_stats_ = true;
};

/// Module holder of BatchNormImpl (std::shared_ptr semantics).
TORCH_MODULE(BatchNorm);

/// Training-mode batch normalisation y = gamma * (x - mu) / sqrt(var + eps) + beta with batch
/// mean and biased variance,
/// as a custom autograd Function whose backward is the hand-derived formula in differentiable
/// tensor ops (so double backward works).
/// x: [N, C] or [N, C, d1, ...] with statistics over every dimension but 1 (at least two values
/// per channel); gamma, beta: [C] of x's dtype. Returns y with x's shape. `backward` selects
/// the exact or the original study's dx formula (see BnBackward).
torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& gamma,
                               const torch::Tensor& beta, double eps, BnBackward backward);

/// Training-mode batch normalisation of x [N, C] (row-major, contiguous; T float or double) by
/// loops, the kernel of batch_norm_train for such inputs when no graph is recorded: the batch
/// mean and biased variance per channel into mean, var [C] (two passes, sums in double), and
/// y = (x - mean) * gamma / sqrt(var + eps) + beta into y [N, C] (not aliasing x). n >= 1.
template <typename T>
void batch_norm_rows_forward(const T* x, int64_t n, int64_t c, const T* gamma, const T* beta, double eps,
                             double* mean, double* var, T* y);

/// The exact gradient of batch_norm_rows_forward for upstream dy [N, C], given forward's mean
/// and var: dbeta = sum_i dy, dgamma = sum_i dy (x - mean) / sd, and (when dx is not null; dx
/// may be dy itself) dx = gamma / sd * (dy - dbeta / n - (x - mean) sum_i dy (x - mean) / (n sd^2)),
/// sd = sqrt(var + eps); sums in double.
template <typename T>
void batch_norm_rows_backward(const T* x, const T* dy, int64_t n, int64_t c, const T* gamma, const double* mean,
                              const double* var, double eps, T* dx, T* dgamma, T* dbeta);

}  // namespace bnl::models
