#include "bnlandscape/models/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/autograd.h>

namespace bnl::models {

template <typename T>
void batch_norm_rows_forward(const T* x, int64_t n, int64_t c, const T* gamma, const T* beta, double eps,
                             double* mean, double* var, T* y) {
  // Two passes for the statistics (mean, then squared deviations), sums in double.
  std::fill(mean, mean + c, 0.0);
  std::fill(var, var + c, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) mean[j] += static_cast<double>(row[j]);
  }
  for (int64_t j = 0; j < c; ++j) mean[j] /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) {
      const double d = static_cast<double>(row[j]) - mean[j];
      var[j] += d * d;
    }
  }
  for (int64_t j = 0; j < c; ++j) var[j] /= static_cast<double>(n);
  std::vector<T> mean_t(static_cast<size_t>(c)), scale(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) {
    mean_t[j] = static_cast<T>(mean[j]);
    scale[j] = static_cast<T>(static_cast<double>(gamma[j]) / std::sqrt(var[j] + eps));
  }
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * c;
    T* out = y + i * c;
    for (int64_t j = 0; j < c; ++j) out[j] = (row[j] - mean_t[j]) * scale[j] + beta[j];
  }
}

template <typename T>
void batch_norm_rows_backward(const T* x, const T* dy, int64_t n, int64_t c, const T* gamma, const double* mean,
                              const double* var, double eps, T* dx, T* dgamma, T* dbeta) {
  std::vector<double> sum_dy(static_cast<size_t>(c), 0.0), sum_dy_xc(static_cast<size_t>(c), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * c;
    const T* dr = dy + i * c;
    for (int64_t j = 0; j < c; ++j) {
      const double d = static_cast<double>(dr[j]);
      sum_dy[j] += d;
      sum_dy_xc[j] += d * (static_cast<double>(xr[j]) - mean[j]);
    }
  }
  std::vector<T> a(static_cast<size_t>(c)), b(static_cast<size_t>(c)), k(static_cast<size_t>(c)),
      mean_t(static_cast<size_t>(c));
  const double nd = static_cast<double>(n);
  for (int64_t j = 0; j < c; ++j) {
    const double inv_std = 1.0 / std::sqrt(var[j] + eps);
    const double kj = static_cast<double>(gamma[j]) * inv_std;
    dgamma[j] = static_cast<T>(sum_dy_xc[j] * inv_std);
    dbeta[j] = static_cast<T>(sum_dy[j]);
    // dx = k dy + a + b (x - mu)
    k[j] = static_cast<T>(kj);
    a[j] = static_cast<T>(-kj * sum_dy[j] / nd);
    b[j] = static_cast<T>(-kj * inv_std * inv_std * sum_dy_xc[j] / nd);
    mean_t[j] = static_cast<T>(mean[j]);
  }
  if (!dx) return;
  // Element by element after the sums: dx may be dy itself.
  for (int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * c;
    const T* dr = dy + i * c;
    T* o = dx + i * c;
    for (int64_t j = 0; j < c; ++j) o[j] = k[j] * dr[j] + a[j] + b[j] * (xr[j] - mean_t[j]);
  }
}

template void batch_norm_rows_forward<float>(const float*, int64_t, int64_t, const float*, const float*, double,
                                             double*, double*, float*);
template void batch_norm_rows_forward<double>(const double*, int64_t, int64_t, const double*, const double*,
                                              double, double*, double*, double*);
template void batch_norm_rows_backward<float>(const float*, const float*, int64_t, int64_t, const float*,
                                              const double*, const double*, double, float*, float*, float*);
template void batch_norm_rows_backward<double>(const double*, const double*, int64_t, int64_t, const double*,
                                               const double*, const double*, double, double*, double*, double*);

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Every dimension but the channel dimension 1: {0, 2, 3, ...}.
std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) {
    dims.push_back(d);
  }
  return dims;
}

/// [C] reshaped to broadcast against x: [1, C, 1, ...].
torch::Tensor per_channel(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = v.size(0);
  return v.view(shape);
}

const char* name_of(BnBackward b) { return b == BnBackward::Exact ? "exact" : "original"; }

const char* name_of(BnEvalStats s) { return s == BnEvalStats::Running ? "running" : "batch"; }

