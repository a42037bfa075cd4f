#include "bnlandscape/train/process_tuning.h"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace bnl::train {

std::pair<int, int> configure_threads(std::int64_t n, bool convolutional) {
  // Measured on 2 cores (README, "Speed"): libtorch's intra-op OpenMP pool and OpenBLAS's own
  // pthreads oversubscribe the cores when both are > 1. The MLP's time is in BLAS products:
  // one intra-op thread and n BLAS threads. Convolutions run in libtorch's own kernels (oneDNN,
  // im2col) on the intra-op pool: n intra-op threads and one BLAS thread, 1.4-1.8x faster for
  // VGG and the ConvMLP (bench/RESULTS.md).
  const int cores = static_cast<int>(std::max<std::int64_t>(1, n > 0 ? n : std::thread::hardware_concurrency()));
  const int intra = convolutional ? cores : 1;
  const int blas = convolutional ? 1 : cores;
  at::set_num_threads(intra);
  using SetThreads = void (*)(int);
  if (auto* f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(blas);
  return {intra, blas};
}

void configure_allocator() {
  // glibc serves blocks above its mmap threshold (128 KiB at start, raised only up to a freed
  // block's size) with fresh mappings and gives freed heap tops back to the system, so every
  // step's activations and every probe's parameter-sized vectors were page-faulted in anew:
  // 26-45% of a probe run's or the ConvMLP's samples were in the kernel's page-fault path
  // (bench/RESULTS.md). Keeping freed memory in the heap costs the peak working set, which the
  // next step needs again anyway.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

std::string blas_description() {
  using GetConfig = char* (*)();
  if (auto* f = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    const char* c = f();
    return std::string("OpenBLAS ") + (c ? c : "");
  }
  return "unknown";
}

}  // namespace bnl::train
