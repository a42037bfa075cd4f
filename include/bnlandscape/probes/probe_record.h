#pragma once
/// \file
/// The measurements of one landscape probe (LandscapeProbe::measure), as the run file's probe
/// series stores them.

#include <cmath>
#include <cstdint>
#include <vector>

namespace bnl::probes {

/// What the spectral instruments measured on one curvature operator A (the Hessian H or the
/// Gauss-Newton matrix G, ggn_operator.h): the fields of ProbeRecord's Hessian measures, for an
/// operator that is not H, plus the measures that need the top-k Ritz vectors or a scaling D.
/// Non-finite values are NaN, never errors.
struct SpectralRecord {
  std::vector<double> eigvals;          ///< top-k of A, descending; NaN where not converged
  std::vector<double> eigvals_bottom;   ///< bottom-k of A, ascending
  std::int64_t hvp_count = 0;           ///< products of A of the two eigenvalue solves
  bool converged = true;                ///< every requested eigenvalue converged
  double trace = NAN;                   ///< Hutchinson estimate of tr(A)
  double trace_stderr = NAN;
  std::vector<double> density_nodes;    ///< SLQ Ritz values [K * M], run-major (density.h)
  std::vector<double> density_weights;  ///< SLQ weights [K * M]
  std::int64_t density_hvp_count = 0;   ///< products of A of the density
  double density_seconds = 0;           ///< wall time of the density
  std::vector<double> layer_eigvals;    ///< [L * k], block-major: top-k of each A_bb
  std::int64_t layer_hvp_count = 0;     ///< products of A of the per-layer eigenvalues
  bool layer_converged = true;          ///< every per-layer eigenvalue converged
  /// [k]: ||P_j g||^2 / ||g||^2, j = 1..k, P_j the projector on A's top-j Ritz vectors and g
  /// the loss gradient (topk_share.h); empty without top-k.
  std::vector<double> grad_topk_share;
  std::vector<double> eigvals_layer;    ///< top-k of D A D, D = layer_scaling (scaled_operator.h)
  std::vector<double> eigvals_adaptive; ///< top-k of D A D, D = adaptive_scaling = diag(|w|)
  std::int64_t scaled_hvp_count = 0;    ///< products of A of the scaled solves
  bool scaled_converged = true;         ///< every scaled eigenvalue converged
};

/// What one probe measured. Non-finite values are NaN, never errors.
struct ProbeRecord {
  std::int64_t step = 0;
  double loss = NAN;
  double grad_norm = NAN;
  std::vector<double> loss_path;      ///< L(w - s g) per step size
  std::vector<double> grad_pred;      ///< ||grad L(w) - grad L(w - s g)|| per step size
  double beta_smoothness = NAN;       ///< max_s ||grad L(w) - grad L(w - s g)|| / ||s g||
  double grad_curvature = NAN;        ///< g^T H g / ||g||^2
  std::vector<double> eigvals;        ///< top-k, descending; NaN where not converged
  std::vector<double> eigvals_bottom; ///< bottom-k, ascending
  std::int64_t hvp_count = 0;         ///< HVPs of the eigenvalue solves
  bool converged = true;              ///< every requested eigenvalue converged
  double grad_eig_cosine = NAN;       ///< cos(g, top eigenvector)
  double eos_threshold = NAN;         ///< 2/lr (SGD), (2 + 2 momentum)/lr, NaN for Adam
  double trace = NAN;
  double trace_stderr = NAN;
  std::vector<float> top_eigenvector; ///< only with save_eigenvectors
  std::vector<double> density_nodes;  ///< SLQ Ritz values [K * M], run-major (density.h)
  std::vector<double> density_weights;///< SLQ weights [K * M], summing to 1 per run
  std::int64_t density_hvp_count = 0; ///< HVPs of the density
  double density_seconds = 0;         ///< wall time of the density
  std::vector<double> layer_eigvals;  ///< [L * k], block-major: top-k of each block's H_bb
  std::int64_t layer_hvp_count = 0;   ///< HVPs of the per-layer eigenvalues
  bool layer_converged = true;        ///< every per-layer eigenvalue converged
  /// The Hessian's measures that SpectralRecord adds to the fields above: grad_topk_share,
  /// eigvals_layer, eigvals_adaptive, scaled_hvp_count, scaled_converged (its other fields
  /// stay empty: the Hessian's are the flat ones above).
  SpectralRecord hessian;
  /// Every measure on the Gauss-Newton matrix (--curvature ggn); empty otherwise.
  SpectralRecord ggn;
  /// lr / ||w_b||^2 of each scale-invariant block b (scale_invariant_blocks), [B].
  std::vector<double> effective_lr;
  double seconds = 0;                 ///< wall time of the probe
  double allreduce_seconds = 0;       ///< of which in all-reduces (several ranks; set by the caller)
};

}  // namespace bnl::probes
