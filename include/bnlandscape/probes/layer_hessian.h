#pragma once
/// \file
/// Per-layer curvature: the diagonal blocks of the loss Hessian, one per module that owns
/// parameters (a Linear or Conv layer with its bias; a normalisation layer's gamma and beta as
/// their own block), and their top eigenvalues by Lanczos on the block-restricted product
/// (PyHessian's most requested feature; Yao et al. 2020, section 4.2, layer-wise spectra).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <torch/nn/module.h>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/param_block.h"
#include "bnlandscape/probes/spectrum.h"

namespace bnl::probes {

/// A_bb, the diagonal block of a curvature operator A (H: HessianOperator; G: GgnOperator) for
/// one ParamBlock, as a Spectra operator of size block.size: y = (A x~)_b where x~ is x on the
/// block and 0 elsewhere. Each product is one full product of A (one all-reduce for a sharded
/// operator). Instantiated for HessianOperator and GgnOperator (layer_hessian.cpp).
template <class Op>
class BlockOperator {
 public:
  /// Spectra reads the scalar type from the operator.
  using Scalar = double;

  /// Refers to `op`, which must outlive this object. Throws if a range lies outside [0, P).
  BlockOperator(const Op& op, ParamBlock block);

  /// The block size.
  Eigen::Index rows() const { return block_.size; }
  /// The block size.
  Eigen::Index cols() const { return block_.size; }
  /// y_out = A_bb x_in (block-sized arrays). Counts as one product of the underlying operator.
  void perform_op(const Scalar* x_in, Scalar* y_out) const;
  /// Whether the underlying operator's numbers are finite.
  bool finite() const { return op_.finite(); }
  /// The underlying operator's product count.
  std::int64_t hvp_count() const { return op_.hvp_count(); }
  /// The underlying operator's dtype and device (its products' precision).
  torch::TensorOptions options() const { return op_.options(); }
  /// The block.
  const ParamBlock& block() const { return block_; }

 private:
  const Op& op_;
  ParamBlock block_;
};

/// H_bb, the diagonal block of the Hessian (the name the per-layer Hessian code always had).
using BlockHessianOperator = BlockOperator<HessianOperator>;

/// The k largest algebraic eigenvalues of a diagonal block, as lanczos_eigs() does for H
/// (Spectra's SymEigsSolver, same options, same non-finite handling; warm_start, when given,
/// is block-sized). Requires 1 <= k < block size.
EigenResult lanczos_eigs(const BlockHessianOperator& op, const LanczosOptions& opt);
/// lanczos_eigs() on a diagonal block G_bb of the Gauss-Newton matrix.
EigenResult lanczos_eigs(const BlockOperator<GgnOperator>& op, const LanczosOptions& opt);

/// Outcome of layer_top_eigs().
struct LayerEigenResult {
  /// [L][k]: the top-k eigenvalues of each block's H_bb, descending; NaN where not converged.
  std::vector<std::vector<double>> eigenvalues;
  /// Hessian-vector products of all blocks together.
  std::int64_t hvp_count = 0;
  /// True when every eigenvalue of every block converged.
  bool converged = true;
};

/// Top opt.k eigenvalues of every block (opt.warm_start must be empty; opt.ncv = 0 picks
/// default_ncv(k, block size) per block). Throws if k >= some block's size.
LayerEigenResult layer_top_eigs(const HessianOperator& op, const std::vector<ParamBlock>& blocks,
                                const LanczosOptions& opt);
/// layer_top_eigs() on the diagonal blocks G_bb of the Gauss-Newton matrix.
LayerEigenResult layer_top_eigs(const GgnOperator& op, const std::vector<ParamBlock>& blocks,
                                const LanczosOptions& opt);

}  // namespace bnl::probes
