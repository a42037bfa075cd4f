#include "bnlandscape/train/sgd_step.h"

#include <algorithm>
#include <limits>

#include <torch/utils.h>

#include "bnlandscape/train/blas.h"

namespace bnl::train {
namespace {

// BLAS takes int lengths; a longer vector goes through in pieces.
constexpr std::int64_t kMaxBlasLength = std::numeric_limits<int>::max();

bool blas_float(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat32 && t.is_contiguous() && t.device().is_cpu();
}

}  // namespace

double squared_norm(const torch::Tensor& t) {
  if (!t.defined() || t.numel() == 0) return 0.0;
  const auto& l = cblas();
  if (l.sdot && blas_float(t)) {
    const float* x = t.data_ptr<float>();
    double sum = 0;
    for (std::int64_t b = 0; b < t.numel(); b += kMaxBlasLength) {
      const int n = static_cast<int>(std::min(kMaxBlasLength, t.numel() - b));
      sum += static_cast<double>(l.sdot(n, x + b, 1, x + b, 1));
    }
    return sum;
  }
  torch::NoGradGuard no_grad;
  const auto flat = t.detach().reshape(-1);
  return at::dot(flat, flat).item<double>();
}

void plain_sgd_update(const std::vector<torch::Tensor>& params, double lr) {
  torch::NoGradGuard no_grad;
  const auto& l = cblas();
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    TORCH_CHECK(g.sizes() == p.sizes(), "plain_sgd_update: expected a gradient of shape ", p.sizes(),
                ", got ", g.sizes());
    if (l.saxpy && blas_float(p) && blas_float(g)) {
      // Written through the pointer, as torch's optimizers write through .data(): the update is
      // not part of any graph.
      const float* gx = g.data_ptr<float>();
      float* wy = p.data_ptr<float>();
      for (std::int64_t b = 0; b < p.numel(); b += kMaxBlasLength) {
        const int n = static_cast<int>(std::min(kMaxBlasLength, p.numel() - b));
        l.saxpy(n, static_cast<float>(-lr), gx + b, 1, wy + b, 1);
      }
    } else {
      p.detach().add_(g, -lr);
    }
  }
}

bool is_plain_sgd(const TrainConfig& config) {
  return optimizer_kind(config) != Optimizer::adam && config.momentum == 0.0 && config.weight_decay == 0.0;
}

}  // namespace bnl::train
