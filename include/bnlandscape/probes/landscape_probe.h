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

#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/param_block.h"
#include "bnlandscape/probes/probe_context.h"
#include "bnlandscape/probes/probe_record.h"
#include "bnlandscape/probes/probe_state.h"
#include "bnlandscape/probes/shard.h"

namespace bnl::models {
class Classifier;
struct ModelSpec;
}  // namespace bnl::models

namespace bnl::probes {

/// The options of `probe` (each spelled as its flag with dashes, or TOML key).
struct ProbeConfig {
  std::int64_t step_interval = 50;       ///< probe at step 0, every K steps and at the last step
  std::string probe_batch = "current";   ///< current (the training batch, the paper's choice) | fixed
  std::int64_t probe_size = 128;         ///< fixed: the first N training examples, file order
  std::int64_t probe_microbatch = 0;     ///< split the probe set into batches of M (0 = one batch)
  std::string step_sizes;                ///< comma-separated absolute step sizes ("" = 10 log-spaced over [0.5, 4] x lr)
  std::int64_t top_k = 1;                ///< largest algebraic Hessian eigenvalues (0 = off)
  std::int64_t bottom_k = 0;             ///< smallest algebraic eigenvalues (0 = off)
  double tol = 1e-3;                     ///< Lanczos relative tolerance
  std::int64_t ncv = 0;                  ///< Lanczos subspace size (0 = measured default)
  std::int64_t trace_samples = 0;        ///< Hutchinson samples (0 = off)
  std::int64_t density_runs = 0;         ///< SLQ spectral density: Rademacher starts K (0 = off)
  std::int64_t density_steps = 0;        ///< SLQ: Lanczos steps M per start (0 = off)
  std::int64_t layer_top_k = 0;          ///< top eigenvalues of each layer's diagonal Hessian block (0 = off)
  bool save_eigenvectors = false;        ///< store the top eigenvector at every probe
  std::string probe_bn_mode = "train";   ///< BN statistics during probes: train (batch) | eval (running)
  std::string probe_dtype = "float32";   ///< float32 | float64
  std::string hvp_engine = "auto";       ///< auto (hand-written MLP products where supported) | autograd
  bool overlap = true;                   ///< probe on a second thread while training goes on (one process, CPU)
  std::string checkpoint;                ///< offline: HDF5 file holding the weights
  std::string checkpoint_group;          ///< offline: group of dotted-name datasets in it
  double dist_timeout = 300;             ///< seconds to wait for the other ranks (several processes)
};

/// Calls v(key, field, doc) for every probe option.
template <class Config, class Visitor>
void visit_probe_options(Config& c, Visitor&& v) {
  v("step_interval", c.step_interval, "probe every K training steps (and at step 0 and the last step)");
  v("probe_batch", c.probe_batch, "probe set: current (the training batch) | fixed (first --probe-size training examples)");
  v("probe_size", c.probe_size, "size of the fixed probe set");
  v("probe_microbatch", c.probe_microbatch, "split the probe set into batches of M whose mean losses are averaged (0 = one batch)");
  v("step_sizes", c.step_sizes, "comma-separated absolute step sizes s of L(w - s g) (default: 10 log-spaced over [0.5, 4] x lr)");
  v("top_k", c.top_k, "number of largest Hessian eigenvalues (0 = off)");
  v("bottom_k", c.bottom_k, "number of smallest (most negative) Hessian eigenvalues (0 = off)");
  v("tol", c.tol, "relative tolerance of the Lanczos eigenvalues");
  v("ncv", c.ncv, "Lanczos subspace size (0 = the measured default)");
  v("trace_samples", c.trace_samples, "Rademacher samples of the Hutchinson trace estimate (0 = off)");
  v("density_runs", c.density_runs, "spectral density by stochastic Lanczos quadrature: K Rademacher starts (0 = off; needs --density-steps)");
  v("density_steps", c.density_steps, "spectral density: M Lanczos steps (HVPs) per start (0 = off; needs --density-runs)");
  v("layer_top_k", c.layer_top_k, "top K eigenvalues of each layer's diagonal Hessian block (Linear/Conv with bias, norm layers apart; 0 = off)");
  v("save_eigenvectors", c.save_eigenvectors, "store the top eigenvector at every probe");
  v("probe_bn_mode", c.probe_bn_mode, "BN during probes: train (batch statistics, as training) | eval (running statistics, as PyHessian)");
  v("probe_dtype", c.probe_dtype, "precision of all probe arithmetic: float32 | float64");
  v("hvp_engine", c.hvp_engine, "gradients and Hessian-vector products: auto (the MLP's written out by hand where supported, else autograd) | autograd");
  v("overlap", c.overlap, "during training, measure each probe on a second thread while the next steps train (one process on the CPU; the same records; false = in the training thread)");
  v("checkpoint", c.checkpoint, "offline: HDF5 file with the weights to probe (no training)");
  v("checkpoint_group", c.checkpoint_group, "offline: group of dotted-name datasets in --checkpoint, e.g. /checkpoints/step_0000469");
  v("dist_timeout", c.dist_timeout, "with several processes (WORLD_SIZE > 1): seconds to wait for the other ranks before failing");
}

/// Checks the probe options (and their relation to the model's parameter count when known,
/// num_params > 0); throws train::ConfigError naming the first bad one.
void validate_probe(const ProbeConfig& c, std::int64_t batch_size, std::int64_t num_params);

/// Checks that the probe set splits into whole micro-batches over `world_size` ranks: a fixed
/// set (--probe-batch fixed) of N examples, --probe-microbatch M > 0, and N / M a multiple of
/// world_size. Nothing to check for one rank. Throws train::ConfigError-compatible
/// std::invalid_argument naming the option.
void validate_probe_shard(const ProbeConfig& c, int world_size);

/// Checks the options that depend on the model's parameter blocks (--layer-top-k below the
/// smallest block's size); throws std::invalid_argument naming the option and the block.
void validate_probe_blocks(const ProbeConfig& c, const std::vector<ParamBlock>& blocks);

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

}  // namespace bnl::probes
