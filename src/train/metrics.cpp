#include "bnlandscape/train/metrics.h"

#include <cmath>

namespace bnl::train {
namespace {

// A NaN is the largest value, as in at::argmax; ties go to the first index.
template <typename T>
std::int64_t count_correct(const T* v, const std::int64_t* labels, std::int64_t n, std::int64_t k) {
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const T* row = v + i * k;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j) {
      if (std::isnan(row[best])) break;
      if (row[j] > row[best] || std::isnan(row[j])) best = j;
    }
    correct += best == labels[i];
  }
  return correct;
}

}  // namespace

double batch_accuracy(const torch::Tensor& logits, const torch::Tensor& y) {
  auto l = logits.detach().to(torch::kCPU).contiguous();
  if (l.scalar_type() != torch::kFloat32) l = l.to(torch::kFloat64);
  const auto labels = y.to(torch::kCPU, torch::kInt64).contiguous();
  TORCH_CHECK(l.dim() == 2 && labels.dim() == 1 && l.size(0) == labels.size(0),
              "batch_accuracy: expected logits [B, K] and labels [B], got ", l.sizes(), " and ", labels.sizes());
  const std::int64_t n = l.size(0), k = l.size(1);
  if (n == 0 || k == 0) return 0.0;
  const auto* t = labels.data_ptr<std::int64_t>();
  const std::int64_t correct = l.scalar_type() == torch::kFloat32
                                   ? count_correct(l.data_ptr<float>(), t, n, k)
                                   : count_correct(l.data_ptr<double>(), t, n, k);
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace bnl::train
