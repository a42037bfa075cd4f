#include "bnlandscape/models/bn_noise.h"

#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>
#include <torch/utils.h>

namespace bnl::models {

BnNoise::BnNoise(const BnNoiseOptions& options, std::uint64_t seed)
    : options_(options), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  TORCH_CHECK(options.mu >= 0, "BnNoise: expected n_mu >= 0, got ", options.mu);
  TORCH_CHECK(options.sigma >= 0, "BnNoise: expected n_sigma >= 0, got ", options.sigma);
}

torch::Tensor BnNoise::apply(const torch::Tensor& a) {
  TORCH_CHECK(a.dim() >= 2, "BnNoise: expected [N, C] or [N, C, H, W], got ", a.sizes());
  torch::Tensor m, s;
  {
    torch::NoGradGuard no_grad;
    // Drawn on the host from the CPU generator on every device, so a GPU run sees the same noise.
    const auto opts = a.options().requires_grad(false).device(torch::kCPU);
    const int64_t c = a.size(1);
    std::vector<int64_t> unit_shape(static_cast<size_t>(a.dim()), 1);
    unit_shape[1] = c;
    // Fixed draw order (mu_u, sigma_u, m, s) so a restored generator state replays a step.
    const auto mu_u = (torch::rand({c}, gen_, opts) * 2.0 - 1.0) * options_.mu;
    const auto sigma_u = torch::rand({c}, gen_, opts) * options_.sigma + 1.0;
    m = (torch::rand(a.sizes(), gen_, opts) * 2.0 - 1.0) * 0.1 + mu_u.view(unit_shape);
    s = torch::randn(a.sizes(), gen_, opts) * 0.1 + sigma_u.view(unit_shape);
    m = m.to(a.device());
    s = s.to(a.device());
  }
  return torch::addcmul(m, s, a);
}

}  // namespace bnl::models
