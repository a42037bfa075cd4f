#include "bnlandscape/probes/landscape_probe.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <torch/nn/functional/loss.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/gradient_path.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "bnlandscape/probes/scaled_operator.h"
#include "bnlandscape/probes/spectrum.h"

namespace bnl::probes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Mixed into the probe seed so the density's start vectors are not the other solvers'.
constexpr std::uint64_t kDensitySalt = 0x736c7164656e73ULL;  // "slqdens"

}  // namespace

LandscapeProbe::LandscapeProbe(const models::ModelSpec& spec, const ProbeConfig& config, const ProbeContext& ctx,
                               ProbeShard shard)
    : config_(config), ctx_(ctx), shard_(std::move(shard)) {
  TORCH_CHECK(shard_.world_size >= 1 && shard_.rank >= 0 && shard_.rank < shard_.world_size,
              "LandscapeProbe: expected 0 <= rank < world_size, got rank ", shard_.rank, " of ", shard_.world_size);
  TORCH_CHECK(shard_.world_size == 1 || shard_.average,
              "LandscapeProbe: expected an all-reduce average with ", shard_.world_size, " ranks, got none");
  auto s = spec;
  s.norm.backward = models::BnBackward::Exact;
  // The copy's initial values are overwritten at every probe; only the architecture matters.
  model_ = models::make_model(s);
  dtype_ = probe_dtype_kind(config) == ProbeDtype::float64 ? torch::kFloat64 : torch::kFloat32;
  model_->to(dtype_);
  models::set_running_stats_updates(*model_, false);
  if (probe_bn_mode_kind(config) == ProbeBnMode::eval)
    model_->eval();
  else
    model_->train();
  params_ = model_->parameters();
  num_params_ = numel(params_);
  blocks_ = parameter_blocks(*model_, params_);
  validate_probe_blocks(config, blocks_);
  curvature_ = curvature_choice(config);
  scaling_ = scaling_choice(config);
  for (const auto& b : scale_invariant_blocks(*model_)) invariant_layers_.push_back(b.layer);
  step_sizes_ = config.step_sizes.empty() ? default_step_sizes(ctx.lr) : parse_step_sizes(config.step_sizes);
}

int LandscapeProbe::ncv() const {
  const int k = static_cast<int>(std::max(config_.top_k, config_.bottom_k));
  if (k == 0) return 0;
  return config_.ncv > 0 ? static_cast<int>(config_.ncv) : default_ncv(k, num_params_);
}

std::string LandscapeProbe::hvp_engine() const {
  if (hvp_engine_kind(config_) == HvpEngine::autograd || !MlpCurvature::unsupported_reason(*model_, params_).empty())
    return "autograd";
  return "mlp-r-operator";
}

std::string LandscapeProbe::ggn_engine() const { return hvp_engine(); }

std::vector<LogitsFn> LandscapeProbe::logits_fns(const torch::Tensor& x) {
  // The micro-batches of loss_fn(), one closure each (GgnOperator averages their G_m).
  const std::int64_t n = x.size(0);
  const std::int64_t m = config_.probe_microbatch > 0 ? std::min(config_.probe_microbatch, n) : n;
  const auto device = params_.empty() ? x.device() : params_.front().device();
  const auto xs = x.to(device, dtype_);
  std::vector<LogitsFn> fns;
  for (std::int64_t b = 0; b < n; b += m) {
    auto xb = xs.slice(0, b, std::min(n, b + m));
    fns.push_back([this, xb]() { return model_->forward(xb); });
  }
  return fns;
}

LossFn LandscapeProbe::loss_fn(const torch::Tensor& x, const torch::Tensor& y) {
  const std::int64_t n = x.size(0);
  const std::int64_t m = config_.probe_microbatch > 0 ? std::min(config_.probe_microbatch, n) : n;
  const auto device = params_.empty() ? x.device() : params_.front().device();
  auto xs = x.to(device, dtype_);
  auto ys = y.to(device);
  return [this, xs, ys, n, m]() {
    // The mean of micro-batch means: each micro-batch is one BN batch, as a data-parallel
    // split of the same set would see it.
    torch::Tensor total;
    std::int64_t chunks = 0;
    for (std::int64_t b = 0; b < n; b += m) {
      const std::int64_t e = std::min(n, b + m);
      auto l = torch::nn::functional::cross_entropy(model_->forward(xs.slice(0, b, e)), ys.slice(0, b, e));
      total = total.defined() ? total + l : l;
      ++chunks;
    }
    return total / static_cast<double>(chunks);
  };
}

