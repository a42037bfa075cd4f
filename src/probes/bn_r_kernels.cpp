#include "bn_r_kernels.h"

#include <vector>

namespace bnl::probes::detail {
namespace {

// The loops are written once and inlined into one wrapper per type and instruction set.
#define BNL_INLINE inline __attribute__((always_inline))
#define BNL_CLONES __attribute__((target_clones("arch=haswell", "default")))

template <typename T>
BNL_INLINE void mask(T* __restrict__ x, const T* __restrict__ a, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = a[i] > T(0) ? x[i] : T(0);
}

template <typename T>
BNL_INLINE void r_forward(const BnTerms<T>& b, const T* __restrict__ rz, const T* __restrict__ a,
                          T* __restrict__ r_u, T* __restrict__ r_a, T* __restrict__ k) {
  const std::int64_t m = b.m, c = b.c;
  const T* __restrict__ u = b.u;
  const T* __restrict__ s = b.s;
  const T* __restrict__ gamma = b.gamma;
  const T* __restrict__ dgamma = b.dgamma;
  const T* __restrict__ dbeta = b.dbeta;
  std::vector<double> acc(2 * static_cast<std::size_t>(c), 0.0);
  double* __restrict__ sum_rz = acc.data();
  double* __restrict__ sum_urz = acc.data() + c;
  std::vector<T> coef(2 * static_cast<std::size_t>(c), T(0));
  T* __restrict__ shift = coef.data();
  T* __restrict__ kk = coef.data() + c;
  if (b.batch) {
    for (std::int64_t i = 0; i < m; ++i) {
      const T* __restrict__ rz_i = rz + i * c;
      const T* __restrict__ u_i = u + i * c;
      for (std::int64_t j = 0; j < c; ++j) {
        sum_rz[j] += static_cast<double>(rz_i[j]);
        sum_urz[j] += static_cast<double>(u_i[j]) * static_cast<double>(rz_i[j]);
      }
    }
    const double inv_m = 1.0 / static_cast<double>(m);
    for (std::int64_t j = 0; j < c; ++j) {
      shift[j] = static_cast<T>(sum_rz[j] * inv_m);
      kk[j] = static_cast<T>(sum_urz[j] * inv_m);
    }
  }
  for (std::int64_t j = 0; j < c; ++j) k[j] = kk[j];
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t o = i * c;
    for (std::int64_t j = 0; j < c; ++j) {
      const T ru = s[j] * (rz[o + j] - shift[j] - u[o + j] * kk[j]);
      r_u[o + j] = ru;
      r_a[o + j] = gamma[j] * ru + u[o + j] * dgamma[j] + dbeta[j];
    }
    mask(r_a + o, a + o, c);
  }
}

template <typename T>
BNL_INLINE void r_backward(const BnTerms<T>& b, const T* __restrict__ r_gy, const T* __restrict__ gy,
                           const T* __restrict__ gu, const T* __restrict__ gz, const T* __restrict__ cc,
                           const T* __restrict__ k, const T* __restrict__ r_u, T* __restrict__ r_gz,
                           T* __restrict__ d_gamma, T* __restrict__ d_beta, T* __restrict__ d_bias) {
  const std::int64_t m = b.m, c = b.c;
  const T* __restrict__ u = b.u;
  const T* __restrict__ s = b.s;
  const T* __restrict__ gamma = b.gamma;
  const T* __restrict__ dgamma = b.dgamma;
  std::vector<double> acc(5 * static_cast<std::size_t>(c), 0.0);
  double* __restrict__ s_gamma = acc.data();
  double* __restrict__ s_beta = acc.data() + c;
  double* __restrict__ s_c = acc.data() + 2 * c;
  double* __restrict__ s_gu = acc.data() + 3 * c;
  double* __restrict__ s_bias = acc.data() + 4 * c;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t o = i * c;
    for (std::int64_t j = 0; j < c; ++j) {
      s_gamma[j] += static_cast<double>(r_gy[o + j] * u[o + j] + gy[o + j] * r_u[o + j]);
      s_beta[j] += static_cast<double>(r_gy[o + j]);
    }
    if (b.batch) {
      for (std::int64_t j = 0; j < c; ++j) {
        const T rgu = gamma[j] * r_gy[o + j] + gy[o + j] * dgamma[j];
        s_c[j] += static_cast<double>(rgu * u[o + j] + gu[o + j] * r_u[o + j]);
        s_gu[j] += static_cast<double>(rgu);
      }
    }
  }
  if (b.batch) {
    const double inv_m = 1.0 / static_cast<double>(m);
    std::vector<T> coef(4 * static_cast<std::size_t>(c));
    T* __restrict__ mean_rgu = coef.data();
    T* __restrict__ mean_rc = coef.data() + c;
    T* __restrict__ sk = coef.data() + 2 * c;
    T* __restrict__ scc = coef.data() + 3 * c;
    for (std::int64_t j = 0; j < c; ++j) {
      mean_rgu[j] = static_cast<T>(s_gu[j] * inv_m);
      mean_rc[j] = static_cast<T>(s_c[j] * inv_m);
      sk[j] = -s[j] * k[j];
      scc[j] = cc[j];
    }
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t o = i * c;
      for (std::int64_t j = 0; j < c; ++j) {
        const T rgu = gamma[j] * r_gy[o + j] + gy[o + j] * dgamma[j];
        const T v = sk[j] * gz[o + j] + s[j] * (rgu - mean_rgu[j] - r_u[o + j] * scc[j] - u[o + j] * mean_rc[j]);
        r_gz[o + j] = v;
        s_bias[j] += static_cast<double>(v);
      }
    }
  } else {
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t o = i * c;
      for (std::int64_t j = 0; j < c; ++j) {
        const T v = s[j] * (gamma[j] * r_gy[o + j] + gy[o + j] * dgamma[j]);
        r_gz[o + j] = v;
        s_bias[j] += static_cast<double>(v);
      }
    }
  }
  for (std::int64_t j = 0; j < c; ++j) {
    d_gamma[j] = static_cast<T>(s_gamma[j]);
    d_beta[j] = static_cast<T>(s_beta[j]);
    d_bias[j] = static_cast<T>(s_bias[j]);
  }
}

