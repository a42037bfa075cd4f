#pragma once
/// \file
/// Process-wide settings that training and probing speed depend on: thread pools (libtorch's
/// intra-op pool, OpenBLAS's own threads) and glibc's heap policy, plus the BLAS's description
/// for run files.

#include <cstdint>
#include <string>
#include <utility>

namespace bnl::train {

/// Sets libtorch's intra-op threads and OpenBLAS's own thread count (libtorch does not set
/// the latter) for n threads in all (n <= 0: the available cores): {1, n} for models whose
/// time is in BLAS products (the MLP), {n, 1} for `convolutional` ones (ConvMLP, VGG), whose
/// convolutions run on the intra-op pool. Returns {intra_op_threads, blas_threads}.
std::pair<int, int> configure_threads(std::int64_t n, bool convolutional = false);

/// Keeps memory freed by the process in glibc's heap instead of unmapping it (mmap and trim
/// thresholds of 1 GiB), so that tensors of the same sizes, allocated every step, are not
/// page-faulted in again each time. Process-wide; called once before training or probing.
void configure_allocator();

/// "OpenBLAS <config>" when OpenBLAS is the loaded BLAS, else "unknown".
std::string blas_description();

}  // namespace bnl::train
