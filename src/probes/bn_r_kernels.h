#pragma once
// The element-wise parts of MlpCurvature's Hessian- and Gauss-Newton-vector products through a
// BatchNorm layer and a ReLU, fused into two passes over each [m, c] row-major activation (libtorch makes about a
// dozen passes, one temporary each). Plain loops without libtorch, compiled for AVX2 and for
// the baseline x86-64 with run-time dispatch (GCC's target_clones). Column sums accumulate in
// double. Internal to src/probes.
#include <cstdint>

namespace bnl::probes::detail {

/// The point's BN terms of one layer and the direction's BN parameters, all contiguous.
template <typename T>
struct BnTerms {
  std::int64_t m = 0, c = 0;  ///< rows (examples) and columns (features)
  bool batch = true;          ///< batch statistics (training mode) rather than running ones
  const T* s = nullptr;       ///< [c] 1 / sqrt(var + eps)
  const T* gamma = nullptr;   ///< [c]
  const T* dgamma = nullptr;  ///< [c] the direction's gamma component
  const T* dbeta = nullptr;   ///< [c] the direction's beta component
  const T* u = nullptr;       ///< [m, c] normalised U
};

/// R U = s (R Z - mean(R Z) - U k) with k = mean(U R Z) (s R Z with running statistics, k = 0),
/// and R A = [A > 0] (gamma R U + U dgamma + dbeta) for the ReLU output A [m, c] that follows.
/// Writes r_u, r_a [m, c] and k [c].
void bn_r_forward(const BnTerms<float>& b, const float* rz, const float* a, float* r_u, float* r_a, float* k);
void bn_r_forward(const BnTerms<double>& b, const double* rz, const double* a, double* r_u, double* r_a, double* k);

/// From R dY = r_gy [m, c]: R dZ [m, c] into r_gz, and the sums R dgamma = sum(r_gy U + dY R U),
/// R dbeta = sum(r_gy) and sum(R dZ) (the Linear bias' part) into d_gamma, d_beta, d_bias [c]:
///   R dU = gamma r_gy + dY dgamma,
///   R dZ = -s k dZ + s (R dU - mean(R dU) - R U cc - U mean(R dU U + dU R U))  (batch),
///        = s R dU                                                            (running),
/// with dY = gy, dU = gu, dZ = gz and cc = mean(dU U) [c] of the point (gu, gz, cc and k are
/// read with batch statistics only).
void bn_r_backward(const BnTerms<float>& b, const float* r_gy, const float* gy, const float* gu, const float* gz,
                   const float* cc, const float* k, const float* r_u, float* r_gz, float* d_gamma, float* d_beta,
                   float* d_bias);
void bn_r_backward(const BnTerms<double>& b, const double* r_gy, const double* gy, const double* gu, const double* gz,
                   const double* cc, const double* k, const double* r_u, double* r_gz, double* d_gamma,
                   double* d_beta, double* d_bias);

/// BN's ordinary (exact) backward from dY = gy [m, c], the Gauss-Newton product's pass:
///   dZ = s gamma (dY - mean(dY) - U mean(dY U))  (batch),   dZ = s gamma dY  (running),
/// into gz [m, c], and the column sums dgamma = sum(dY U), dbeta = sum(dY) and sum(dZ) (the
/// Linear bias' part) into d_gamma, d_beta, d_bias [c]. Reads b.m, b.c, b.batch, b.s, b.gamma
/// and b.u only.
void bn_backward(const BnTerms<float>& b, const float* gy, float* gz, float* d_gamma, float* d_beta, float* d_bias);
void bn_backward(const BnTerms<double>& b, const double* gy, double* gz, double* d_gamma, double* d_beta,
                 double* d_bias);

/// x[i] = a[i] > 0 ? x[i] : 0 for i < n: ReLU's derivative, constant under the R-operator.
void relu_mask_(float* x, const float* a, std::int64_t n);
void relu_mask_(double* x, const double* a, std::int64_t n);

}  // namespace bnl::probes::detail
