#pragma once
// Seeded random vectors for the probes. std::mt19937_64 is specified bit for
// bit by the standard, while std::normal_distribution is not, so the
// transforms are written out here: same seed, same vectors, on every platform.

#include <cmath>
#include <cstdint>
#include <random>

#include <Eigen/Core>

namespace bnl::probes::detail {

class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}

  // Uniform in (0, 1]: 53 random bits, shifted away from zero for the log below.
  double uniform() { return (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53; }

  // Standard normal by Box-Muller (one of the pair is used).
  double normal() {
    constexpr double two_pi = 6.283185307179586476925286766559;
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    return r * std::cos(two_pi * uniform());
  }

  Eigen::VectorXd normal_vector(Eigen::Index n) {
    Eigen::VectorXd v(n);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = normal();
    return v;
  }

  // Entries +1 or -1 with probability 1/2 each, 64 entries per engine call.
  Eigen::VectorXd rademacher_vector(Eigen::Index n) {
    Eigen::VectorXd v(n);
    std::uint64_t word = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      if (i % 64 == 0) word = engine_();
      v[i] = (word & 1u) ? 1.0 : -1.0;
      word >>= 1;
    }
    return v;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace bnl::probes::detail
