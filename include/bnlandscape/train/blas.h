#pragma once
/// \file
/// The CBLAS entry points of the BLAS libtorch loaded (OpenBLAS through libblas.so.3 on
/// Debian), looked up at run time: bnlandscape's own level-1 passes and matrix products then
/// run in the very library, and with the very threads, that torch's products use, without
/// linking a BLAS of its own. The reference BLAS exports no CBLAS symbols; the pointers are
/// then null and every caller falls back to ATen.

namespace bnl::train {

/// Single-precision CBLAS functions (null where the loaded BLAS lacks them).
struct Cblas {
  /// sum_i x[i*incx] * y[i*incy] over n elements.
  using Sdot = float (*)(int n, const float* x, int incx, const float* y, int incy);
  /// y <- alpha * x + y over n elements.
  using Saxpy = void (*)(int n, float alpha, const float* x, int incx, float* y, int incy);
  /// C [m, n] <- alpha * op(A) [m, k] * op(B) [k, n] + beta * C, in the given storage order.
  using Sgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

  /// CBLAS enum values (cblas.h: CblasRowMajor, CblasNoTrans, CblasTrans).
  static constexpr int kRowMajor = 101;
  static constexpr int kNoTrans = 111;
  static constexpr int kTrans = 112;

  Sdot sdot = nullptr;
  Saxpy saxpy = nullptr;
  Sgemm sgemm = nullptr;
};

/// The process's CBLAS functions, looked up once in the loaded libraries.
const Cblas& cblas();

}  // namespace bnl::train