template <typename T>
BNL_INLINE void backward(const BnTerms<T>& b, const T* __restrict__ gy, T* __restrict__ gz, T* __restrict__ d_gamma,
                         T* __restrict__ d_beta, T* __restrict__ d_bias) {
  const std::int64_t m = b.m, c = b.c;
  const T* __restrict__ u = b.u;
  const T* __restrict__ s = b.s;
  const T* __restrict__ gamma = b.gamma;
  std::vector<double> acc(3 * static_cast<std::size_t>(c), 0.0);
  double* __restrict__ s_gyu = acc.data();
  double* __restrict__ s_gy = acc.data() + c;
  double* __restrict__ s_gz = acc.data() + 2 * c;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t o = i * c;
    for (std::int64_t j = 0; j < c; ++j) {
      s_gyu[j] += static_cast<double>(gy[o + j] * u[o + j]);
      s_gy[j] += static_cast<double>(gy[o + j]);
    }
  }
  // dU = gamma dY, so mean(dU) = gamma mean(dY) and mean(dU U) = gamma mean(dY U).
  std::vector<T> coef(3 * static_cast<std::size_t>(c), T(0));
  T* __restrict__ sg = coef.data();
  T* __restrict__ shift = coef.data() + c;
  T* __restrict__ slope = coef.data() + 2 * c;
  const double inv_m = 1.0 / static_cast<double>(m);
  for (std::int64_t j = 0; j < c; ++j) {
    sg[j] = s[j] * gamma[j];
    if (b.batch) {
      shift[j] = static_cast<T>(s_gy[j] * inv_m);
      slope[j] = static_cast<T>(s_gyu[j] * inv_m);
    }
  }
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t o = i * c;
    for (std::int64_t j = 0; j < c; ++j) {
      const T v = sg[j] * (gy[o + j] - shift[j] - u[o + j] * slope[j]);
      gz[o + j] = v;
      s_gz[j] += static_cast<double>(v);
    }
  }
  for (std::int64_t j = 0; j < c; ++j) {
    d_gamma[j] = static_cast<T>(s_gyu[j]);
    d_beta[j] = static_cast<T>(s_gy[j]);
    d_bias[j] = static_cast<T>(s_gz[j]);
  }
}

}  // namespace

BNL_CLONES void bn_backward(const BnTerms<float>& b, const float* gy, float* gz, float* d_gamma, float* d_beta,
                            float* d_bias) {
  backward(b, gy, gz, d_gamma, d_beta, d_bias);
}
BNL_CLONES void bn_backward(const BnTerms<double>& b, const double* gy, double* gz, double* d_gamma, double* d_beta,
                            double* d_bias) {
  backward(b, gy, gz, d_gamma, d_beta, d_bias);
}
BNL_CLONES void bn_r_forward(const BnTerms<float>& b, const float* rz, const float* a, float* r_u, float* r_a,
                             float* k) {
  r_forward(b, rz, a, r_u, r_a, k);
}
BNL_CLONES void bn_r_forward(const BnTerms<double>& b, const double* rz, const double* a, double* r_u, double* r_a,
                             double* k) {
  r_forward(b, rz, a, r_u, r_a, k);
}
BNL_CLONES void bn_r_backward(const BnTerms<float>& b, const float* r_gy, const float* gy, const float* gu,
                              const float* gz, const float* cc, const float* k, const float* r_u, float* r_gz,
                              float* d_gamma, float* d_beta, float* d_bias) {
  r_backward(b, r_gy, gy, gu, gz, cc, k, r_u, r_gz, d_gamma, d_beta, d_bias);
}
BNL_CLONES void bn_r_backward(const BnTerms<double>& b, const double* r_gy, const double* gy, const double* gu,
                              const double* gz, const double* cc, const double* k, const double* r_u, double* r_gz,
                              double* d_gamma, double* d_beta, double* d_bias) {
  r_backward(b, r_gy, gy, gu, gz, cc, k, r_u, r_gz, d_gamma, d_beta, d_bias);
}
BNL_CLONES void relu_mask_(float* x, const float* a, std::int64_t n) { mask(x, a, n); }
BNL_CLONES void relu_mask_(double* x, const double* a, std::int64_t n) { mask(x, a, n); }

}  // namespace bnl::probes::detail
