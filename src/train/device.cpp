#include "bnlandscape/train/device.h"

#include <fstream>

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "bnlandscape/train/config.h"

#ifdef BNL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace bnl::train {

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name == "auto") {
    if (torch::cuda::is_available()) return {torch::kCUDA, 0};
    if (name == "auto") return torch::kCPU;
    throw ConfigError(
        "--device cuda: this build of libtorch has no CUDA (torch::cuda::is_available() is false); "
        "use --device cpu or auto, or build against a CUDA-enabled libtorch (README, \"Devices\")");
  }
  throw ConfigError("--device = \"" + name + "\": expected cpu | cuda | auto");
}

std::string device_name(const torch::Device& device) {
  if (device.is_cuda()) {
#ifdef BNL_WITH_CUDA
    return at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0)->name;
#else
    return device.str();
#endif
  }
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto b = line.find_first_not_of(" \t", colon + 1);
    if (b != std::string::npos) return line.substr(b);
  }
  return "cpu";
}

std::string torch_build() {
  const auto& hooks = at::detail::getCUDAHooks();
  std::string s = std::string("libtorch ") + TORCH_VERSION + ", CUDA ";
  if (!hooks.hasCUDART()) return s + "no";
  return s + "yes (runtime " + std::to_string(hooks.versionCUDART()) + ")";
}

}  // namespace bnl::train
