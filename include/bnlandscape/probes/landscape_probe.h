#pragma once
/// \file
/// One probe of the loss landscape at a model's current weights (Santurkar et al. 2018,
/// section 3 and Figure 4, plus the Hessian spectrum and trace): loss along the gradient,
/// gradient predictiveness, effective beta-smoothness, curvature along the gradient, top-k and
/// bottom-k Hessian eigenvalues (Lanczos, warm-started from the previous probe), Hutchinson
/// trace. The probe works on its own copy of the model (in the probe dtype), refreshed from the
/// training model at each probe, so it can never change the training run: weights, BN running
/// statistics, gradients and optimizer state of the training model are only read.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/layer_hessian.h"
#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/probe_config.h"
#include "bnlandscape/probes/shard.h"

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

/// Settings a probe needs from the training configuration.
struct ProbeContext {
  double lr = 0.1;
  double momentum = 0;
  std::string optimizer = "sgd";
  std::uint64_t seed = 0;
};

/// A model's weights and buffers at one moment, by dotted name (LandscapeProbe::capture()).
struct ProbeState {
  torch::OrderedDict<std::string, torch::Tensor> params, buffers;
};

/// Measures probes on a private copy of a model.
class LandscapeProbe {
 public:
  /// Builds the private model copy from `spec` (BN backward forced to exact: the original's
  /// backward is not the gradient of any loss, so a Hessian through it would not be symmetric).
  /// With a `shard` of several ranks, each measure() evaluates this rank's micro-batches and
  /// averages every loss, gradient and Hessian-vector product over the ranks.
  LandscapeProbe(const models::ModelSpec& spec, const ProbeConfig& config, const ProbeContext& ctx,
                 ProbeShard shard = {});

  /// Probes at `source`'s current weights and buffers on images x [N, C, H, W] and labels y [N]
  /// (split into micro-batches as configured). With several ranks, x and y are the whole set,
  /// the same on every rank; rank r takes micro-batches [r c / W, (r + 1) c / W) of the
  /// c = N / M, and every rank returns the same record.
  ProbeRecord measure(std::int64_t step, const models::Classifier& source, const torch::Tensor& x,
                      const torch::Tensor& y);
  /// measure() in two halves, so that the second can run on another thread while `source`
  /// trains on: capture() copies `source`'s weights and buffers (thread-safe, const), and
  /// measure_captured() probes them; the record is the one measure() gives at that moment.
  /// measure() and measure_captured() are not thread-safe: one at a time on a LandscapeProbe.
  ProbeState capture(const models::Classifier& source) const;
  ProbeRecord measure_captured(std::int64_t step, const ProbeState& state, const torch::Tensor& x,
                               const torch::Tensor& y);

  /// The absolute step sizes probed.
  const std::vector<double>& step_sizes() const { return step_sizes_; }
  /// Parameters of the model (P).
  std::int64_t num_params() const { return num_params_; }
  /// What computes gradients and Hessian-vector products: "mlp-r-operator" (MlpCurvature) or
  /// "autograd" (double backward), after --hvp-engine and the model's support.
  std::string hvp_engine() const;
  /// Warm start vector carried between probes (empty before the first).
  const Eigen::VectorXd& warm_start() const { return warm_; }
  void set_warm_start(Eigen::VectorXd v) { warm_ = std::move(v); }
  /// Probes measured so far (each probe's Lanczos start vector is seeded from it).
  std::int64_t probes_done() const { return probes_done_; }
  /// Sets the count (resume).
  void set_probes_done(std::int64_t n) { probes_done_ = n; }
  /// Effective Lanczos subspace size (after the default is applied).
  int ncv() const;
  /// The diagonal blocks of the per-layer eigenvalues (one per module owning parameters).
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

 private:
  void follow_device(const std::vector<torch::Tensor>& source_params);
  ProbeRecord measure_copied(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y,
                             std::chrono::steady_clock::time_point t0);
  LossFn loss_fn(const torch::Tensor& x, const torch::Tensor& y);

  ProbeConfig config_;
  ProbeContext ctx_;
  ProbeShard shard_;
  std::shared_ptr<models::Classifier> model_;
  std::vector<torch::Tensor> params_;
  torch::Dtype dtype_;
  std::vector<double> step_sizes_;
  std::int64_t num_params_ = 0;
  std::vector<ParamBlock> blocks_;
  Eigen::VectorXd warm_;
  std::int64_t probes_done_ = 0;
};

/// Copies every parameter and buffer of `from` into `to` by name (converting dtype); both
/// models must have the same architecture. Throws c10::Error on a missing name or shape.
void copy_state(const torch::nn::Module& from, torch::nn::Module& to);
/// The same from named parameters and buffers (e.g. a ProbeState), by dotted name.
void copy_state(const torch::OrderedDict<std::string, torch::Tensor>& params,
                const torch::OrderedDict<std::string, torch::Tensor>& buffers, torch::nn::Module& to);

}  // namespace bnl::probes
