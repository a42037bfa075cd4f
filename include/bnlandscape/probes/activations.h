#pragma once
/// \file
/// Activation distributions (the original study's activation notebook; Santurkar et al. 2018,
/// section 2 and Figure 2): histograms on fixed bins and summary statistics of every hidden
/// layer's outputs before normalisation, after it, and after the ReLU, recorded on a fixed
/// batch in training mode without changing the model.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace bnl::models {
class Classifier;
}  // namespace bnl::models

namespace bnl::probes {

/// Quantile levels of ActivationSummary::quantiles: 1, 5, 25, 50, 75, 95, 99 %.
inline constexpr std::array<double, 7> kActivationQuantiles{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};

/// A histogram range [lo, hi] split into equal bins.
struct HistogramRange {
  double lo = 0;
  double hi = 1;
};

/// Statistics of one set of values.
struct ActivationSummary {
  /// Counts per bin: bin b holds lo + b w <= v < lo + (b + 1) w, w = (hi - lo) / bins; the last
  /// bin also holds v == hi.
  std::vector<double> hist;
  double underflow = 0;  ///< values < lo (and -inf)
  double overflow = 0;   ///< values > hi (and +inf and NaN)
  double mean = 0;
  double std = 0;  ///< population standard deviation (divides by n)
  /// At kActivationQuantiles, by linear interpolation between order statistics (numpy's default).
  std::array<double, 7> quantiles{};
  double zero_fraction = 0;  ///< fraction of values exactly 0 (ReLU outputs switched off)
  std::int64_t count = 0;    ///< number of values
};

/// Quantile q in [0, 1] of sorted values (ascending, 1-D), linear interpolation at q (n - 1).
double sorted_quantile(const torch::Tensor& sorted, double q);

/// The range a site's histogram keeps for the whole run: the 0.5 % and 99.5 % quantiles of
/// `values`, widened by 25 % of their distance on each side (by 0.5 when they coincide).
HistogramRange initial_range(const torch::Tensor& values);

/// Summary of every value of `values` (any shape) on `bins` equal bins of `range`.
ActivationSummary summarize_activations(const torch::Tensor& values, const HistogramRange& range, std::int64_t bins);

/// bins + 1 equally spaced edges from range.lo to range.hi.
std::vector<double> bin_edges(const HistogramRange& range, std::int64_t bins);

/// One recorded output: hidden layer `layer` (its Linear or Conv module, e.g. "net.0") at
/// `site` ("pre_norm": that module's output; "post_norm": the normalisation layer's output,
/// noise included; "post_relu": the ReLU's output), produced by module `module`.
struct ActivationSite {
  std::string layer;
  std::string site;
  std::string module;
};

/// Records the activation sites of a model on a fixed batch.
class ActivationRecorder {
 public:
  /// Where a site's range comes from when it is not taken from the first snapshot (a resumed
  /// run's stored bin edges); returns nothing to use the first snapshot.
  using RangeLookup = std::function<std::optional<HistogramRange>(const ActivationSite&)>;

  /// `x` is the fixed batch [B, C, H, W] (B >= 2 when the model normalises over the batch);
  /// `range`, when set, replaces every site's first-snapshot range; `lookup`, when set, is
  /// asked first for each site.
  ActivationRecorder(models::Classifier& model, torch::Tensor x, std::int64_t bins,
                     std::optional<HistogramRange> range, RangeLookup lookup = nullptr);

  /// Runs the model on the fixed batch in training mode (batch statistics, noisy BN as in
  /// training) and summarises every site. Leaves the model as it found it: mode, parameters,
  /// buffers (running statistics) and the BN noise generator's state. The first call fixes
  /// the sites and the ranges.
  std::vector<ActivationSummary> record();

  /// The hidden layers' sites in forward order (known after the first record()).
  const std::vector<ActivationSite>& sites() const { return sites_; }
  /// Histogram range per site (known after the first record()).
  const std::vector<HistogramRange>& ranges() const { return ranges_; }
  std::int64_t bins() const { return bins_; }

 private:
  models::Classifier& model_;
  torch::Tensor x_;
  std::int64_t bins_;
  std::optional<HistogramRange> fixed_range_;
  RangeLookup lookup_;
  std::vector<ActivationSite> sites_;
  std::vector<HistogramRange> ranges_;
};

}  // namespace bnl::probes
