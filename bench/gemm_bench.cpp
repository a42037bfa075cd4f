// GEMM-only limit of one training step: the steps per second this machine reaches doing
// nothing but the matrix products of every Linear layer of one SGD step, with the BLAS libtorch
// uses (Debian's libblas.so.3 -> OpenBLAS, Fortran sgemm_, which is what at::native::cpublas
// calls for float) and a given number of OpenBLAS threads. Per layer with input [B, in] and
// weight [out, in], in the operand layouts libtorch's Linear (addmm(b, x, w.t())) and its
// autograd use:
//   forward      y  = x  . w^T   [B,in]x[in,out]
//   input-grad   dx = dy . w     [B,out]x[out,in]   (skipped for the first layer: the data does
//                                                    not require grad, so autograd skips it too)
//   weight-grad  dw = dy^T . x   [out,B]x[B,in]
// Bias, activations, BN, loss and optimizer are excluded on purpose: this is the ceiling.
//
// Built and run by bench/train_bench.py (no CMake target, so the project build is untouched):
//   g++ -O2 -std=c++17 bench/gemm_bench.cpp -o gemm_bench -l:libblas.so.3 -l:libopenblas.so.0
//   gemm_bench --dims 784,512,256,128,10 --batch 128 --blas-threads 2 --steps 400 --warmup 40
// Prints one line of JSON: {"steps_per_s": ..., "gflops": ..., ...}.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
}

namespace {

// Row-major C[M,N] = op(A) op(B) through column-major sgemm: C^T = op(B)^T op(A)^T.
// a_t / b_t: whether the row-major operand is used transposed.
void gemm_rm(bool a_t, bool b_t, int M, int N, int K, const float* A, int lda, const float* B,
             int ldb, float* C, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  const char tb = b_t ? 'T' : 'N', ta = a_t ? 'T' : 'N';
  sgemm_(&tb, &ta, &N, &M, &K, &one, B, &ldb, A, &lda, &zero, C, &ldc);
}

std::vector<int> parse_dims(const std::string& s) {
  std::vector<int> out;
  std::size_t p = 0;
  while (p < s.size()) {
    std::size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    out.push_back(std::atoi(s.substr(p, q - p).c_str()));
    p = q + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dims_s = "784,512,256,128,10";
  int batch = 128, threads = 1, steps = 400, warmup = 40;
  bool first_input_grad = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gemm_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dims") dims_s = next();
    else if (a == "--batch") batch = std::atoi(next().c_str());
    else if (a == "--blas-threads") threads = std::atoi(next().c_str());
    else if (a == "--steps") steps = std::atoi(next().c_str());
    else if (a == "--warmup") warmup = std::atoi(next().c_str());
    else if (a == "--first-input-grad") first_input_grad = true;
    else {
      std::fprintf(stderr, "gemm_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  openblas_set_num_threads(threads);
  const std::vector<int> dims = parse_dims(dims_s);
  const int L = static_cast<int>(dims.size()) - 1;
  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto randv = [&](std::size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
  };
  std::vector<std::vector<float>> x(L), w(L), y(L), dy(L), dx(L), dw(L);
  double flops = 0;
  for (int l = 0; l < L; ++l) {
    const int in = dims[l], out = dims[l + 1];
    x[l] = randv(std::size_t(batch) * in);
    w[l] = randv(std::size_t(out) * in);
    dy[l] = randv(std::size_t(batch) * out);
    y[l].assign(std::size_t(batch) * out, 0.f);
    dx[l].assign(std::size_t(batch) * in, 0.f);
    dw[l].assign(std::size_t(out) * in, 0.f);
    const double mac = double(batch) * in * out;
    flops += 2 * mac * ((l == 0 && !first_input_grad) ? 2 : 3);
  }
  auto one_step = [&]() {
    for (int l = 0; l < L; ++l) {  // forward
      const int in = dims[l], out = dims[l + 1];
      gemm_rm(false, true, batch, out, in, x[l].data(), in, w[l].data(), in, y[l].data(), out);
    }
    for (int l = L - 1; l >= 0; --l) {  // backward, in autograd's order
      const int in = dims[l], out = dims[l + 1];
      if (l > 0 || first_input_grad)
        gemm_rm(false, false, batch, in, out, dy[l].data(), out, w[l].data(), in, dx[l].data(), in);
      gemm_rm(true, false, out, in, batch, dy[l].data(), out, x[l].data(), in, dw[l].data(), in);
    }
  };
  for (int s = 0; s < warmup; ++s) one_step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) one_step();
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"steps_per_s\": %.3f, \"gflops\": %.3f, \"flop_per_step\": %.0f, \"blas_threads\": %d, "
      "\"steps\": %d, \"first_input_grad\": %s}\n",
      steps / t, flops * steps / t / 1e9, flops, openblas_get_num_threads(), steps,
      first_input_grad ? "true" : "false");
  return 0;
}
