#pragma once
/// \file
/// The generalised Gauss-Newton matrix G = (1/M) sum_m J_m^T H_m J_m of the study's MLP
/// (probes/ggn_operator.h for the definition) as a matrix-free operator whose products come
/// from the hand-written forward, R-forward and backward passes of MlpCurvature::gvp instead
/// of autograd: the operator GgnOperator is on other models. Same interface as GgnOperator
/// (Spectra's `Scalar`, rows(), cols(), perform_op(x, y), plus gvp(), finite(), hvp_count(),
/// params(), options()), so that operator-generic code (ScaledOperator, the spectral
/// instruments' templates) takes either. tests/probes/mlp_ggn_operator_test.cpp compares it
/// with GgnOperator and with J^T H_out J from the exact Jacobian in float64.

#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Core>
#include <torch/types.h>

#include "bnlandscape/probes/shard.h"

namespace bnl::probes {

class MlpCurvature;
struct MlpCurvaturePoint;

/// G at the current parameters w (flattened as in flatten(), P = total numel), applied by
/// MlpCurvature::gvp at the point evaluated once at construction. Like HessianOperator with
/// an MlpCurvature, it keeps no graph, only the forward pass's activations; it is valid while
/// the parameters hold the values it was built at (every product checks them bit for bit and
/// throws if they changed). Non-finite numbers are not errors: finite() is false and products
/// may be NaN. Not thread-safe.
class MlpGgnOperator {
 public:
  /// Spectra reads the scalar type from the operator.
  using Scalar = double;

  /// Evaluates `curvature` (bound to the model whose parameters `params` are, in
  /// MlpCurvature's order, on the probe batch and its micro-batches) at the current weights.
  /// `params` must be the tensors `curvature` was built with (each defined, requiring grad, one
  /// floating dtype and device). With `average` set (a probe set split across ranks, the
  /// curvature on this rank's share), loss and gradient are averaged over the ranks at
  /// construction and every product in one all-reduce, as HessianOperator and GgnOperator do.
  /// Throws (TORCH_CHECK) on bad input.
  MlpGgnOperator(std::vector<torch::Tensor> params, std::shared_ptr<const MlpCurvature> curvature,
                 TensorAverage average = {});
  ~MlpGgnOperator();

  /// P, the number of rows of G.
  Eigen::Index rows() const { return n_; }
  /// P, the number of columns of G.
  Eigen::Index cols() const { return n_; }

  /// y_out[0..P) = G x_in[0..P), double at the interface, the parameters' dtype inside.
  /// Counts as one product.
  void perform_op(const Scalar* x_in, Scalar* y_out) const;

  /// G v for v [P] (any floating dtype): [P] in the parameters' dtype and device, detached.
  /// Counts as one product.
  torch::Tensor gvp(const torch::Tensor& v) const;

  /// Number of G products computed so far (gvp and perform_op).
  std::int64_t product_count() const { return count_; }
  /// product_count() under HessianOperator's name, for operator-generic code.
  std::int64_t hvp_count() const { return count_; }

  /// True when the loss and every entry of its gradient are finite at the weights the
  /// operator was built at (hence every logit is finite); the instruments report NaN without
  /// any product otherwise.
  bool finite() const { return finite_; }

  /// The mean cross entropy L(w) at the weights the operator was built at (not a surrogate:
  /// the loss G belongs to).
  double loss() const { return loss_; }
  /// g = dL/dw [P] of that loss, detached, in the parameters' dtype.
  const torch::Tensor& gradient() const { return gradient_; }

  /// The parameters the operator differentiates with respect to.
  const std::vector<torch::Tensor>& params() const { return params_; }

  /// Options (dtype, device) of the parameters and of gvp()'s result.
  torch::TensorOptions options() const { return options_; }

 private:
  std::vector<torch::Tensor> params_;
  TensorAverage average_;
  std::shared_ptr<const MlpCurvature> curvature_;
  std::shared_ptr<const MlpCurvaturePoint> point_;  // the forward pass's intermediates at w
  std::vector<torch::Tensor> weights_;              // private copy of the weights at construction
  torch::Tensor gradient_;
  torch::TensorOptions options_;
  double loss_ = 0.0;
  bool finite_ = true;
  Eigen::Index n_ = 0;
  mutable std::int64_t count_ = 0;
};

}  // namespace bnl::probes
