#pragma once
/// \file
/// One probe of the loss landscape at a model's current weights (Santurkar et al. 2018,
/// section 3 and Figure 4, plus the Hessian spectrum and trace): loss along the gradient,
/// gradient predictiveness, effective beta-smoothness, curvature along the gradient, top-k and
/// bottom-k Hessian eigenvalues (Lanczos, warm-started from the previous probe), Hutchinson
/// trace, SLQ density, per-layer blocks; the same spectral instruments on the Gauss-Newton
/// matrix (--curvature ggn), the scaled top eigenvalues of D H D and D G D
/// (--sharpness-scaling), the gradient's share in the top-k Ritz vectors and the effective
/// learning rate of every scale-invariant block (spectral_suite.h). The probe works on its own copy of the model (in the probe dtype), refreshed from the
/// training model at each probe, so it can never change the training run: weights, BN running
/// statistics, gradients and optimizer state of the training model are only read.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/probe_config.h"
#include "bnlandscape/probes/param_block.h"
#include "bnlandscape/probes/probe_context.h"
#include "bnlandscape/probes/probe_record.h"
#include "bnlandscape/probes/probe_state.h"
#include "bnlandscape/probes/shard.h"
#include "bnlandscape/probes/spectral_suite.h"

namespace bnl::models {
class Classifier;
struct ModelSpec;
}  // namespace bnl::models

namespace bnl::probes {


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
  /// What computes Gauss-Newton products (--curvature ggn), chosen in measure_ggn() by the same
  /// rule as hvp_engine(): "mlp-r-operator" (MlpCurvature with Product::GaussNewton: R-forward,
  /// H_out, exact BN backward) or "autograd" (GgnOperator, the R-operator by double backward).
  std::string ggn_engine() const;
  /// The --curvature operators.
  const CurvatureChoice& curvature() const { return curvature_; }
  /// The module names of the scale-invariant blocks (scale_invariant_blocks: a Linear/Conv
  /// layer followed by a normalisation layer), the columns of ProbeRecord::effective_lr.
  const std::vector<std::string>& scale_invariant_layers() const { return invariant_layers_; }
  /// Warm start vector carried between probes (empty before the first).
  const Eigen::VectorXd& warm_start() const { return warm_; }
  void set_warm_start(Eigen::VectorXd v) { warm_ = std::move(v); }
  /// The Gauss-Newton top-k's warm start, carried between probes like warm_start().
  const Eigen::VectorXd& ggn_warm_start() const { return ggn_warm_; }
  void set_ggn_warm_start(Eigen::VectorXd v) { ggn_warm_ = std::move(v); }
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
  std::vector<LogitsFn> logits_fns(const torch::Tensor& x);
  SpectralPlan spectral_plan(std::uint64_t seed, const Eigen::VectorXd& warm, const Eigen::VectorXd& gradient) const;
  void measure_hessian(const HessianOperator& op, const Eigen::VectorXd& g, std::uint64_t seed, ProbeRecord& r);
  void measure_ggn(const torch::Tensor& x, const torch::Tensor& y, const Eigen::VectorXd& gradient, std::uint64_t seed,
                   ProbeRecord& r);

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
  Eigen::VectorXd ggn_warm_;
  CurvatureChoice curvature_;
  ScalingChoice scaling_;
  std::vector<std::string> invariant_layers_;
  std::int64_t probes_done_ = 0;
};

}  // namespace bnl::probes
