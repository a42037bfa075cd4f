/* In-process GEMM timer for bench/train_bench.py (LD_PRELOAD): interposes sgemm_, the BLAS
 * entry libtorch calls for float matrix products, and cblas_sgemm, the entry bnlandscape's
 * fused MLP step calls (OpenBLAS's cblas_sgemm does not go through sgemm_, so no product is
 * counted twice), times every call, and at exit writes one
 * line per call, "start_seconds duration_seconds" (CLOCK_MONOTONIC), to $BNL_SGEMM_LOG.
 * The benchmark divides the products' time by the time of the same training steps: the share
 * of each step spent in matrix products, measured over the very same steps, so it does not
 * move with the host's speed from one measurement to the next as separately timed runs do.
 *
 *   cc -O2 -shared -fPIC bench/sgemm_timer.c -o sgemm_timer.so -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*sgemm_fn)(const char*, const char*, const int*, const int*, const int*, const float*,
                         const float*, const int*, const float*, const int*, const float*, float*,
                         const int*);

enum { kMaxCalls = 1 << 20 };
static double starts[kMaxCalls], durations[kMaxCalls];
static long calls;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The real function `name` of the loaded BLAS. */
static void* real_function(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (!f) {
    /* Python loads libtorch, and with it the BLAS, with RTLD_LOCAL: not in the global scope
     * RTLD_NEXT searches, so ask the already loaded library itself. */
    void* blas = dlopen("libblas.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (blas) f = dlsym(blas, name);
  }
  if (!f) {
    fprintf(stderr, "sgemm_timer: cannot find the real %s\n", name);
    abort();
  }
  return f;
}

static void record(double t0, double t1) {
  if (calls < kMaxCalls) {
    starts[calls] = t0;
    durations[calls] = t1 - t0;
  }
  ++calls;
}

void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc) {
  static sgemm_fn real;
  if (!real) real = (sgemm_fn)real_function("sgemm_");
  const double t0 = now();
  real(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record(t0, now());
}

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                               float, float*, int);

/* The CBLAS enums are passed as int, which is their ABI. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  static cblas_sgemm_fn real;
  if (!real) real = (cblas_sgemm_fn)real_function("cblas_sgemm");
  const double t0 = now();
  real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record(t0, now());
}

__attribute__((destructor)) static void write_log(void) {
  const char* path = getenv("BNL_SGEMM_LOG");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  const long n = calls < kMaxCalls ? calls : kMaxCalls;
  for (long i = 0; i < n; ++i) fprintf(f, "%.9f %.9f\n", starts[i], durations[i]);
  fclose(f);
}
