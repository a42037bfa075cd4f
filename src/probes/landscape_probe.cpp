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
#include "bnlandscape/probes/density.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/gradient_path.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/layer_hessian.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/probes/trace.h"
#include "bnlandscape/probes/mlp_curvature.h"

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
  const std::int64_t before = op.hvp_count();
  if (config_.top_k > 0) {
    LanczosOptions o;
    o.k = static_cast<int>(config_.top_k);
    o.ncv = ncv();
    o.tol = config_.tol;
    o.seed = seed;
    o.largest = true;
    if (warm_.size() == num_params_ && warm_.allFinite() && warm_.norm() > 0) o.warm_start = warm_;
    auto e = lanczos_eigs(op, o);
    r.eigvals = e.eigenvalues;
    r.converged = r.converged && e.converged;
    if (e.top_eigenvector.size() == num_params_) {
      warm_ = e.top_eigenvector;
      const auto g = to_eigen(op.gradient());
      const double gn = g.norm(), vn = e.top_eigenvector.norm();
      r.grad_eig_cosine = (gn > 0 && vn > 0) ? g.dot(e.top_eigenvector) / (gn * vn) : kNaN;
      if (config_.save_eigenvectors) {
        r.top_eigenvector.resize(static_cast<std::size_t>(num_params_));
        for (std::int64_t i = 0; i < num_params_; ++i) r.top_eigenvector[i] = static_cast<float>(e.top_eigenvector[i]);
      }
    } else if (config_.save_eigenvectors) {
      r.top_eigenvector.assign(static_cast<std::size_t>(num_params_), std::numeric_limits<float>::quiet_NaN());
    }
  }
  if (config_.bottom_k > 0) {
    LanczosOptions o;
    o.k = static_cast<int>(config_.bottom_k);
    o.ncv = ncv();
    o.tol = config_.tol;
    o.seed = seed + 1;
    o.largest = false;
    auto e = lanczos_eigs(op, o);
    r.eigvals_bottom = e.eigenvalues;
    r.converged = r.converged && e.converged;
  }
  r.hvp_count = op.hvp_count() - before;
  if (config_.trace_samples > 0) {
    auto t = hutchinson_trace(op, static_cast<int>(config_.trace_samples), seed + 2);
    r.trace = t.trace;
    r.trace_stderr = t.stderr_;
  }
  if (config_.density_runs > 0) {
    const auto td = std::chrono::steady_clock::now();
    DensityOptions o;
    o.runs = static_cast<int>(config_.density_runs);
    o.steps = static_cast<int>(config_.density_steps);
    o.seed = seed ^ kDensitySalt;
    auto d = slq_density(op, o);
    r.density_nodes = std::move(d.nodes);
    r.density_weights = std::move(d.weights);
    r.density_hvp_count = d.hvp_count;
    r.density_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - td).count();
  }
  if (config_.layer_top_k > 0) {
    LanczosOptions o;
    o.k = static_cast<int>(config_.layer_top_k);
    o.tol = config_.tol;
    o.seed = seed + 4;
    auto l = layer_top_eigs(op, blocks_, o);
    r.layer_eigvals.clear();
    for (const auto& e : l.eigenvalues) r.layer_eigvals.insert(r.layer_eigvals.end(), e.begin(), e.end());
    r.layer_hvp_count = l.hvp_count;
    r.layer_converged = l.converged;
  }
  ++probes_done_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace bnl::probes
