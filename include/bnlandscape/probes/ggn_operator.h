#pragma once
/// \file
/// The generalised Gauss-Newton matrix of the softmax cross-entropy loss as a matrix-free
/// operator, in the style of HessianOperator (Spectra's interface: `Scalar`, rows(), cols(),
/// perform_op(x, y)), and the same matrix as the exact Hessian of a surrogate loss, so that
/// every instrument built on HessianOperator runs on it unchanged.
///
/// For L(w) = (1/M) sum_m L_m(w), L_m the mean cross entropy of micro-batch m (N_m examples,
/// logits z_m(w) [N_m, K], as LandscapeProbe::loss_fn averages them), the Hessian splits as
/// (Schraudolph 2002; Martens 2020, section 8; Papyan 2019, 2020)
///     H = G + R,   G = (1/M) sum_m J_m^T H_m J_m,
///     R = (1/M) sum_m sum_{i,k} (dL_m/dz_m,ik) d^2 z_m,ik / dw^2,
/// with J_m = dz_m/dw [N_m K, P] the Jacobian of the whole micro-batch's logits (with BN in
/// training mode the examples of a micro-batch are coupled through the batch statistics; J_m
/// as a whole covers that) and H_m block-diagonal over examples,
///     H_m = blockdiag_i (diag(p_i) - p_i p_i^T) / N_m,   p_i = softmax(z_m,i).
/// H_m does not involve the labels; for this loss G equals the Fisher information of the
/// model's predictive distribution (Martens 2020, section 9.2). G is symmetric positive
/// semi-definite.

#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Core>
#include <torch/types.h>

#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/shard.h"

namespace bnl::probes {

/// Computes the logits [N_m, K] of one micro-batch at the CURRENT values of the parameters,
/// differentiable with respect to them (the LossFn contract of loss_fn.h, without the loss:
/// a fixed batch, parameters read afresh on every call).
using LogitsFn = std::function<torch::Tensor()>;

/// G = (1/M) sum_m J_m^T H_m J_m (file comment) at the current parameters w (flattened as in
/// flatten(), P = total numel), applied without forming J, by two passes per micro-batch:
///   1. u = J_m v by the double-backward trick (the R-operator through reverse mode): with a
///      dummy a [N_m, K] requiring grad, b(a) = J_m^T a = grad(z_m, w, grad_outputs = a) is
///      built once with create_graph=true; it is linear in a, so J_m v = d(b(a) . v)/da.
///   2. G_m v = J_m^T (H_m u), one vector-Jacobian product (backward of z_m with grad_outputs
///      H_m u), where (H_m u)_i = (p_i * u_i - p_i (p_i . u_i)) / N_m.
/// The graphs of every micro-batch are kept for the operator's lifetime (like HessianOperator's
/// gradient graph), and, like it, every product first checks the parameters bit for bit
/// against the values it was built at. Non-finite logits are not errors: finite() is false and
/// products are NaN. Not thread-safe.
class GgnOperator {
 public:
  /// Spectra reads the scalar type from the operator.
  using Scalar = double;

  /// Evaluates every micro-batch's logits at the current `params` (each defined, requiring
  /// grad, one floating dtype and device; HessianOperator's conditions) and builds the graphs.
  /// `microbatches` holds one closure per micro-batch (at least one); each must return a 2-D
  /// tensor [N_m, K] with N_m >= 1 in the parameters' dtype. With `average` set (a probe set
  /// split across ranks, `microbatches` this rank's share), every product is averaged over the
  /// ranks in one all-reduce, as HessianOperator does. Throws (TORCH_CHECK, "expected X, got
  /// Y") on bad input. Grad mode is switched on inside.
  GgnOperator(std::vector<torch::Tensor> params, std::vector<LogitsFn> microbatches, TensorAverage average = {});

  /// One batch: GgnOperator(params, {logits}, average).
  GgnOperator(std::vector<torch::Tensor> params, LogitsFn logits, TensorAverage average = {});

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
  /// product_count() under HessianOperator's name, so that operator-generic code (the spectral
  /// instruments' templates) can count G products as it counts H products.
  std::int64_t hvp_count() const { return count_; }

  /// True when every logit of every micro-batch is finite at the weights the operator was
  /// built at; the instruments report NaN without any product otherwise.
  bool finite() const { return finite_; }

  /// The parameters the operator differentiates with respect to.
  const std::vector<torch::Tensor>& params() const { return params_; }

  /// Options (dtype, device) of the parameters and of gvp()'s result.
  torch::TensorOptions options() const { return options_; }

 private:
  struct Batch {
    torch::Tensor logits;               // z_m [N_m, K], with graph
    torch::Tensor probs;                // softmax(z_m) [N_m, K], detached
    torch::Tensor dummy;                // a [N_m, K], requires grad
    std::vector<torch::Tensor> jt_dummy;  // J_m^T a per parameter, with graph (undefined: no dependence)
    bool depends = false;               // z_m depends on some parameter
  };
  void check_weights_unchanged() const;

  std::vector<torch::Tensor> params_;
  TensorAverage average_;
  std::vector<Batch> batches_;
  std::vector<torch::Tensor> weights_;  // private copy of the weights the graphs were built at
  torch::TensorOptions options_;
  bool finite_ = true;
  Eigen::Index n_ = 0;
  mutable std::int64_t count_ = 0;
};

/// A loss whose Hessian at the current parameters IS G (file comment): for each micro-batch,
///     Lt_m(w) = (1/(2 N_m)) sum_i [ sum_k p_ik d_ik^2 - (sum_k p_ik d_ik)^2 ],
///     d = z_m(w) - stop_gradient(z_m(w)),  p_i = stop_gradient(softmax(z_m,i)),
/// and Lt = (1/M) sum_m Lt_m, i.e. (1/2) d^T H_m d around the point itself. Since d = 0 and
/// dLt/dz = H_m d = 0 there, the residual term R of Lt vanishes exactly and
/// d^2 Lt / dw^2 = G (the same construction as the Gauss-Newton loss of Schraudolph 2002,
/// section 3). HessianOperator(params, ggn_surrogate_loss(microbatches)) therefore applies G
/// by one double-backward pass per product (the residual's terms are multiplied by an exact
/// zero), and every instrument taking a HessianOperator (Lanczos, Hutchinson trace, SLQ
/// density, per-layer blocks, ranks through `average`) runs on G unchanged. That operator's
/// loss() and gradient() are those of Lt, i.e. 0 (NaN when a logit is not finite), not of the
/// cross entropy. Throws (TORCH_CHECK) when `microbatches` is empty or holds an empty closure;
/// the returned closure throws when a closure returns anything but a 2-D tensor [N_m >= 1, K].
LossFn ggn_surrogate_loss(std::vector<LogitsFn> microbatches);

}  // namespace bnl::probes
