#pragma once
/// \file
/// The device a run computes on (--device) and what the run file records about it.

#include <string>

#include <torch/types.h>

namespace bnl::train {

/// Resolves --device: "cpu" -> CPU; "cuda" -> cuda:0, or ConfigError (exit 2) when
/// torch::cuda::is_available() is false (a CPU-only libtorch such as Debian's, or no GPU);
/// "auto" -> cuda:0 when available, else CPU. Anything else is a ConfigError.
torch::Device resolve_device(const std::string& name);

/// The device's name: the CPU's "model name" from /proc/cpuinfo (or "cpu"), or the CUDA
/// device's name (with a CUDA-enabled libtorch; "cuda:N" otherwise).
std::string device_name(const torch::Device& device);

/// The libtorch build: "libtorch 1.13.0, CUDA no", or with CUDA compiled in
/// "libtorch 2.1.0, CUDA yes (runtime 12010)".
std::string torch_build();

}  // namespace bnl::train
