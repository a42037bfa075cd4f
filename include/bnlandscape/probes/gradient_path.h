#pragma once
/// \file
/// Loss-landscape smoothness along the gradient direction, Santurkar et al.
/// 2018, "How Does Batch Normalization Help Optimization?", section 3.1 and
/// Figure 4: loss variation, gradient predictiveness and "effective"
/// beta-smoothness measured at points w - s g for a range of step sizes s.

#include <cmath>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/shard.h"

namespace bnl::probes {

class MlpCurvature;

/// Measurements along the gradient at w, g = grad L(w). Non-finite values
/// are recorded as NaN.
struct GradientPathResult {
  /// L(w).
  double loss = NAN;
  /// ||g||_2.
  double grad_norm = NAN;
  /// The step sizes s_j, as given.
  std::vector<double> step_sizes;
  /// L(w - s_j g) (Figure 4a, loss landscape).
  std::vector<double> loss_path;
  /// ||grad L(w) - grad L(w - s_j g)||_2 (Figure 4b, gradient predictiveness).
  std::vector<double> grad_pred;
  /// max_j ||grad L(w) - grad L(w - s_j g)|| / ||s_j g|| (Figure 4c,
  /// "effective" beta-smoothness); NaN if any term is NaN or g = 0.
  double beta_smoothness = NAN;
  /// g^T H g / ||g||^2, the curvature along the step direction (needs a
  /// HessianOperator built at w); NaN when none was given.
  double grad_curvature = NAN;
};

/// Evaluates the quantities above at the current weights w of `params` for
/// each step size (> 0, finite, at least one). The weights are moved to
/// w - s g in place (as assign_flat() does) and restored bit for bit
/// afterwards, also when the closure throws. `op`, when given, must have been
/// built at w with these parameters and the same loss (and `average`); its L(w) and g are
/// the path's base (no second evaluation at w), it supplies g^T H g and stays valid.
/// Throws on bad step sizes, an operator over other parameters, or one built at other weights.
/// With `average` set (the probe set split across ranks, `loss` this rank's share), each loss
/// and gradient is averaged over the ranks in one all-reduce, so every rank returns the
/// single-process result. With `curvature` set
/// (the same loss written out by hand), losses and gradients come from it, not from `loss`.
GradientPathResult gradient_path(const std::vector<torch::Tensor>& params, const LossFn& loss,
                                 const std::vector<double>& step_sizes, const HessianOperator* op,
                                 const TensorAverage& average = {},
                                 const MlpCurvature* curvature = nullptr);

/// `count` step sizes log-spaced over [lo * lr, hi * lr] (both ends
/// included; one step gives lo * lr). Santurkar et al. probe around the
/// training learning rate; the default spans 0.5x to 4x it.
std::vector<double> default_step_sizes(double lr, int count = 10, double lo = 0.5, double hi = 4.0);

}  // namespace bnl::probes
