#pragma once
// The intermediates MlpCurvature keeps at one point w (MlpCurvature::Point): shared by the
// Hessian products (mlp_curvature.cpp) and the Gauss-Newton products (mlp_ggn_product.cpp).
// Internal to src/probes.
#include <vector>

#include <torch/types.h>

#include "bnlandscape/models/batch_norm.h"

namespace bnl::probes {

struct MlpCurvaturePoint {
  /// One entry per layer of one micro-batch.
  struct Layer {
    torch::Tensor input;  ///< A_{l-1} [m, in] (the micro-batch itself for the first layer)
    torch::Tensor u;      ///< BN: normalised U [m, out]
    torch::Tensor s;      ///< BN: 1 / sqrt(var + eps) [out]
    torch::Tensor gy;     ///< dL/dY [m, out] (Y = Z without BN)
    torch::Tensor gu;     ///< BN: dL/dU = gamma dL/dY
    torch::Tensor gz;     ///< dL/dZ [m, out]
    torch::Tensor c;      ///< BN with batch statistics: mean(dU * U) [out]
  };
  std::vector<std::vector<Layer>> chunks;  ///< [micro-batch][layer]
  std::vector<torch::Tensor> probs;        ///< softmax of the logits [m, K] per micro-batch
};

namespace detail {

/// Whether `bn` normalises with the micro-batch's statistics (training mode, or eval mode with
/// BnEvalStats::Batch) rather than its running ones.
inline bool batch_statistics(const models::BatchNormImpl& bn) {
  return bn.is_training() || bn.options.eval_stats() == models::BnEvalStats::Batch;
}

/// Column means of an [m, c] matrix as [c] (row reductions are BN's statistics).
inline torch::Tensor col_mean(const torch::Tensor& t) { return t.mean(0); }

/// The data pointer of a contiguous tensor of element type T.
template <typename T>
T* ptr(const torch::Tensor& t) {
  return t.data_ptr<T>();
}

/// (diag(p_i) - p_i p_i^T) r_i / m per row i of p, r [m, K]: the mean cross entropy's Hessian in
/// the logits applied to r, i.e. R{(softmax - onehot) / m} along R z = r.
inline torch::Tensor output_hessian_product(const torch::Tensor& p, const torch::Tensor& r) {
  const auto pr = p * r;
  return (pr - p * pr.sum(1, /*keepdim=*/true)) / static_cast<double>(p.size(0));
}

}  // namespace detail

}  // namespace bnl::probes
