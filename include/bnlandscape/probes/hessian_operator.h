#pragma once
/// \file
/// The loss Hessian as a matrix-free operator, in the style of Spectra's
/// DenseSymMatProd: anything with `Scalar`, rows(), cols() and
/// perform_op(x, y) computing y = H x, no base class.

#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Core>
#include <torch/types.h>

#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/shard.h"

namespace bnl::probes {

class MlpCurvature;
struct MlpCurvaturePoint;

/// H = d^2 L / dw^2 of `loss` at the current parameters w (flattened as in
/// flatten(), P = total numel), applied by double backward (Pearlmutter
/// 1994): H v = d/dw (g(w) . v) with g = dL/dw built once with
/// create_graph=true and reused for every product (retain_graph=true), so a
/// product costs one backward pass through the gradient graph and no
/// forward pass.
///
/// The operator holds the graph (and so the activations of the batch) for
/// its lifetime. It is valid only while the parameters hold the values it was
/// built at: every product first checks them bit for bit against a private
/// copy and throws if they changed (restore() after probing makes it valid
/// again). Non-finite loss, gradient or products are not errors: they give
/// NaN/Inf numbers, which the probes record as NaN. Not thread-safe
/// (products count into a mutable counter and share one graph).
class HessianOperator {
 public:
  /// Spectra reads the scalar type from the operator.
  using Scalar = double;

  /// Evaluates `loss()` at the current `params` (each must be defined,
  /// require grad, and share one floating dtype and device) and builds the
  /// differentiable gradient. Grad mode is switched on inside, so a caller's
  /// NoGradGuard does not break it. Throws (TORCH_CHECK) on bad input or a
  /// non-scalar loss. With `average` set (a probe set split across ranks, `loss` this rank's
  /// share), L and g are averaged over the ranks in one all-reduce here, and every product
  /// in one all-reduce each, so all ranks hold the same operator. With `curvature` set (the
  /// same loss written out by hand, MlpCurvature), L, g and every product come from it instead
  /// of autograd: no graph is kept, and `loss` is not called.
  HessianOperator(std::vector<torch::Tensor> params, LossFn loss, TensorAverage average = {},
                  std::shared_ptr<const MlpCurvature> curvature = nullptr);

  /// P, the number of rows of H.
  Eigen::Index rows() const { return n_; }
  /// P, the number of columns of H.
  Eigen::Index cols() const { return n_; }

  /// y_out[0..P) = H x_in[0..P), in double precision at the interface and
  /// the parameters' dtype inside. Counts as one HVP.
  void perform_op(const Scalar* x_in, Scalar* y_out) const;

  /// H v for v of shape [P] (any floating dtype); returns [P] in the
  /// parameters' dtype and device, detached. Counts as one HVP.
  torch::Tensor hvp(const torch::Tensor& v) const;

  /// g = dL/dw at the weights the operator was built at: [P], detached, in
  /// the parameters' dtype.
  const torch::Tensor& gradient() const { return gradient_; }

  /// L(w) at the weights the operator was built at.
  double loss() const { return loss_; }

  /// True when L(w) and every entry of g are finite; the probes return NaN
  /// results without any product otherwise.
  bool finite() const { return finite_; }

  /// Number of Hessian-vector products computed so far (hvp and perform_op).
  std::int64_t hvp_count() const { return hvp_count_; }

  /// The parameters the operator differentiates with respect to.
  const std::vector<torch::Tensor>& params() const { return params_; }

  /// Options (dtype, device) of the parameters and of hvp()'s result.
  torch::TensorOptions options() const { return options_; }

 private:
  void check_weights_unchanged() const;

  std::vector<torch::Tensor> params_;
  TensorAverage average_;
  std::shared_ptr<const MlpCurvature> curvature_;         // hand-written products, or null
  std::shared_ptr<const MlpCurvaturePoint> point_;         // its intermediates at the weights
  std::vector<torch::Tensor> grads_;    // with graph; entries that do not require grad have H rows = 0
  std::vector<torch::Tensor> weights_;  // private copy of the weights the graph was built at
  torch::Tensor gradient_;
  torch::TensorOptions options_;
  double loss_ = 0.0;
  bool finite_ = true;
  bool has_curvature_ = false;  // false when g does not depend on w at all (H = 0)
  Eigen::Index n_ = 0;
  mutable std::int64_t hvp_count_ = 0;
};

}  // namespace bnl::probes