// Loops for the dense layers' input x [N, C] (contiguous float32 or float64): one pass per
// statistic over rows, the inner loop running along the channels so it vectorises, sums in
// double. The tensor-op formulas cost a dozen full-size passes and dispatches per call; these
// take three (forward) and two (backward) and are used wherever no graph is being recorded.
bool loops_apply(const torch::Tensor& x) {
  return x.dim() == 2 && x.is_contiguous() && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64);
}

/// y = (x - mu) * gamma / sqrt(var + eps) + beta for x [N, C]; returns {y, mu [C], var [C]} in
/// x's dtype, then the same mu and var in float64 (for backward_loops).
template <typename T>
variable_list forward_loops(const torch::Tensor& x, const torch::Tensor& gamma,
                            const torch::Tensor& beta, double eps) {
  const int64_t n = x.size(0), c = x.size(1);
  auto mu = torch::empty({c}, x.options().dtype(torch::kFloat64));
  auto var = torch::empty({c}, x.options().dtype(torch::kFloat64));
  const auto g = gamma.contiguous(), b = beta.contiguous();
  auto y = torch::empty_like(x);
  batch_norm_rows_forward(x.data_ptr<T>(), n, c, g.data_ptr<T>(), b.data_ptr<T>(), eps, mu.data_ptr<double>(),
                          var.data_ptr<double>(), y.data_ptr<T>());
  return {y, mu.to(x.scalar_type()), var.to(x.scalar_type()), mu, var};
}

/// The exact backward for x [N, C] with no graph recorded: {dx (undefined unless want_dx),
/// dgamma [C], dbeta [C]}. mu_t and var_t are forward's float64 statistics of this x.
template <typename T>
variable_list backward_loops(const torch::Tensor& x, const torch::Tensor& gamma,
                             const torch::Tensor& dy_in, const torch::Tensor& mu_t,
                             const torch::Tensor& var_t, double eps, bool want_dx) {
  const int64_t n = x.size(0), c = x.size(1);
  const auto dy = dy_in.contiguous();
  const auto g = gamma.contiguous();
  auto dgamma = torch::empty({c}, x.options());
  auto dbeta = torch::empty({c}, x.options());
  torch::Tensor dx = want_dx ? torch::empty_like(x) : torch::Tensor();
  batch_norm_rows_backward(x.data_ptr<T>(), dy.data_ptr<T>(), n, c, g.data_ptr<T>(), mu_t.data_ptr<double>(),
                           var_t.data_ptr<double>(), eps, want_dx ? dx.data_ptr<T>() : nullptr,
                           dgamma.data_ptr<T>(), dbeta.data_ptr<T>());
  return {dx, dgamma, dbeta};
}

