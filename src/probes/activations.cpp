#include "bnlandscape/probes/activations.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/norm_spec.h"
#include "state_guard.h"

namespace bnl::probes {

double sorted_quantile(const torch::Tensor& sorted, double q) {
  const std::int64_t n = sorted.numel();
  TORCH_CHECK(n > 0, "sorted_quantile: expected at least one value, got none");
  const double pos = q * static_cast<double>(n - 1);
  const auto lo = static_cast<std::int64_t>(std::floor(pos));
  const std::int64_t hi = std::min(lo + 1, n - 1);
  const double a = sorted[lo].item<double>(), b = sorted[hi].item<double>();
  const double frac = pos - static_cast<double>(lo);
  return frac == 0 ? a : a + (b - a) * frac;
}

HistogramRange initial_range(const torch::Tensor& values) {
  const auto sorted = std::get<0>(values.detach().reshape(-1).to(torch::kFloat64).sort());
  const double lo = sorted_quantile(sorted, 0.005), hi = sorted_quantile(sorted, 0.995);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {-1.0, 1.0};
  const double width = hi - lo;
  if (!(width > 0)) return {lo - 0.5, hi + 0.5};
  return {lo - 0.25 * width, hi + 0.25 * width};
}

std::vector<double> bin_edges(const HistogramRange& range, std::int64_t bins) {
  std::vector<double> e(static_cast<std::size_t>(bins + 1));
  const double w = (range.hi - range.lo) / static_cast<double>(bins);
  for (std::int64_t i = 0; i <= bins; ++i) e[i] = range.lo + w * static_cast<double>(i);
  e[bins] = range.hi;
  return e;
}

ActivationSummary summarize_activations(const torch::Tensor& values, const HistogramRange& range, std::int64_t bins) {
  TORCH_CHECK(bins >= 1, "summarize_activations: expected bins >= 1, got ", bins);
  TORCH_CHECK(range.lo < range.hi, "summarize_activations: expected lo < hi, got [", range.lo, ", ", range.hi, "]");
  torch::NoGradGuard no_grad;
  const auto v = values.detach().reshape(-1).to(torch::kFloat64);
  ActivationSummary s;
  s.count = v.numel();
  s.hist.assign(static_cast<std::size_t>(bins), 0.0);
  if (s.count == 0) {
    s.mean = s.std = s.zero_fraction = std::nan("");
    s.quantiles.fill(std::nan(""));
    return s;
  }
  const auto below = v < range.lo;
  const auto above = (v > range.hi).logical_or(v.isnan());
  s.underflow = below.sum().item<double>();
  s.overflow = above.sum().item<double>();
  const auto inside = v.masked_select(below.logical_or(above).logical_not());
  if (inside.numel() > 0) {
    const double w = (range.hi - range.lo) / static_cast<double>(bins);
    const auto idx = ((inside - range.lo) / w).floor().clamp(0, static_cast<double>(bins - 1)).to(torch::kInt64);
    const auto counts = torch::bincount(idx, {}, bins).to(torch::kFloat64).contiguous();
    const double* c = counts.data_ptr<double>();
    for (std::int64_t b = 0; b < bins; ++b) s.hist[b] = c[b];
  }
  s.mean = v.mean().item<double>();
  s.std = v.std(/*unbiased=*/false).item<double>();
  const auto sorted = std::get<0>(v.sort());
  for (std::size_t i = 0; i < kActivationQuantiles.size(); ++i) s.quantiles[i] = sorted_quantile(sorted, kActivationQuantiles[i]);
  s.zero_fraction = v.eq(0).sum().item<double>() / static_cast<double>(s.count);
  return s;
}

ActivationRecorder::ActivationRecorder(models::Classifier& model, torch::Tensor x, std::int64_t bins,
                                       std::optional<HistogramRange> range, RangeLookup lookup)
    : model_(model), x_(std::move(x)), bins_(bins), fixed_range_(range), lookup_(std::move(lookup)) {
  TORCH_CHECK(bins_ >= 1, "ActivationRecorder: expected bins >= 1, got ", bins_);
}

std::vector<ActivationSummary> ActivationRecorder::record() {
  torch::NoGradGuard no_grad;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto& item : model_.named_modules("", /*include_self=*/false)) modules.emplace(item.key(), item.value());

  std::vector<std::pair<ActivationSite, torch::Tensor>> found;
  {
    detail::TrainingStateGuard guard(model_);
    // Outputs by site in forward order; a Linear/Conv opens a hidden layer, its ReLU closes it.
    std::string open_layer;
    model_.forward_recorded(x_, [&](const std::string& name, const torch::Tensor& out) {
      const auto it = modules.find(name);
      if (it == modules.end()) return;
      const auto& m = *it->second;
      if (m.as<torch::nn::LinearImpl>() || m.as<torch::nn::Conv2dImpl>()) {
        open_layer = name;
        found.push_back({{name, "pre_norm", name}, out.detach().clone()});
      } else if (!open_layer.empty() && models::is_norm_layer(m)) {
        found.push_back({{open_layer, "post_norm", name}, out.detach().clone()});
      } else if (!open_layer.empty() && m.as<torch::nn::ReLUImpl>()) {
        found.push_back({{open_layer, "post_relu", name}, out.detach().clone()});
        open_layer.clear();
      }
    });
  }

  // Only hidden layers: the output layer opens a layer that no ReLU closes.
  std::vector<std::string> hidden;
  for (const auto& [site, t] : found)
    if (site.site == "post_relu") hidden.push_back(site.layer);
  std::vector<std::pair<ActivationSite, torch::Tensor>> kept;
  for (auto& f : found)
    if (std::find(hidden.begin(), hidden.end(), f.first.layer) != hidden.end()) kept.push_back(std::move(f));

  if (sites_.empty()) {
    for (const auto& [site, t] : kept) {
      sites_.push_back(site);
      std::optional<HistogramRange> stored;
      if (lookup_) stored = lookup_(site);
      ranges_.push_back(stored ? *stored : fixed_range_ ? *fixed_range_ : initial_range(t));
    }
  }
  TORCH_CHECK(kept.size() == sites_.size(), "ActivationRecorder: expected ", sites_.size(), " sites, got ",
              kept.size(), " (the model changed between snapshots)");
  std::vector<ActivationSummary> out;
  out.reserve(kept.size());
  for (std::size_t i = 0; i < kept.size(); ++i) out.push_back(summarize_activations(kept[i].second, ranges_[i], bins_));
  return out;
}

}  // namespace bnl::probes