ProbeRecord LandscapeProbe::measure(std::int64_t step, const models::Classifier& source, const torch::Tensor& x,
                                    const torch::Tensor& y) {
  const auto t0 = std::chrono::steady_clock::now();
  follow_device(source.parameters());
  copy_state(source, *model_);
  return measure_copied(step, x, y, t0);
}

ProbeState LandscapeProbe::capture(const models::Classifier& source) const {
  torch::NoGradGuard no_grad;
  ProbeState state;
  for (const auto& item : source.named_parameters()) state.params.insert(item.key(), item.value().detach().clone());
  for (const auto& item : source.named_buffers()) state.buffers.insert(item.key(), item.value().detach().clone());
  return state;
}

ProbeRecord LandscapeProbe::measure_captured(std::int64_t step, const ProbeState& state, const torch::Tensor& x,
                                             const torch::Tensor& y) {
  const auto t0 = std::chrono::steady_clock::now();
  follow_device(state.params.values());
  copy_state(state.params, state.buffers, *model_);
  return measure_copied(step, x, y, t0);
}

void LandscapeProbe::follow_device(const std::vector<torch::Tensor>& source_params) {
  // The copy follows the training model onto its device (--device); on the CPU nothing moves.
  if (!source_params.empty() && !params_.empty() && source_params.front().device() != params_.front().device()) {
    model_->to(source_params.front().device());
    params_ = model_->parameters();
  }
}

