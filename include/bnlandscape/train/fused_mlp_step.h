#pragma once
/// \file
/// The training step of an MLP without normalisation (the original study's MLP with --bn
/// none), written as direct BLAS products and host loops over buffers allocated once. Autograd
/// spends about 1 ms per Fashion-MNIST step outside the matrix products (graph nodes, dispatch,
/// a fresh tensor for every intermediate, separate passes for bias, ReLU and their gradients);
/// here the products are the same cblas_sgemm calls torch makes and everything else is a
/// handful of fused passes (bench/RESULTS.md). Every other model, dtype or configuration
/// trains through autograd (--step-engine).

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/models/classifier.h"

namespace bnl::train {

/// Forward, mean cross-entropy and backward of a model whose forward is flatten ->
/// [Linear -> ReLU]* -> Linear (models::MLP without normalisation), float32 on the CPU:
///   Z_l = A_{l-1} W_l^T + b_l,  A_l = max(Z_l, 0),  L = mean_i (logsumexp(Z_i) - Z_{i,y_i}),
///   G_L = (softmax(Z_L) - onehot(y)) / B,  dW_l = G_l^T A_{l-1},  db_l = sum_i G_l[i],
///   G_{l-1} = (G_l W_l) * [A_{l-1} > 0].
/// This is what cross_entropy(model->forward(x), y).backward() gives after the gradients were
/// dropped, up to float rounding (tests/train/fused_mlp_step_test.cpp compares the two), with
/// autograd's conventions for non-finite values: ReLU keeps a NaN and passes its gradient, a
/// NaN or infinite logit makes the loss non-finite.
class FusedMlpStep {
 public:
  /// Empty when `model` can take this step; otherwise why not (e.g. "net.1 is BatchNorm").
  /// Requires an MLP whose `net` holds only Linear (with bias) and ReLU modules, alternating and
  /// ending in a Linear; float32 contiguous CPU parameters that require grad; and cblas_sgemm
  /// in the loaded BLAS.
  static std::string unsupported_reason(models::Classifier& model);

  /// Binds to `model`'s parameters (shared storage: updates made to them are seen by the next
  /// step). Throws std::invalid_argument with unsupported_reason when the model is not supported.
  explicit FusedMlpStep(models::Classifier& model);

  /// One step on images x [B, ...] (float32, flattened to [B, in]) with labels y [B] (int64,
  /// in [0, K)). Returns the batch's mean cross-entropy; afterwards logits() holds [B, K] and
  /// every parameter's .grad() holds dL/dp, overwritten in place (the gradient buffers persist
  /// from step to step; one of the wrong shape, dtype or layout, or undefined, is replaced).
  /// Throws c10::Error on inputs of the wrong shape, dtype or label range.
  double forward_backward(const torch::Tensor& x, const torch::Tensor& y);

  /// Logits [B, K] of the last forward_backward: a view of an internal buffer, valid until the
  /// next call.
  torch::Tensor logits() const;

 private:
  struct Layer {
    torch::Tensor weight;  ///< [out, in]
    torch::Tensor bias;    ///< [out]
    std::int64_t in = 0, out = 0;
  };
  void reserve(std::int64_t batch);
  float* grad_buffer(torch::Tensor& param);

  std::vector<Layer> layers_;
  std::vector<torch::Tensor> act_;   ///< per layer [capacity, out]: ReLU(Z_l), logits for the last
  std::vector<torch::Tensor> dact_;  ///< per layer [capacity, out]: G_l = dL/dZ_l
  std::int64_t capacity_ = 0;
  std::int64_t batch_ = 0;
};

}  // namespace bnl::train
