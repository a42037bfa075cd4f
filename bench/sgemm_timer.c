/* In-process GEMM timer for bench/train_bench.py (LD_PRELOAD): interposes sgemm_, the BLAS
 * entry libtorch calls for float matrix products, and cblas_sgemm, the entry bnlandscape's
 * fused MLP step calls (OpenBLAS's cblas_sgemm does not go through sgemm_, so no product is
 * counted twice), times every call, and at exit writes one
 * line per call, "start_seconds duration_seconds" (CLOCK_MONOTONIC), to $BNL_SGEMM_LOG.
 * The benchmark divides the products' time by the time of the same training steps: the share
 * of each step spent in matrix products, measured over the very same steps, so it does not
 * move with the host's speed from one measurement to the next as separately timed runs do.
 *
 * With $BNL_SGEMM_REPLAY = P (the products of one training step), it also measures the GEMM-only
 * limit inside the same process, interleaved with training: at the start of every third step
 * (call index a multiple of 3 P) it first replays the previous step's P products, same shapes,
 * transposes, strides, alpha and beta, on private buffers, twice back to back, and logs each
 * replay pass as "R start_seconds duration_seconds". The second pass is the back-to-back
 * (GEMM-only) time of one step's products; steps 3 j + 1, which neither follow nor end in a
 * replay, give the training step's own time, from its first product to the next step's. Both are taken within the same second of the same process, so their ratio
 * does not carry the host's drift between separately timed runs.
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

/* One product's arguments, column-major sgemm_ form, for the replay. */
typedef struct {
  char ta, tb;
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
  float *a, *b, *c; /* private buffers, allocated at the first replay */
  long na, nb, nc;
} Product;

enum { kMaxPeriod = 64, kMaxReplays = 1 << 16 };
static long period = -1; /* products per step; 0 = no replay */
static Product recent[kMaxPeriod];
static double replay_starts[2 * kMaxReplays], replay_durations[2 * kMaxReplays];
static long replays;
static sgemm_fn real_sgemm;

static float* filled(long n) {
  float* p = (float*)malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  if (!p) abort();
  /* Small values of both signs, so no pass runs on zeros or overflows into Inf. */
  for (long i = 0; i < n; ++i) p[i] = (float)((i * 7919 % 2003) - 1001) * 1e-4f;
  return p;
}

static void grow(float** p, long* have, long need) {
  if (*have >= need) return;
  free(*p);
  *p = filled(need);
  *have = need;
}

static void replay_previous_step(void) {
  if (!real_sgemm) real_sgemm = (sgemm_fn)real_function("sgemm_");
  for (long j = 0; j < period; ++j) {
    Product* q = &recent[j];
    grow(&q->a, &q->na, (long)q->lda * (q->ta == 'N' || q->ta == 'n' ? q->k : q->m));
    grow(&q->b, &q->nb, (long)q->ldb * (q->tb == 'N' || q->tb == 'n' ? q->n : q->k));
    grow(&q->c, &q->nc, (long)q->ldc * q->n);
  }
  for (int pass = 0; pass < 2; ++pass) {
    const double t0 = now();
    for (long j = 0; j < period; ++j) {
      Product* q = &recent[j];
      real_sgemm(&q->ta, &q->tb, &q->m, &q->n, &q->k, &q->alpha, q->a, &q->lda, q->b, &q->ldb, &q->beta, q->c,
                 &q->ldc);
    }
    if (replays < 2 * kMaxReplays) {
      replay_starts[replays] = t0;
      replay_durations[replays] = now() - t0;
    }
    ++replays;
  }
}

/* Called before every product with its column-major arguments: replays the previous step when
 * this product opens a step that a replay should precede, then remembers this one. */
static void before_product(char ta, char tb, int m, int n, int k, int lda, int ldb, int ldc, float alpha,
                           float beta) {
  if (period < 0) {
    const char* e = getenv("BNL_SGEMM_REPLAY");
    period = e ? atol(e) : 0;
    if (period < 0 || period > kMaxPeriod) {
      fprintf(stderr, "sgemm_timer: BNL_SGEMM_REPLAY must be 0..%d, got %s\n", kMaxPeriod, e);
      abort();
    }
  }
  if (period == 0) return;
  if (calls > 0 && calls % (3 * period) == 0) replay_previous_step();
  Product* q = &recent[calls % period];
  q->ta = ta, q->tb = tb, q->m = m, q->n = n, q->k = k, q->lda = lda, q->ldb = ldb, q->ldc = ldc;
  q->alpha = alpha, q->beta = beta;
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
  if (!real_sgemm) real_sgemm = (sgemm_fn)real_function("sgemm_");
  before_product(*ta, *tb, *m, *n, *k, *lda, *ldb, *ldc, *alpha, *beta);
  const double t0 = now();
  real_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record(t0, now());
}

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                               float, float*, int);

/* The CBLAS enums are passed as int, which is their ABI. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  static cblas_sgemm_fn real;
  if (!real) real = (cblas_sgemm_fn)real_function("cblas_sgemm");
  {
    /* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T (CblasRowMajor = 101,
     * CblasNoTrans = 111). */
    const char ca = ta == 111 ? 'N' : 'T', cb = tb == 111 ? 'N' : 'T';
    if (order == 101)
      before_product(cb, ca, n, m, k, ldb, lda, ldc, alpha, beta);
    else
      before_product(ca, cb, m, n, k, lda, ldb, ldc, alpha, beta);
  }
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
  const long r = replays < 2 * kMaxReplays ? replays : 2 * kMaxReplays;
  for (long i = 0; i < r; ++i) fprintf(f, "R %.9f %.9f\n", replay_starts[i], replay_durations[i]);
  fclose(f);
}
