#pragma once
/// \file
/// Every spectral instrument of one probe on one curvature operator A, the loss Hessian H
/// (HessianOperator) or the Gauss-Newton matrix G (GgnOperator): top-k and bottom-k by
/// Lanczos (spectrum.h), the Hutchinson trace (trace.h), the SLQ density (density.h), the top-k
/// of each diagonal block (layer_hessian.h), the gradient's share in the top-k Ritz vectors
/// (topk_share.h; Ghorbani, Krishnan and Xiao 2019, section 4) and the top-k of D A D for the
/// scalings of scaled_operator.h (Lyu, Li and Arora 2022; Kwon et al. 2021). One code path for
/// both operators, so that the GGN's numbers are measured exactly as the Hessian's.

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/param_block.h"
#include "bnlandscape/probes/probe_record.h"

namespace bnl::probes {

/// What to measure on the operator, and from which seeds.
struct SpectralPlan {
  int top_k = 0;           ///< largest eigenvalues (0 = off)
  int bottom_k = 0;        ///< smallest eigenvalues (0 = off)
  int ncv = 0;             ///< Lanczos subspace of the top-k and bottom-k solves
  double tol = 1e-3;       ///< Lanczos relative tolerance (every solve)
  int trace_samples = 0;   ///< Hutchinson samples (0 = off)
  int density_runs = 0;    ///< SLQ runs K (0 = off)
  int density_steps = 0;   ///< SLQ steps M
  int layer_top_k = 0;     ///< top-k of each block (0 = off)
  std::vector<ParamBlock> blocks;  ///< the diagonal blocks of layer_top_k
  /// The probe's seed: top-k seed, bottom-k seed + 1, trace seed + 2, per-layer seed + 4,
  /// density seed ^ density_salt, `layer` scaling seed + 5, `adaptive` scaling seed + 6.
  std::uint64_t seed = 0;
  std::uint64_t density_salt = 0;
  /// Start vector [P] of the top-k solve (the previous probe's top eigenvector); empty = cold.
  Eigen::VectorXd warm_start;
  /// The loss gradient g [P] whose share in the top-k Ritz vectors is measured; empty = not
  /// measured (no Ritz vectors asked of the solver).
  Eigen::VectorXd gradient;
  /// d [P] of D A D for the `layer` scaling; empty = off. `layer_is_identity`: d is all ones
  /// (no scale-invariant block): the scaled eigenvalues are the raw ones, copied, no product.
  Eigen::VectorXd layer_scaling;
  bool layer_is_identity = false;
  /// d [P] of D A D for the `adaptive` scaling (|w|); empty = off.
  Eigen::VectorXd adaptive_scaling;
};

/// What measure_spectrum() gives: the record and the top-k solve's top eigenvector (the next
/// probe's warm start; empty when the top eigenvalue did not converge or top_k = 0).
struct SpectralOutcome {
  SpectralRecord record;
  Eigen::VectorXd top_eigenvector;
};

/// Runs every instrument `plan` asks for on H, in a fixed order (top-k, bottom-k, trace,
/// density, per-layer, scaled), each from its seed. SpectralRecord::hvp_count counts the
/// top-k and bottom-k solves' products; the others count their own. grad_topk_share[j] is
/// ||P_j g||^2 / ||g||^2 over the first j Ritz vectors; a converged Ritz pair has residual
/// < tol |theta|, so each share is off by at most 2 sqrt(2) sum_j tol |theta_j| / gap_j
/// (topk_share.h; NaN shares where a Ritz vector did not converge).
SpectralOutcome measure_spectrum(const HessianOperator& op, const SpectralPlan& plan);
/// measure_spectrum() on G (the same instruments, seeds and order).
SpectralOutcome measure_spectrum(const GgnOperator& op, const SpectralPlan& plan);

}  // namespace bnl::probes