/// Outputs y, and the batch mean and biased variance [C] (non-differentiable, for the running
/// statistics).
class BatchNormTrainFunction : public torch::autograd::Function<BatchNormTrainFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& gamma, const torch::Tensor& beta, double eps,
                               BnBackward mode) {
    ctx->save_for_backward({x, gamma});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["original"] = mode == BnBackward::Original;
    // The statistics never receive gradients; materialising zeros for them would be wasted work.
    ctx->set_materialize_grads(false);
    // check_batch_inputs has already required gamma and beta in x's dtype.
    if (loops_apply(x)) {
      auto out = x.scalar_type() == torch::kFloat32 ? forward_loops<float>(x, gamma, beta, eps)
                                                     : forward_loops<double>(x, gamma, beta, eps);
      // Constants, unlike x: only backward_loops reads them, which runs when no graph is
      // recorded; the tensor-op backward still recomputes the statistics from x.
      ctx->saved_data["loop_mean"] = out[3];
      ctx->saved_data["loop_var"] = out[4];
      out.resize(3);
      ctx->mark_non_differentiable({out[1], out[2]});
      return out;
    }
    const auto dims = reduce_dims(x);
    // Two-pass statistics: torch::var_mean (Welford) is ~10x slower on CPU here.
    const auto mu = x.mean(dims, /*keepdim=*/true);
    const auto xc = x - mu;
    const auto var = (xc * xc).mean(dims, /*keepdim=*/true);
    const auto scale = per_channel(gamma, x) * (var + eps).rsqrt();
    const auto y = torch::addcmul(per_channel(beta, x), xc, scale);
    // Only x and gamma are saved (above): mu, var and x_hat are recomputed in backward from x,
    // because forward runs with grad mode off and anything derived here would be a constant to
    // double backward, silently dropping the Hessian terms through the statistics.
    auto mu_out = mu.flatten();
    auto var_out = var.flatten();
    ctx->mark_non_differentiable({mu_out, var_out});
    return {y, mu_out, var_out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto& dy = grad_outputs[0];
    if (!dy.defined()) {
      return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
              torch::Tensor()};
    }
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& gamma = saved[1];
    const double eps = ctx->saved_data["eps"].toDouble();
    const bool original = ctx->saved_data["original"].toBool();

    // Grad mode is on here only when backward itself is being differentiated (create_graph, the
    // Hessian-vector products): then the tensor-op formula below, whose every step is recorded.
    const auto loop_stats = ctx->saved_data.find("loop_mean");
    if (!original && !torch::GradMode::is_enabled() && loop_stats != ctx->saved_data.end() &&
        dy.scalar_type() == x.scalar_type()) {
      const auto mu = loop_stats->second.toTensor();
      const auto var = ctx->saved_data["loop_var"].toTensor();
      const bool want_dx = ctx->needs_input_grad(0);
      auto out = x.scalar_type() == torch::kFloat32 ? backward_loops<float>(x, gamma, dy, mu, var, eps, want_dx)
                                                     : backward_loops<double>(x, gamma, dy, mu, var, eps, want_dx);
      return {out[0], ctx->needs_input_grad(1) ? out[1] : torch::Tensor(),
              ctx->needs_input_grad(2) ? out[2] : torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }

    const auto dims = reduce_dims(x);
    const double n = static_cast<double>(x.numel() / x.size(1));
    const auto mu = x.mean(dims, /*keepdim=*/true);
    const auto xc = x - mu;
    const auto var = (xc * xc).mean(dims, /*keepdim=*/true);
    const auto inv_std = (var + eps).rsqrt();
    const auto g = per_channel(gamma, x);

    const auto dbeta = dy.sum(dims, /*keepdim=*/true);
    // sum(dy * x_hat) with x_hat = xc * inv_std, without materialising x_hat.
    const auto dgamma = (dy * xc).sum(dims, /*keepdim=*/true) * inv_std;

    torch::Tensor dx;
    if (ctx->needs_input_grad(0)) {
      if (original) {
        // Kept in the original study's shape so it can be compared line by line; the x_hat in
        // dvar is its mistake (the derivation has xc), which scales that term by inv_std.
        const auto x_hat = xc * inv_std;
        const auto dxh = dy * g;
        const auto dvar = (dxh * x_hat).sum(dims, true) * -0.5 * (var + eps).pow(-1.5);
        const auto dmu = -dxh.sum(dims, true) * inv_std;
        dx = dxh * inv_std + dvar * 2.0 * xc / n + dmu / n;
      } else {
        // dx = k * (dy - dbeta / n - x_hat * dgamma / n) with k = gamma * inv_std, using
        // mean(dxh) = gamma * dbeta / n and mean(dxh * x_hat) = gamma * dgamma / n; folded into
        // per-channel coefficients so only two full-size passes remain.
        const auto k = g * inv_std;
        dx = torch::addcmul(torch::addcmul(-k * dbeta / n, dy, k), xc,
                            -k * inv_std * dgamma / n);
      }
    }
    return {dx,
            ctx->needs_input_grad(1) ? dgamma.flatten() : torch::Tensor(),
            ctx->needs_input_grad(2) ? dbeta.flatten() : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

void check_batch_inputs(const torch::Tensor& x, const torch::Tensor& gamma,
                        const torch::Tensor& beta) {
  TORCH_CHECK(x.dim() >= 2, "batch_norm_train: expected input [N, C, ...] of at least 2 dims, got ",
              x.dim(), "-D input");
  TORCH_CHECK(gamma.dim() == 1 && gamma.size(0) == x.size(1),
              "batch_norm_train: expected gamma of shape [", x.size(1), "], got ", gamma.sizes());
  TORCH_CHECK(beta.dim() == 1 && beta.size(0) == x.size(1),
              "batch_norm_train: expected beta of shape [", x.size(1), "], got ", beta.sizes());
  TORCH_CHECK(gamma.scalar_type() == x.scalar_type() && beta.scalar_type() == x.scalar_type(),
              "batch_norm_train: expected gamma and beta of the input's dtype ", x.scalar_type(),
              ", got ", gamma.scalar_type(), " and ", beta.scalar_type());
  const int64_t per_channel_count = x.size(1) == 0 ? 0 : x.numel() / x.size(1);
  TORCH_CHECK(per_channel_count > 1,
              "batch_norm_train: expected more than 1 value per channel for batch statistics, got ",
              per_channel_count, " (input shape ", x.sizes(), ")");
}

/// {y, batch mean [C], biased batch variance [C]}; see batch_norm_train.
variable_list batch_norm_train_with_stats(const torch::Tensor& x, const torch::Tensor& gamma,
                                          const torch::Tensor& beta, double eps,
                                          BnBackward backward) {
  check_batch_inputs(x, gamma, beta);
  return BatchNormTrainFunction::apply(x, gamma, beta, eps, backward);
}

}  // namespace

torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& gamma,
                               const torch::Tensor& beta, double eps, BnBackward backward) {
  return batch_norm_train_with_stats(x, gamma, beta, eps, backward)[0];
}

BatchNormOptions::BatchNormOptions(int64_t num_features) : num_features_(num_features) {}

BatchNormImpl::BatchNormImpl(const BatchNormOptions& options_) : options(options_) {
  reset();
}

void BatchNormImpl::reset() {
  TORCH_CHECK(options.num_features() > 0, "BatchNorm: expected num_features > 0, got ",
              options.num_features());
  // torch.nn.BatchNorm's names and registration order, so state dicts match key for key.
  gamma = register_parameter("weight", torch::ones({options.num_features()}));
  beta = register_parameter("bias", torch::zeros({options.num_features()}));
  running_mean = register_buffer("running_mean", torch::zeros({options.num_features()}));
  running_var = register_buffer("running_var", torch::ones({options.num_features()}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  const int64_t want_dim = options.spatial() ? 4 : 2;
  TORCH_CHECK(x.dim() == want_dim, "BatchNorm: expected ", want_dim, "-D input (",
              options.spatial() ? "[N, C, H, W]" : "[N, C]", "), got ", x.dim(), "-D input ",
              x.sizes());
  TORCH_CHECK(x.size(1) == options.num_features(), "BatchNorm: expected ",
              options.num_features(), " channels in dimension 1, got ", x.size(1));

  if (!is_training() && options.eval_stats() == BnEvalStats::Running) {
    const auto scale = gamma * (running_var + options.eps()).rsqrt();
    const auto shift = beta - running_mean * scale;
    return torch::addcmul(per_channel(shift, x), x, per_channel(scale, x));
  }

  const int64_t count = x.numel() / x.size(1);
  TORCH_CHECK(count > 1, "BatchNorm: expected more than 1 value per channel for batch statistics ",
              is_training() ? "in training mode" : "in eval mode with batch statistics", ", got ",
              count, " (input shape ", x.sizes(), ")");

  auto out = batch_norm_train_with_stats(x, gamma, beta, options.eps(), options.backward());

  if (is_training() && update_running_stats_) {
    torch::NoGradGuard no_grad;
    const double m = options.momentum();
    // torch::nn::BatchNorm tracks the unbiased variance although it normalises with the biased.
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    running_mean.mul_(1.0 - m).add_(out[1].to(running_mean.scalar_type()), m);
    running_var.mul_(1.0 - m).add_(out[2].to(running_var.scalar_type()), m * unbias);
    num_batches_tracked.add_(1);
  }
  return out[0];
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "bnl::models::BatchNorm(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum()
         << ", spatial=" << (options.spatial() ? "true" : "false")
         << ", backward=" << name_of(options.backward())
         << ", eval_stats=" << name_of(options.eval_stats()) << ")";
}

void BatchNormImpl::set_update_running_stats(bool on) { update_running_stats_ = on; }

bool BatchNormImpl::update_running_stats() const { return update_running_stats_; }

}  // namespace bnl::models
