#pragma once
/// \file
/// One product A v with tensors in and out, for the curvature operators the instruments are
/// instantiated on (the Hessian's hvp(), the Gauss-Newton matrix's gvp()), so that the
/// operator-generic code (density, per-layer blocks) names a single function.

#include <torch/types.h>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"

namespace bnl::probes::detail {

/// H v: [P] in the parameters' dtype and device, detached; one counted product.
inline torch::Tensor apply(const HessianOperator& op, const torch::Tensor& v) { return op.hvp(v); }
/// G v: [P] in the parameters' dtype and device, detached; one counted product.
inline torch::Tensor apply(const GgnOperator& op, const torch::Tensor& v) { return op.gvp(v); }

}  // namespace bnl::probes::detail
