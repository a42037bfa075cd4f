#include "bnlandscape/models/batch_norm.h"

#include <vector>

#include <torch/autograd.h>

namespace bnl::models {

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

/// Outputs y, and the batch mean and biased variance [C] (non-differentiable, for the running
/// statistics).
class BatchNormTrainFunction : public torch::autograd::Function<BatchNormTrainFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& gamma, const torch::Tensor& beta, double eps,
                               BnBackward mode) {
    const auto dims = reduce_dims(x);
    // Two-pass statistics: torch::var_mean (Welford) is ~10x slower on CPU here.
    const auto mu = x.mean(dims, /*keepdim=*/true);
    const auto xc = x - mu;
    const auto var = (xc * xc).mean(dims, /*keepdim=*/true);
    const auto scale = per_channel(gamma, x) * (var + eps).rsqrt();
    const auto y = torch::addcmul(per_channel(beta, x), xc, scale);
    // Only x and gamma are saved: mu, var and x_hat are recomputed in backward from x, because
    // forward runs with grad mode off and anything derived here would be a constant to double
    // backward, silently dropping the Hessian terms through the statistics.
    ctx->save_for_backward({x, gamma});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["original"] = mode == BnBackward::Original;
    auto mu_out = mu.flatten();
    auto var_out = var.flatten();
    ctx->mark_non_differentiable({mu_out, var_out});
    // The statistics never receive gradients; materialising zeros for them would be wasted work.
    ctx->set_materialize_grads(false);
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
  gamma = register_parameter("gamma", torch::ones({options.num_features()}));
  beta = register_parameter("beta", torch::zeros({options.num_features()}));
  running_mean = register_buffer("running_mean", torch::zeros({options.num_features()}));
  running_var = register_buffer("running_var", torch::ones({options.num_features()}));
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
