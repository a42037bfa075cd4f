#pragma once
/// \file
/// The training step of the original study's MLP, without normalisation or with our BatchNorm
/// (--bn none | custom), written as direct BLAS products and host loops over buffers allocated
/// once. Autograd spends about 1 ms per Fashion-MNIST step outside the matrix products (graph
/// nodes, dispatch, a fresh tensor for every intermediate, separate passes for bias, ReLU and
/// their gradients); here the products are the same cblas_sgemm calls torch makes and the rest
/// is a handful of fused passes (bench/RESULTS.md). Every other model, dtype or configuration
/// trains through autograd (--step-engine).

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace bnl::models {
class BatchNormImpl;
class Classifier;
}  // namespace bnl::models

namespace bnl::train {

/// Forward, mean cross-entropy and backward of a model whose forward is flatten ->
/// [Linear -> BatchNorm? -> ReLU]* -> Linear (models::MLP with --bn none or custom), float32 on
/// the CPU, in training mode:
///   Z_l = A_{l-1} W_l^T + b_l,  Y_l = BN_l(Z_l) (or Z_l),  A_l = max(Y_l, 0),
///   L = mean_i (logsumexp(Z_L,i) - Z_L,i,y_i),  G_L = (softmax(Z_L) - onehot(y)) / B,
///   dW_l = G_l^T A_{l-1},  db_l = sum_i G_l,i,  G_{l-1} = BN'_{l-1}((G_l W_l) * [A_{l-1} > 0]),
/// where BN is batch_norm_rows_forward (batch mean, biased variance) and BN' its exact backward
/// (batch_norm_rows_backward, which also gives dgamma and dbeta); each BatchNorm's running
/// statistics move as its own training forward would move them. This is what
/// cross_entropy(model->forward(x), y).backward() gives after the gradients were dropped, up to
/// float rounding (tests/train/fused_mlp_step_test.cpp compares the two), with autograd's
/// conventions for non-finite values: ReLU keeps a NaN and passes its gradient, a NaN or
/// infinite logit makes the loss non-finite.
class FusedMlpStep {
 public:
  /// Empty when `model` can take this step; otherwise why not (e.g. "net.1 is ...LpNorm...").
  /// Requires an MLP whose `net` holds Linear (with bias), optionally our BatchNorm over [N, C]
  /// with the exact backward, then ReLU, repeated, ending in a Linear; no BN noise; float32
  /// contiguous CPU parameters that require grad; and cblas_sgemm in the loaded BLAS.
  static std::string unsupported_reason(models::Classifier& model);

  /// Binds to `model`'s parameters and buffers (shared storage: updates made to them are seen
  /// by the next step); `model` must outlive this object. Throws std::invalid_argument with unsupported_reason when the model is
  /// not supported.
  explicit FusedMlpStep(models::Classifier& model);

  /// One training step on images x [B, ...] (float32, flattened to [B, in]) with labels y [B]
  /// (int64, in [0, K)); B >= 2 when the model has BatchNorm layers, which must be in training
  /// mode. Returns the batch's mean cross-entropy; afterwards logits() holds [B, K] and every
  /// parameter's .grad() holds dL/dp, overwritten in place (the gradient buffers persist from
  /// step to step; one of the wrong shape, dtype or layout, or undefined, is replaced).
  /// Throws c10::Error on inputs of the wrong shape, dtype or label range, or when BN noise was
  /// turned on after construction.
  double forward_backward(const torch::Tensor& x, const torch::Tensor& y);

  /// Logits [B, K] of the last forward_backward: a view of an internal buffer, valid until the
  /// next call.
  torch::Tensor logits() const;

 private:
  struct Layer {
    torch::Tensor weight;  ///< [out, in]
    torch::Tensor bias;    ///< [out]
    models::BatchNormImpl* bn = nullptr;  ///< the BatchNorm after this Linear, owned by the model
    std::int64_t in = 0, out = 0;
  };
  void reserve(std::int64_t batch);
  float* grad_buffer(torch::Tensor& param);

  models::Classifier* model_ = nullptr;  ///< not owned
  std::vector<Layer> layers_;
  std::vector<torch::Tensor> pre_;   ///< per BN layer [capacity, out]: Z_l, BN's input
  std::vector<torch::Tensor> act_;   ///< per layer [capacity, out]: A_l; logits for the last
  std::vector<torch::Tensor> dact_;  ///< per layer [capacity, out]: G_l = dL/dZ_l
  std::vector<std::vector<double>> mean_, var_;  ///< per BN layer: batch statistics [out]
  std::int64_t capacity_ = 0;
  std::int64_t batch_ = 0;
};

}  // namespace bnl::train
