#pragma once
/// \file
/// Noisy BatchNorm (Santurkar et al. 2018, section 2, Algorithm 1): after every normalisation
/// layer's output, a random per-unit shift and scale that changes every step, to show that
/// deliberately unstable activation distributions ("covariate shift") do not stop BN from
/// helping.

#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace bnl::models {

/// Noise magnitudes of Algorithm 1 (--bn-noise-mu, --bn-noise-sigma).
struct BnNoiseOptions {
  /// n_mu: per-unit mean shift mu_u ~ U(-n_mu, n_mu).
  double mu = 0.5;
  /// n_sigma: per-unit scale sigma_u ~ U(1, 1 + n_sigma).
  double sigma = 0.25;
};

/// Draws and applies the noise of Algorithm 1 with its own seeded generator (separate from the
/// data order and initialisation generators, so turning noise on changes nothing else).
class BnNoise {
 public:
  /// A noise source whose generator is seeded with `seed`.
  BnNoise(const BnNoiseOptions& options, std::uint64_t seed);

  /// a <- s * a + m for a = [N, C] or [N, C, H, W] (H and W are batch dimensions, as N is):
  /// per unit u (channel), mu_u ~ U(-n_mu, n_mu) and sigma_u ~ U(1, 1 + n_sigma); per value,
  /// m ~ U(mu_u - 0.1, mu_u + 0.1) and s ~ N(sigma_u, 0.1^2). The noise is a constant to
  /// autograd. Every call draws fresh noise.
  torch::Tensor apply(const torch::Tensor& a);

  /// The generator (its state can be saved and restored to replay the same draws).
  at::Generator& generator() { return gen_; }
  /// The noise magnitudes.
  const BnNoiseOptions& options() const { return options_; }

 private:
  BnNoiseOptions options_;
  at::Generator gen_;
};

}  // namespace bnl::models
