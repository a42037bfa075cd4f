#include "bnlandscape/models/lp_norm.h"

#include <cmath>
#include <vector>

#include <torch/autograd.h>

namespace bnl::models {
namespace {

std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

torch::Tensor per_channel(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = v.size(0);
  return v.view(shape);
}

}  // namespace

torch::Tensor lp_scale(const torch::Tensor& x, double p) {
  const auto dims = reduce_dims(x);
  if (std::isinf(p)) return x.abs().amax(dims);
  // x * x rather than |x|^2: same value, and its derivative has no sign() kink at 0.
  if (p == 2.0) return (x * x).mean(dims).sqrt();
  if (p == 1.0) return x.abs().mean(dims);
  return x.abs().pow(p).mean(dims).pow(1.0 / p);
}

LpNormOptions::LpNormOptions(int64_t num_features, double p) : num_features_(num_features), p_(p) {}

LpNormImpl::LpNormImpl(const LpNormOptions& options_) : options(options_) { reset(); }

void LpNormImpl::reset() {
  TORCH_CHECK(options.num_features() > 0, "LpNorm: expected num_features > 0, got ", options.num_features());
  TORCH_CHECK(options.p() >= 1.0, "LpNorm: expected p >= 1 (1, 2 or inf), got ", options.p());
  gamma = register_parameter("gamma", torch::ones({options.num_features()}));
  beta = register_parameter("beta", torch::zeros({options.num_features()}));
  running_mean = register_buffer("running_mean", torch::zeros({options.num_features()}));
  running_scale = register_buffer("running_scale", torch::ones({options.num_features()}));
}

torch::Tensor LpNormImpl::forward(const torch::Tensor& x) {
  const int64_t want_dim = options.spatial() ? 4 : 2;
  TORCH_CHECK(x.dim() == want_dim, "LpNorm: expected ", want_dim, "-D input (",
              options.spatial() ? "[N, C, H, W]" : "[N, C]", "), got ", x.dim(), "-D input ", x.sizes());
  TORCH_CHECK(x.size(1) == options.num_features(), "LpNorm: expected ", options.num_features(),
              " channels in dimension 1, got ", x.size(1));
  const double eps = options.eps();
  if (!is_training() && options.eval_stats() == BnEvalStats::Running) {
    const auto scale = gamma / (running_scale + eps);
    const auto shift = beta - running_mean * scale;
    return torch::addcmul(per_channel(shift, x), x, per_channel(scale, x));
  }
  const int64_t count = x.numel() / x.size(1);
  TORCH_CHECK(count > 1, "LpNorm: expected more than 1 value per channel for batch statistics, got ", count,
              " (input shape ", x.sizes(), ")");
  const auto mu = x.mean(reduce_dims(x));
  const auto s = lp_scale(x, options.p());
  const auto y = (x - per_channel(mu, x)) * per_channel(gamma / (s + eps), x) + per_channel(beta, x);
  if (is_training() && update_running_stats_) {
    torch::NoGradGuard no_grad;
    const double m = options.momentum();
    running_mean.mul_(1.0 - m).add_(mu.detach().to(running_mean.scalar_type()), m);
    running_scale.mul_(1.0 - m).add_(s.detach().to(running_scale.scalar_type()), m);
  }
  return y;
}

void LpNormImpl::pretty_print(std::ostream& stream) const {
  stream << "bnl::models::LpNorm(" << options.num_features() << ", p=" << options.p() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum() << ", spatial=" << (options.spatial() ? "true" : "false") << ")";
}

void LpNormImpl::set_update_running_stats(bool on) { update_running_stats_ = on; }

}  // namespace bnl::models