ProbeRecord LandscapeProbe::measure_copied(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y,
                                           std::chrono::steady_clock::time_point t0) {
  ProbeRecord r;
  r.step = step;
  if (ctx_.optimizer == "sgd") r.eos_threshold = (2.0 + 2.0 * ctx_.momentum) / ctx_.lr;
  torch::Tensor xs = x, ys = y;
  if (shard_.world_size > 1) {
    const std::int64_t n = x.size(0), m = config_.probe_microbatch;
    TORCH_CHECK(m > 0 && n % m == 0 && (n / m) % shard_.world_size == 0, "LandscapeProbe: expected ", n,
                " examples to split into micro-batches of ", m, " shared equally by ", shard_.world_size, " ranks");
    const std::int64_t share = n / shard_.world_size;
    xs = x.slice(0, shard_.rank * share, (shard_.rank + 1) * share);
    ys = y.slice(0, shard_.rank * share, (shard_.rank + 1) * share);
  }
  auto loss = loss_fn(xs, ys);
  std::shared_ptr<const MlpCurvature> curvature;
  if (hvp_engine() != "autograd")
    curvature = std::make_shared<MlpCurvature>(*model_, params_, xs, ys, config_.probe_microbatch);
  HessianOperator op(params_, loss, shard_.average, curvature);
  auto path = gradient_path(params_, loss, step_sizes_, &op, shard_.average, curvature.get());
  r.loss = path.loss;
  r.grad_norm = path.grad_norm;
  r.loss_path = path.loss_path;
  r.grad_pred = path.grad_pred;
  r.beta_smoothness = path.beta_smoothness;
  r.grad_curvature = path.grad_curvature;
  const std::uint64_t seed = ctx_.seed * 1000003ULL + static_cast<std::uint64_t>(probes_done_);
  // The gradient whose share in the top-k Ritz vectors is measured (topk_share.h).
  const Eigen::VectorXd g = config_.top_k > 0 ? to_eigen(op.gradient()) : Eigen::VectorXd();
  if (curvature_.hessian) measure_hessian(op, g, seed, r);
  if (curvature_.ggn) measure_ggn(xs, ys, g, seed, r);
  // lr / ||w_b||^2: the step a scale-invariant block effectively takes on its sphere.
  for (const auto& b : scale_invariant_blocks(*model_)) {
    const double norm = block_norm(b);
    r.effective_lr.push_back(ctx_.lr / (norm * norm));
  }
  ++probes_done_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

SpectralPlan LandscapeProbe::spectral_plan(std::uint64_t seed, const Eigen::VectorXd& warm,
                                           const Eigen::VectorXd& gradient) const {
  SpectralPlan plan;
  plan.top_k = static_cast<int>(config_.top_k);
  plan.bottom_k = static_cast<int>(config_.bottom_k);
  plan.ncv = ncv();
  plan.tol = config_.tol;
  plan.trace_samples = static_cast<int>(config_.trace_samples);
  plan.density_runs = static_cast<int>(config_.density_runs);
  plan.density_steps = static_cast<int>(config_.density_steps);
  plan.layer_top_k = static_cast<int>(config_.layer_top_k);
  plan.blocks = blocks_;
  plan.seed = seed;
  plan.density_salt = kDensitySalt;
  if (warm.size() == num_params_ && warm.allFinite() && warm.norm() > 0) plan.warm_start = warm;
  plan.gradient = gradient;
  if (scaling_.layer) {
    const auto invariant = scale_invariant_blocks(*model_);
    plan.layer_is_identity = invariant.empty();
    plan.layer_scaling = layer_scaling(params_, invariant);
  }
  if (scaling_.adaptive) plan.adaptive_scaling = adaptive_scaling(params_);
  return plan;
}

void LandscapeProbe::measure_hessian(const HessianOperator& op, const Eigen::VectorXd& g, std::uint64_t seed,
                                     ProbeRecord& r) {
  auto out = measure_spectrum(op, spectral_plan(seed, warm_, g));
  SpectralRecord& h = out.record;
  // The Hessian's measures keep the record's flat fields (and the run file's names).
  r.eigvals = std::move(h.eigvals);
  r.eigvals_bottom = std::move(h.eigvals_bottom);
  r.converged = r.converged && h.converged;
  r.hvp_count = h.hvp_count;
  r.trace = h.trace;
  r.trace_stderr = h.trace_stderr;
  r.density_nodes = std::move(h.density_nodes);
  r.density_weights = std::move(h.density_weights);
  r.density_hvp_count = h.density_hvp_count;
  r.density_seconds = h.density_seconds;
  r.layer_eigvals = std::move(h.layer_eigvals);
  r.layer_hvp_count = h.layer_hvp_count;
  r.layer_converged = h.layer_converged;
  r.hessian = std::move(h);
  if (config_.top_k <= 0) return;
  const auto& v = out.top_eigenvector;
  if (v.size() == num_params_) {
    warm_ = v;
    const double gn = g.norm(), vn = v.norm();
    r.grad_eig_cosine = (gn > 0 && vn > 0) ? g.dot(v) / (gn * vn) : kNaN;
    if (config_.save_eigenvectors) {
      r.top_eigenvector.resize(static_cast<std::size_t>(num_params_));
      for (std::int64_t i = 0; i < num_params_; ++i) r.top_eigenvector[i] = static_cast<float>(v[i]);
    }
  } else if (config_.save_eigenvectors) {
    r.top_eigenvector.assign(static_cast<std::size_t>(num_params_), std::numeric_limits<float>::quiet_NaN());
  }
}

// The one place that chooses what computes G v (ggn_engine() names it): on the MLP the
// hand-written R-forward, H_out and exact BN backward (MlpCurvature with Product::GaussNewton,
// 0.7x an H product there, bench/RESULTS.md), applied through a HessianOperator so that every
// instrument runs on it unchanged; elsewhere the autograd R-operator.
void LandscapeProbe::measure_ggn(const torch::Tensor& x, const torch::Tensor& y, const Eigen::VectorXd& gradient,
                                 std::uint64_t seed, ProbeRecord& r) {
  SpectralOutcome out;
  if (ggn_engine() != "autograd") {
    auto curvature = std::make_shared<MlpCurvature>(*model_, params_, x, y, config_.probe_microbatch,
                                                    /*fused_cpu=*/true, MlpCurvature::Product::GaussNewton);
    const HessianOperator op(params_, loss_fn(x, y), shard_.average, std::move(curvature));
    out = measure_spectrum(op, spectral_plan(seed, ggn_warm_, gradient));
  } else {
    const GgnOperator op(params_, logits_fns(x), shard_.average);
    out = measure_spectrum(op, spectral_plan(seed, ggn_warm_, gradient));
  }
  if (out.top_eigenvector.size() == num_params_) ggn_warm_ = std::move(out.top_eigenvector);
  r.ggn = std::move(out.record);
}

}  // namespace bnl::probes
