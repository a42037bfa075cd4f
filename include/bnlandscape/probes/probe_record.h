#pragma once
/// \file
/// The measurements of one landscape probe (LandscapeProbe::measure), as the run file's probe
/// series stores them.

#include <cmath>
#include <cstdint>
#include <vector>

namespace bnl::probes {

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
  double seconds = 0;                 ///< wall time of the probe
  double allreduce_seconds = 0;       ///< of which in all-reduces (several ranks; set by the caller)
};

}  // namespace bnl::probes
